import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ReadBufferPool } from "../src/fuse/read_buffers.js";

test("a READ buffer is lent to one taker at a time and kept only up to the limit", () => {
  // model: the buffers currently lent; a take must never return one of them
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.record({ take: fc.integer({ min: 1, max: 5000 }) }), fc.record({ give: fc.nat() })), { maxLength: 60 }), (ops) => {
      const pool = new ReadBufferPool(4096, 3);
      const lent: Buffer[] = [];
      for (const o of ops) {
        if ("take" in o) {
          const b = pool.take(o.take);
          assert.ok(b.length >= o.take);
          assert.ok(!lent.includes(b), "a buffer lent twice");
          lent.push(b);
        } else if (lent.length > 0) {
          const [b] = lent.splice(o.give % lent.length, 1);
          pool.give(b!);
        }
        assert.ok(pool.freeCount <= 3);
      }
    }),
  );
});

test("a given-back buffer is the next one taken; oversized ones are not kept", () => {
  const pool = new ReadBufferPool(4096, 2);
  const a = pool.take(100);
  assert.equal(a.length, 4096);
  pool.give(a);
  assert.equal(pool.take(4096), a);
  const big = pool.take(5000);
  assert.equal(big.length, 5000);
  pool.give(big);
  assert.equal(pool.freeCount, 0);
});

/** a scheduler whose timers run only when the test says so */
class ManualTimers {
  pending: { fn: () => void; cancelled: boolean }[] = [];
  schedule = (fn: () => void): (() => void) => {
    const t = { fn, cancelled: false };
    this.pending.push(t);
    return () => (t.cancelled = true);
  };
  live(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }
  /** run the timers due now (those scheduled by them wait for the next call) */
  fire(): void {
    const due = this.pending.filter((t) => !t.cancelled);
    this.pending = [];
    for (const t of due) t.fn();
  }
}

test("an idle pool drops its free buffers beyond the idle count; a take meanwhile puts that off", () => {
  const timers = new ManualTimers();
  const pool = new ReadBufferPool(4096, 8, { keep: 2, ms: 10_000, schedule: timers.schedule });
  const lent = Array.from({ length: 6 }, () => pool.take(4096));
  for (const b of lent) pool.give(b);
  assert.equal(pool.freeCount, 6);
  assert.equal(timers.live(), 1, "one idle check, however many gives");
  // a READ came meanwhile: not idle, checked again later
  pool.give(pool.take(4096));
  timers.fire();
  assert.equal(pool.freeCount, 6);
  assert.equal(timers.live(), 1);
  timers.fire();
  assert.equal(pool.freeCount, 2);
  assert.equal(timers.live(), 0, "nothing left to trim, nothing scheduled");
  // the kept ones are still reused
  const again = pool.take(4096);
  assert.ok(lent.includes(again));
  pool.give(again);
  assert.equal(timers.live(), 0, "at the idle count no check is needed");
  pool.stop();
});

test("idle trimming: never more than keep free, one check pending at most, idle.keep free after a quiet interval", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant("take" as const), fc.constant("give" as const), fc.constant("fire" as const)), { maxLength: 80 }),
      (ops) => {
        const timers = new ManualTimers();
        const pool = new ReadBufferPool(4096, 5, { keep: 1, ms: 1, schedule: timers.schedule });
        const lent: Buffer[] = [];
        let takesSinceFire = 0;
        for (const o of ops) {
          if (o === "take") {
            lent.push(pool.take(4096));
            takesSinceFire++;
          } else if (o === "give") {
            const b = lent.pop();
            if (b) pool.give(b);
          } else {
            const hadCheck = timers.live() > 0;
            timers.fire();
            // a check that saw no take since it was scheduled leaves at most idle.keep free
            if (hadCheck && takesSinceFire === 0) assert.ok(pool.freeCount <= 1, `free ${pool.freeCount} after a quiet check`);
            takesSinceFire = 0;
          }
          assert.ok(pool.freeCount <= 5);
          assert.ok(timers.live() <= 1, "two idle checks pending");
          // more than idle.keep free always has a check coming
          if (pool.freeCount > 1) assert.equal(timers.live(), 1, "free buffers beyond the idle count with no check pending");
        }
      },
    ),
  );
});
