/*
 * The items that scoutfs xattr tags keep outside the inode: their keys,
 * their values, and the rule for combining the delta items.
 *
 *   totl   (ZONE.xattrTotl, a, 0, b, c, 0)              -> TotlVal (16 bytes)
 *   indx   (ZONE.xattrIndx, major<<56 | minor>>8, minor & 0xff, ino, xattr id, 0) -> empty
 *   srch   (ZONE.xattrSrch, name hash, 0, ino, xattr id, 0) -> count i64 (8 bytes)
 *
 * Delta zones.  Items of the totl and srch zones are not versions that
 * replace each other but deltas that add up: a mount writes, without
 * reading or locking anything, how much a key changed in its
 * transaction; its log tree keeps the sum of its own deltas; a reader of
 * the forest adds the values of every tree (fs root and every log tree)
 * for a key; the log merge adds the merged deltas into the fs root's
 * value.  A sum that is all zero ("null") means no item: readers skip
 * it and the merge deletes it from the fs root.  Deletion items never
 * appear in delta zones.
 *
 *   totl value: total i64 at +0, count i64 at +8, little-endian two's
 *     complement (sums wrap at 64 bits as the original's do).  For
 *     scoutfs.totl.NAME.a.b.c xattrs: total is the sum of their values,
 *     count how many there are.
 *   srch value: count i64: +1 when a scoutfs.srch. xattr is created on
 *     (ino, id), -1 when it is removed.  A positive sum means the inode
 *     may have an xattr whose name has that hash.
 *
 * The indx key packs (major u8, minor u64, ino u64, xattr id u64) so that
 * key order is (major, minor, ino, id): first holds major and the high 56
 * bits of minor, type the low 8 bits of minor.
 */
import { makeKey, U64_MAX, type Key } from "./key.js";
import { ZONE } from "./constants.js";
import { FsError } from "../util/errors.js";

const MASK64 = (1n << 64n) - 1n;

/* ------------------------------------------------------------------ */
/* totl                                                                */

export type TotlName = readonly [bigint, bigint, bigint];

export interface TotlVal {
  total: bigint;
  count: bigint;
}

export const TOTL_VAL_BYTES = 16;

export const totlKey = (n: TotlName): Key => makeKey(ZONE.xattrTotl, n[0], 0, n[1], n[2], 0);
export const totlFirst = (): Key => makeKey(ZONE.xattrTotl, 0, 0);
export const totlLast = (): Key => makeKey(ZONE.xattrTotl, U64_MAX, 0xff, U64_MAX, U64_MAX, 0xff);

export function totlNameOfKey(k: Key): TotlName {
  return [k.readBigUInt64BE(1), k.readBigUInt64BE(10), k.readBigUInt64BE(18)];
}

export function encodeTotl(v: TotlVal): Buffer {
  const b = Buffer.alloc(TOTL_VAL_BYTES);
  b.writeBigInt64LE(BigInt.asIntN(64, v.total), 0);
  b.writeBigInt64LE(BigInt.asIntN(64, v.count), 8);
  return b;
}

export function decodeTotl(b: Buffer): TotlVal {
  if (b.length < TOTL_VAL_BYTES) throw new FsError("EIO", `totl value of ${b.length} bytes`);
  return { total: b.readBigInt64LE(0), count: b.readBigInt64LE(8) };
}

/* ------------------------------------------------------------------ */
/* indx                                                                */

export interface IndxPos {
  major: number;
  minor: bigint;
  ino: bigint;
  xid: bigint;
}

export function indxKey(p: IndxPos): Key {
  const first = (BigInt(p.major & 0xff) << 56n) | (p.minor >> 8n);
  return makeKey(ZONE.xattrIndx, first, Number(p.minor & 0xffn), p.ino & MASK64, p.xid & MASK64, 0);
}

export function indxPosOfKey(k: Key): IndxPos {
  const first = k.readBigUInt64BE(1);
  return {
    major: Number(first >> 56n),
    minor: ((first << 8n) & MASK64) | BigInt(k[9]!),
    ino: k.readBigUInt64BE(10),
    xid: k.readBigUInt64BE(18),
  };
}

export const indxFirst = (): Key => makeKey(ZONE.xattrIndx, 0, 0);
export const indxLast = (): Key => makeKey(ZONE.xattrIndx, U64_MAX, 0xff, U64_MAX, U64_MAX, 0xff);

/* ------------------------------------------------------------------ */
/* srch                                                                */

export const SRCH_VAL_BYTES = 8;

export const srchKey = (hash: number, ino: number, xid: number): Key => makeKey(ZONE.xattrSrch, hash, 0, ino, xid, 0);
export const srchHashFirst = (hash: number, ino = 0): Key => makeKey(ZONE.xattrSrch, hash, 0, ino, 0, 0);
export const srchHashLast = (hash: number, ino: number | bigint = U64_MAX): Key =>
  makeKey(ZONE.xattrSrch, hash, 0, ino, U64_MAX, 0xff);

export function encodeSrchCount(n: bigint): Buffer {
  const b = Buffer.alloc(SRCH_VAL_BYTES);
  b.writeBigInt64LE(BigInt.asIntN(64, n), 0);
  return b;
}

export function decodeSrchCount(b: Buffer): bigint {
  if (b.length < SRCH_VAL_BYTES) throw new FsError("EIO", `srch value of ${b.length} bytes`);
  return b.readBigInt64LE(0);
}

/* ------------------------------------------------------------------ */
/* delta zones                                                         */

/** items of this key are deltas that add up across trees, not versions */
export function isDeltaKey(k: Key): boolean {
  return k[0] === ZONE.xattrTotl || k[0] === ZONE.xattrSrch;
}

/** the sum of two delta values of the same key */
export function combineDeltas(k: Key, a: Buffer, b: Buffer): Buffer {
  if (k[0] === ZONE.xattrTotl) {
    const x = decodeTotl(a);
    const y = decodeTotl(b);
    return encodeTotl({ total: x.total + y.total, count: x.count + y.count });
  }
  if (k[0] === ZONE.xattrSrch) return encodeSrchCount(decodeSrchCount(a) + decodeSrchCount(b));
  throw new RangeError(`key of zone ${k[0]} is not a delta key`);
}

/** a delta sum of zero: as good as no item */
export function isNullDelta(v: Buffer): boolean {
  for (const byte of v) if (byte !== 0) return false;
  return true;
}
