/*
 * Btree blocks: their in-memory form and their on-disk encoding.
 *
 * A node is a 64 KiB block.  After the 32 byte block header:
 *   level u8 | pad u8 | nr u16 | pad u32
 * then nr entries, in key order:
 *   leaf (level 0):  key[27] | seq u64 | flags u8 | val_len u16 | value
 *   parent:          key[27] | child blkno u64 | child seq u64
 * A parent entry's key is <= every key in that child's subtree and >
 * every key in the previous child's subtree, so a search takes the last
 * entry whose key is <= the search key (or the first entry).
 *
 * In memory a node keeps its keys and values in parallel arrays and
 * counts its encoded bytes, so "does it fit" is O(1).  Nodes are
 * immutable once clean: writers clone before changing (copy-on-write).
 */
import { BLOCK_HEADER_BYTES, BLOCK_LG_SIZE, BLOCK_MAGIC, BTREE_MAX_VAL_LEN } from "../format/constants.js";
import { KEY_BYTES, keyCompare, type Key } from "../format/key.js";
import { getU64, putU64, type BlockRef } from "../format/structs.js";
import type { BlockCodec } from "../block/store.js";
import { CorruptionError } from "../util/errors.js";

export interface LeafVal {
  seq: number;
  flags: number;
  value: Buffer;
}

export interface BtreeNode {
  level: number;
  keys: Key[];
  /** level 0 only */
  vals: LeafVal[];
  /** level > 0 only */
  refs: BlockRef[];
  bytes: number;
}

export const NODE_HDR_BYTES = BLOCK_HEADER_BYTES + 8;
export const NODE_CAPACITY = BLOCK_LG_SIZE - NODE_HDR_BYTES;
export const LEAF_ENTRY_OVERHEAD = KEY_BYTES + 8 + 1 + 2;
export const PARENT_ENTRY_BYTES = KEY_BYTES + 16;
export const LEAF_ENTRY_MAX = LEAF_ENTRY_OVERHEAD + BTREE_MAX_VAL_LEN;

export function leafEntryBytes(v: LeafVal): number {
  return LEAF_ENTRY_OVERHEAD + v.value.length;
}

export function newNode(level: number): BtreeNode {
  return { level, keys: [], vals: [], refs: [], bytes: 0 };
}

export function cloneNode(n: BtreeNode): BtreeNode {
  return { level: n.level, keys: n.keys.slice(), vals: n.vals.slice(), refs: n.refs.slice(), bytes: n.bytes };
}

export const nodeCodec: BlockCodec<BtreeNode> = {
  magic: BLOCK_MAGIC.btree,
  parse(buf: Buffer, blkno: number): BtreeNode {
    let o = BLOCK_HEADER_BYTES;
    const level = buf.readUInt8(o);
    const nr = buf.readUInt16LE(o + 2);
    o = NODE_HDR_BYTES;
    const n = newNode(level);
    try {
      for (let i = 0; i < nr; i++) {
        // views into the block buffer, not copies: the parsed node is cached with it
        const key = buf.subarray(o, o + KEY_BYTES);
        o += KEY_BYTES;
        n.keys.push(key);
        if (level === 0) {
          const seq = getU64(buf, o);
          const flags = buf.readUInt8(o + 8);
          const len = buf.readUInt16LE(o + 9);
          o += 11;
          if (len > BTREE_MAX_VAL_LEN || o + len > BLOCK_LG_SIZE) throw new RangeError("value length");
          n.vals.push({ seq, flags, value: buf.subarray(o, o + len) });
          o += len;
          n.bytes += LEAF_ENTRY_OVERHEAD + len;
        } else {
          n.refs.push({ blkno: getU64(buf, o), seq: getU64(buf, o + 8) });
          o += 16;
          n.bytes += PARENT_ENTRY_BYTES;
        }
        if (i > 0 && keyCompare(n.keys[i - 1]!, key) >= 0) throw new RangeError("keys out of order");
      }
    } catch (e) {
      if (e instanceof RangeError) throw new CorruptionError(blkno, `btree node: ${e.message}`);
      throw e;
    }
    return n;
  },
  // measured: a parsed entry costs about 250 bytes of JS objects (key and value views, LeafVal)
  extraBytes: (n: BtreeNode) => n.keys.length * 250,
  serialize(n: BtreeNode, buf: Buffer): void {
    let o = BLOCK_HEADER_BYTES;
    buf[o] = n.level;
    buf.writeUInt16LE(n.keys.length, o + 2);
    o = NODE_HDR_BYTES;
    for (let i = 0; i < n.keys.length; i++) {
      n.keys[i]!.copy(buf, o);
      o += KEY_BYTES;
      if (n.level === 0) {
        const v = n.vals[i]!;
        putU64(buf, o, v.seq);
        buf[o + 8] = v.flags;
        buf[o + 9] = v.value.length & 0xff;
        buf[o + 10] = v.value.length >>> 8;
        o += 11;
        v.value.copy(buf, o);
        o += v.value.length;
      } else {
        const r = n.refs[i]!;
        putU64(buf, o, r.blkno);
        putU64(buf, o + 8, r.seq);
        o += 16;
      }
    }
  },
};

/** index of the first key >= k (keys.length if none), searching from index `from` on (keys before it are < k) */
export function lowerBound(keys: Key[], k: Key, from = 0): number {
  let lo = from;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyCompare(keys[mid]!, k) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** the child of a parent node whose subtree may hold k */
export function childIndex(n: BtreeNode, k: Key): number {
  let lo = 0;
  let hi = n.keys.length; // find the last key <= k
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyCompare(n.keys[mid]!, k) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : lo - 1;
}
