/*
 * bytesCompare (src/util/sorted_map.ts) against Buffer.compare: the item
 * cache's maps rely on the two ordering every pair of keys the same way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesCompare } from "../src/util/sorted_map.js";
import { KEY_BYTES, KEY_MAX, KEY_MIN, keyDec, keyInc, makeKey } from "../src/format/key.js";

const sign = (x: number) => (x < 0 ? -1 : x > 0 ? 1 : 0);

test("bytesCompare orders as Buffer.compare: random bytes of any length", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
      assert.equal(sign(bytesCompare(a, b)), sign(Buffer.compare(a, b)));
    }),
    { numRuns: 5000 },
  );
});

test("bytesCompare orders as Buffer.compare: keys differing in one byte, neighbours, bounds", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: KEY_BYTES, maxLength: KEY_BYTES }),
      fc.integer({ min: 0, max: KEY_BYTES - 1 }),
      fc.integer({ min: 0, max: 255 }),
      (raw, at, v) => {
        const a = Buffer.from(raw);
        const b = Buffer.from(raw);
        b[at] = v;
        assert.equal(sign(bytesCompare(a, b)), sign(Buffer.compare(a, b)));
        if (!a.equals(KEY_MAX)) assert.equal(bytesCompare(a, keyInc(a)), -1);
        if (!a.equals(KEY_MIN)) assert.equal(bytesCompare(a, keyDec(a)), 1);
      },
    ),
    { numRuns: 5000 },
  );
  assert.equal(bytesCompare(KEY_MIN, KEY_MAX), -1);
  assert.equal(bytesCompare(KEY_MAX, KEY_MAX), 0);
  // the high bit of a word must not make it negative
  assert.equal(bytesCompare(makeKey(0x80, 0), makeKey(0x7f, 2 ** 53 - 1)), 1);
});

test("makeKey writes number fields exactly as bigint fields, and refuses unsafe numbers", () => {
  const u53 = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), u53, u53, u53, (zone, a, b, c) => {
      const byNumber = makeKey(zone, a, 3, b, c, 9);
      const byBigint = makeKey(zone, BigInt(a), 3, BigInt(b), BigInt(c), 9);
      assert.ok(byNumber.equals(byBigint));
    }),
    { numRuns: 2000 },
  );
  for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) assert.throws(() => makeKey(1, bad), RangeError);
});
