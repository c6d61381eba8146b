/*
 * InodeLocks (src/fs/locks.ts): shared/exclusive grants, FIFO fairness,
 * and tryAcquire, which takes locks only when nothing would wait (the
 * unlink/rename path uses it to add the target inode while holding the
 * directory), checked against a simple model of who holds what.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { InodeLocks, excl, shared } from "../src/fs/locks.js";

const tick = () => new Promise<void>((r) => setImmediate(r));

test("tryAcquire takes free inodes and refuses held or contended ones without taking any", async () => {
  const locks = new InodeLocks();
  const relA = await locks.acquire(excl(5));
  assert.equal(locks.tryAcquire(excl(5)), undefined, "exclusive over exclusive");
  assert.equal(locks.tryAcquire(shared(5)), undefined, "shared over exclusive");
  assert.equal(locks.tryAcquire(excl(3, 5)), undefined, "one busy inode refuses the set");
  assert.equal(locks.active, 1, "a refused set takes nothing");
  const relB = locks.tryAcquire(excl(3));
  assert.ok(relB, "a free inode is taken, whatever is held (3 < 5)");
  relB();
  relA();
  assert.equal(locks.active, 0);

  const r1 = await locks.acquire(shared(7));
  const r2 = locks.tryAcquire(shared(7));
  assert.ok(r2, "shared over shared");
  // an exclusive waiter queues: later shared requests must wait behind it, tryAcquire refuses
  let exclGranted = false;
  const waiting = locks.acquire(excl(7)).then((rel) => {
    exclGranted = true;
    return rel;
  });
  await tick();
  assert.equal(exclGranted, false);
  assert.equal(locks.tryAcquire(shared(7)), undefined, "queued writer is not overtaken");
  r1();
  r2();
  const rel = await waiting;
  assert.equal(exclGranted, true);
  rel();
  assert.equal(locks.active, 0);
});

test("concurrent acquire and tryAcquire never grant conflicting locks (model check)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          inos: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
          excl: fc.boolean(),
          tryFirst: fc.boolean(),
          hold: fc.integer({ min: 0, max: 3 }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      async (ops) => {
        const locks = new InodeLocks();
        const writers = new Map<number, number>();
        const readers = new Map<number, number>();
        const enter = (inos: number[], ex: boolean) => {
          for (const i of new Set(inos)) {
            if (ex) {
              assert.equal(writers.get(i) ?? 0, 0, `two writers on ${i}`);
              assert.equal(readers.get(i) ?? 0, 0, `writer with readers on ${i}`);
              writers.set(i, 1);
            } else {
              assert.equal(writers.get(i) ?? 0, 0, `reader with a writer on ${i}`);
              readers.set(i, (readers.get(i) ?? 0) + 1);
            }
          }
        };
        const leave = (inos: number[], ex: boolean) => {
          for (const i of new Set(inos)) {
            if (ex) writers.set(i, 0);
            else readers.set(i, readers.get(i)! - 1);
          }
        };
        const run = async (op: (typeof ops)[number]) => {
          const reqs = op.excl ? excl(...op.inos) : shared(...op.inos);
          const release = (op.tryFirst && locks.tryAcquire(reqs)) || (await locks.acquire(reqs));
          enter(op.inos, op.excl);
          for (let i = 0; i < op.hold; i++) await tick();
          leave(op.inos, op.excl);
          release();
        };
        await Promise.all(ops.map(run));
        assert.equal(locks.active, 0, "every lock released");
      },
    ),
    { numRuns: 300 },
  );
});

test("an inode asked for twice is locked once, exclusively if either request is exclusive", async () => {
  const locks = new InodeLocks();
  for (const reqs of [
    [...shared(5), ...excl(5)],
    [...excl(5), ...shared(5)],
    [...shared(1), ...excl(5), ...shared(5)],
  ]) {
    const rel = locks.tryAcquire(reqs);
    assert.ok(rel);
    assert.equal(locks.tryAcquire(shared(5)), undefined, `${JSON.stringify(reqs)}: 5 is held exclusively`);
    rel();
    const relAwaited = await locks.acquire(reqs);
    assert.equal(locks.tryAcquire(shared(5)), undefined, `${JSON.stringify(reqs)} through acquire`);
    relAwaited();
    assert.equal(locks.active, 0, "released once, fully");
  }
  // twice shared stays shared: another reader gets in
  const rel = locks.tryAcquire([...shared(5), ...shared(5)])!;
  const other = locks.tryAcquire(shared(5));
  assert.ok(other);
  other();
  rel();
  assert.equal(locks.active, 0);
});
