/*
 * Keys (src/format/key.ts): makeKey writes each field big-endian at its
 * place, whether a u64 comes as a number or as a bigint (the all-ones
 * field of a walk's last key takes a path of its own), and keyFields
 * reads the same fields back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KEY_BYTES, U64_MAX, keyFields, makeKey } from "../src/format/key.js";

const u64 = fc.oneof(
  fc.constant(U64_MAX),
  fc.constant(U64_MAX - 1n),
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
);

test("makeKey writes every field big-endian, from a number or a bigint, and keyFields reads them back", () => {
  fc.assert(
    fc.property(fc.nat(255), u64, fc.nat(255), u64, u64, fc.nat(255), fc.boolean(), (zone, first, type, second, third, fourth, asNumbers) => {
      // a safe u64 may come as a number: the same bytes
      const arg = (v: bigint) => (asNumbers && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
      const k = makeKey(zone, arg(first), type, arg(second), arg(third), fourth);
      const want = Buffer.alloc(KEY_BYTES);
      want[0] = zone;
      want.writeBigUInt64BE(first, 1);
      want[9] = type;
      want.writeBigUInt64BE(second, 10);
      want.writeBigUInt64BE(third, 18);
      want[26] = fourth;
      assert.deepEqual(k, want);
      assert.deepEqual(keyFields(k), { zone, first, type, second, third, fourth });
    }),
    { numRuns: 1000 },
  );
});

test("makeKey refuses a u64 that is not a safe non-negative integer", () => {
  assert.throws(() => makeKey(1, -1), RangeError);
  assert.throws(() => makeKey(1, 2 ** 53), RangeError);
  assert.throws(() => makeKey(1, 0.5), RangeError);
});
