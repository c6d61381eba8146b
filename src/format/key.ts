/*
 * Keys: every item in every btree is addressed by one key shape,
 *
 *     zone u8 | first u64 | type u8 | second u64 | third u64 | fourth u8
 *
 * compared field by field.  We store a key as a 27 byte big-endian
 * Buffer so that the field-wise order is exactly the byte order: a key
 * compare is one memcmp (Buffer.compare) on the hot paths of the btree
 * and the item cache, and a key needs no decoding to be sorted.
 *
 * u64 fields are given as numbers (exact up to 2^53, which covers inode
 * numbers, sequence numbers and block numbers in practice) or as bigints
 * where the full range matters (e.g. the all-ones "last" key of a walk).
 *
 * Invariants: a Key is exactly KEY_BYTES long and is never mutated once
 * made (functions that need a neighbour return a new Buffer).
 */
import { bytesCompare } from "../util/sorted_map.js";

export type Key = Buffer;

export const KEY_BYTES = 27;
const OFF_ZONE = 0;
const OFF_FIRST = 1;
const OFF_TYPE = 9;
const OFF_SECOND = 10;
const OFF_THIRD = 18;
const OFF_FOURTH = 26;

export type U64 = number | bigint;

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** Write a u64 big-endian; numbers must be safe non-negative integers. */
export function writeU64BE(buf: Buffer, off: number, v: U64): void {
  if (typeof v === "bigint") {
    // the all-ones field of a walk's last key is the usual bigint: eight stores, no BigInt
    // conversion (and no call of fill(), whose checks cost more than the stores)
    if (v === U64_MAX) for (let i = off; i < off + 8; i++) buf[i] = 0xff;
    else buf.writeBigUInt64BE(v, off);
    return;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
  // byte by byte: every key is made here, and a writeUInt32BE call costs more than four stores
  const lo = v % 0x1_0000_0000;
  const hi = (v - lo) / 0x1_0000_0000;
  buf[off] = hi >>> 24;
  buf[off + 1] = (hi >>> 16) & 0xff;
  buf[off + 2] = (hi >>> 8) & 0xff;
  buf[off + 3] = hi & 0xff;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = (lo >>> 16) & 0xff;
  buf[off + 6] = (lo >>> 8) & 0xff;
  buf[off + 7] = lo & 0xff;
}

/** Read a u64 big-endian as a number; throws if it does not fit exactly. */
export function readU64BE(buf: Buffer, off: number): number {
  const hi = buf.readUInt32BE(off);
  const lo = buf.readUInt32BE(off + 4);
  if (hi >= 0x20_0000) {
    // beyond 2^53: only legal for sentinel values, callers use readU64BEBig
    return Number.MAX_SAFE_INTEGER;
  }
  // hi 0: lo itself, a small integer where hi * 2^32 + lo would be a boxed double (fs_items getU64)
  return hi === 0 ? lo : hi * 0x1_0000_0000 + lo;
}

export function makeKey(zone: number, first: U64 = 0, type = 0, second: U64 = 0, third: U64 = 0, fourth = 0): Key {
  const k = Buffer.allocUnsafe(KEY_BYTES);
  k[OFF_ZONE] = zone;
  writeU64BE(k, OFF_FIRST, first);
  k[OFF_TYPE] = type;
  writeU64BE(k, OFF_SECOND, second);
  writeU64BE(k, OFF_THIRD, third);
  k[OFF_FOURTH] = fourth;
  return k;
}

export interface KeyFields {
  zone: number;
  first: bigint;
  type: number;
  second: bigint;
  third: bigint;
  fourth: number;
}

export function keyFields(k: Key): KeyFields {
  return {
    zone: k[OFF_ZONE]!,
    first: k.readBigUInt64BE(OFF_FIRST),
    type: k[OFF_TYPE]!,
    second: k.readBigUInt64BE(OFF_SECOND),
    third: k.readBigUInt64BE(OFF_THIRD),
    fourth: k[OFF_FOURTH]!,
  };
}

export const keyZone = (k: Key): number => k[OFF_ZONE]!;
export const keyType = (k: Key): number => k[OFF_TYPE]!;
export const keyFirst = (k: Key): number => readU64BE(k, OFF_FIRST);
export const keySecond = (k: Key): number => readU64BE(k, OFF_SECOND);
export const keyThird = (k: Key): number => readU64BE(k, OFF_THIRD);
export const keyFourth = (k: Key): number => k[OFF_FOURTH]!;

/** Buffer.compare's order, in JS (a call into C++ per compare costs more than the compare) */
export function keyCompare(a: Key, b: Key): number {
  return bytesCompare(a, b);
}

export const KEY_MIN: Key = Buffer.alloc(KEY_BYTES, 0);
export const KEY_MAX: Key = Buffer.alloc(KEY_BYTES, 0xff);

/** The smallest key greater than k (k must not be KEY_MAX). */
export function keyInc(k: Key): Key {
  const n = Buffer.from(k);
  for (let i = KEY_BYTES - 1; i >= 0; i--) {
    if (n[i] !== 0xff) {
      n[i]!++;
      return n;
    }
    n[i] = 0;
  }
  throw new RangeError("keyInc past KEY_MAX");
}

/** The greatest key smaller than k (k must not be KEY_MIN). */
export function keyDec(k: Key): Key {
  const n = Buffer.from(k);
  for (let i = KEY_BYTES - 1; i >= 0; i--) {
    if (n[i] !== 0) {
      n[i]!--;
      return n;
    }
    n[i] = 0xff;
  }
  throw new RangeError("keyDec past KEY_MIN");
}

export function keyString(k: Key): string {
  const f = keyFields(k);
  return `${f.zone}.${f.first}.${f.type}.${f.second}.${f.third}.${f.fourth}`;
}
