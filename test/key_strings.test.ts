/*
 * The item cache files keys under their latin1 strings (src/item/key_strings.ts):
 * the strings must order exactly as the keys do, convert back to the
 * same bytes, and step up and down as keyInc/keyDec step the keys.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KEY_BYTES, KEY_MAX, KEY_MIN, keyDec, keyInc } from "../src/format/key.js";
import { keyLatin1, latin1Key, stringCompare, stringDec, stringInc } from "../src/item/key_strings.js";

const sign = (x: number) => (x < 0 ? -1 : x > 0 ? 1 : 0);
// bytes biased to the edges, where carries and high code units happen
const edgyByte = fc.oneof(fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff), fc.integer({ min: 0, max: 255 }));
const key = fc.array(edgyByte, { minLength: KEY_BYTES, maxLength: KEY_BYTES }).map((a) => Buffer.from(a));

test("key strings order as Buffer.compare orders the keys and convert back", () => {
  fc.assert(
    fc.property(key, key, (a, b) => {
      assert.equal(sign(stringCompare(keyLatin1(a), keyLatin1(b))), sign(Buffer.compare(a, b)));
      assert.equal(keyLatin1(a).length, KEY_BYTES);
      assert.ok(latin1Key(keyLatin1(a)).equals(a));
    }),
    { numRuns: 3000 },
  );
});

test("stringInc and stringDec agree with keyInc and keyDec", () => {
  fc.assert(
    fc.property(key, (k) => {
      if (!k.equals(KEY_MAX)) assert.equal(stringInc(keyLatin1(k)), keyLatin1(keyInc(k)));
      if (!k.equals(KEY_MIN)) assert.equal(stringDec(keyLatin1(k)), keyLatin1(keyDec(k)));
    }),
    { numRuns: 3000 },
  );
  assert.throws(() => stringInc(keyLatin1(KEY_MAX)), RangeError);
  assert.throws(() => stringDec(keyLatin1(KEY_MIN)), RangeError);
  assert.equal(stringInc(keyLatin1(KEY_MIN)), keyLatin1(keyInc(KEY_MIN)));
});
