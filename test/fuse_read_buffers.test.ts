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
