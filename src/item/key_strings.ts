/*
 * Keys as latin1 strings, the form the item cache files them under.
 *
 * A key's latin1 string has one UTF-16 code unit per byte, equal to the
 * byte, so comparing the strings with < (code unit by code unit, then by
 * length) is exactly Buffer.compare's order of the keys.  The cache's
 * sorted maps walk a dozen or more compares per operation: a string
 * compare is one V8 builtin over one heap object, where a Buffer compare
 * in JS reads two objects and their separate backing stores a byte at a
 * time (measured: a get in a 300,000 item map costs about 40% less).
 *
 * Invariants: sign(stringCompare(keyLatin1(a), keyLatin1(b))) ===
 * sign(Buffer.compare(a, b)); stringInc/stringDec are keyInc/keyDec on
 * the strings (checked against them by test/key_strings.test.ts).
 */
import type { Key } from "../format/key.js";

export function keyLatin1(k: Key): string {
  return k.toString("latin1");
}

export function latin1Key(s: string): Key {
  return Buffer.from(s, "latin1");
}

export function stringCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** the smallest key string greater than s (s must not be all 0xff) */
export function stringInc(s: string): string {
  let i = s.length - 1;
  while (i >= 0 && s.charCodeAt(i) === 0xff) i--;
  if (i < 0) throw new RangeError("stringInc of the greatest key");
  return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) + 1) + "\0".repeat(s.length - 1 - i);
}

/** the greatest key string less than s (s must not be all zero) */
export function stringDec(s: string): string {
  let i = s.length - 1;
  while (i >= 0 && s.charCodeAt(i) === 0) i--;
  if (i < 0) throw new RangeError("stringDec of the least key");
  return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) - 1) + "\xff".repeat(s.length - 1 - i);
}
