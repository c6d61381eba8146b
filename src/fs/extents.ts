/*
 * The extent map of a file: which logical 4 KiB blocks are stored where.
 *
 * One item per extent, keyed by (ino, DATA_EXTENT, first logical block),
 * valued (physical blkno, length, flags).  Invariants:
 *  - extents of a file never overlap; logical blocks with no extent are
 *    holes (read as zeros);
 *  - neighbours that continue each other (logically adjacent, same flags,
 *    and physically contiguous unless offline) are merged on insert, so a
 *    file written sequentially is one item, not one per write;
 *  - OFFLINE extents have no physical blocks (blkno 0); UNWRITTEN extents
 *    own their blocks but read as zeros (fallocate).
 *
 * The extent holding a block is found with one prev() from the block's
 * key; the map is never scanned from its start.  Callers account online
 * and offline block counts from what insert/punch report.
 */
import type { FsCtx } from "./context.js";
import type { ItemKV } from "./storage.js";
import { forEachItem, itemRange } from "./context.js";
import {
  EXTENT_FLAG,
  decodeExtent,
  encodeExtent,
  extentFirst,
  extentKey,
  extentLast,
} from "../format/fs_items.js";
import { keySecond } from "../format/key.js";

export interface Extent {
  /** first logical block */
  start: number;
  len: number;
  /** first physical block (0 when offline) */
  blkno: number;
  flags: number;
}

export const isOffline = (e: Extent): boolean => (e.flags & EXTENT_FLAG.offline) !== 0;
export const isUnwritten = (e: Extent): boolean => (e.flags & EXTENT_FLAG.unwritten) !== 0;
export const extentEnd = (e: Extent): number => e.start + e.len;

/** the largest logical block number + 1 that an extent may reach */
export const BLOCK_LIMIT = Number.MAX_SAFE_INTEGER;

export interface BlockCounts {
  online: number;
  offline: number;
}

function toExtent(key: Buffer, value: Buffer): Extent {
  const v = decodeExtent(value);
  return { start: keySecond(key), len: v.len, blkno: v.blkno, flags: v.flags };
}

function put(ctx: FsCtx, ino: number, e: Extent): void {
  ctx.items.set(extentKey(ino, e.start), encodeExtent({ blkno: e.blkno, len: e.len, flags: e.flags }));
}

function counts(e: Extent, len = e.len): BlockCounts {
  return isOffline(e) ? { online: 0, offline: len } : { online: len, offline: 0 };
}

/** the extent that holds blk, or else the first one after it */
export async function extentFrom(ctx: FsCtx, ino: number, blk: number): Promise<Extent | undefined> {
  const before = await ctx.items.prev(extentKey(ino, blk), extentFirst(ino));
  if (before) {
    const e = toExtent(before.key, before.value);
    if (extentEnd(e) > blk) return e;
  }
  const after = blk + 1 <= BLOCK_LIMIT ? await ctx.items.next(extentKey(ino, blk + 1), extentLast(ino)) : undefined;
  return after ? toExtent(after.key, after.value) : undefined;
}

/** does b continue a (a directly before b)? */
function continues(a: Extent, b: Extent): boolean {
  if (extentEnd(a) !== b.start || a.flags !== b.flags) return false;
  return isOffline(a) || a.blkno + a.len === b.blkno;
}

/**
 * Map a range that is currently a hole, merging with neighbours.
 * Returns the blocks added.  Inside hold().
 */
export async function insertExtent(ctx: FsCtx, ino: number, ext: Extent): Promise<BlockCounts> {
  let e = { ...ext };
  if (e.start > 0) {
    const prevKv = await ctx.items.prev(extentKey(ino, e.start - 1), extentFirst(ino));
    if (prevKv) {
      const p = toExtent(prevKv.key, prevKv.value);
      if (continues(p, e)) e = { start: p.start, len: p.len + e.len, blkno: p.blkno, flags: e.flags };
    }
  }
  const nextVal = await ctx.items.lookup(extentKey(ino, extentEnd(e)));
  if (nextVal) {
    const n = toExtent(extentKey(ino, extentEnd(e)), nextVal);
    if (continues(e, n)) {
      ctx.items.delete(extentKey(ino, n.start));
      e.len += n.len;
    }
  }
  put(ctx, ino, e);
  return counts(ext);
}

/**
 * Unmap the blocks [start, end): extents that straddle an edge are split.
 * Physical blocks unmapped are freed when free is set (not when the caller
 * maps them again).  Returns the blocks removed.  Inside hold().
 */
export async function punchExtents(ctx: FsCtx, ino: number, start: number, end: number, free: boolean): Promise<BlockCounts> {
  const removed: BlockCounts = { online: 0, offline: 0 };
  if (end <= start) return removed;
  const found: Extent[] = [];
  const lastKey = extentKey(ino, Math.min(end - 1, BLOCK_LIMIT));
  const collect = (kv: ItemKV): void => void found.push(toExtent(kv.key, kv.value));
  if (start === 0) {
    // from block 0 (deleting a file, truncating to 0) no extent can start before the range:
    // every extent that starts in it is in it, found by one walk without looking back
    await forEachItem(ctx.items, extentFirst(ino), lastKey, collect);
    if (found.length === 0) return removed;
  } else {
    const first = await extentFrom(ctx, ino, start);
    if (!first || first.start >= end) return removed;
    found.push(first);
    if (extentEnd(first) < end) await forEachItem(ctx.items, extentKey(ino, extentEnd(first)), lastKey, collect);
  }
  for (const e of found) {
    const cutStart = Math.max(start, e.start);
    const cutEnd = Math.min(end, extentEnd(e));
    const n = cutEnd - cutStart;
    if (free && !isOffline(e)) ctx.st.data.free(e.blkno + (cutStart - e.start), n);
    const c = counts(e, n);
    removed.online += c.online;
    removed.offline += c.offline;
    ctx.items.delete(extentKey(ino, e.start));
    if (cutStart > e.start) put(ctx, ino, { ...e, len: cutStart - e.start });
    if (cutEnd < extentEnd(e)) {
      const skip = cutEnd - e.start;
      put(ctx, ino, { start: cutEnd, len: e.len - skip, blkno: isOffline(e) ? 0 : e.blkno + skip, flags: e.flags });
    }
  }
  return removed;
}

/** the first offline block in [first, last], if any (one lookup per extent in the range) */
export async function findOffline(ctx: FsCtx, ino: number, first: number, last: number): Promise<number | undefined> {
  let blk = first;
  while (blk <= last) {
    const e = await extentFrom(ctx, ino, blk);
    if (!e || e.start > last) return undefined;
    if (isOffline(e)) return Math.max(e.start, blk);
    blk = extentEnd(e);
  }
  return undefined;
}

/** the extents that overlap [start, end), in order, cut to that range */
export async function extentsIn(ctx: FsCtx, ino: number, start: number, end: number): Promise<Extent[]> {
  const out: Extent[] = [];
  let blk = start;
  while (blk < end) {
    const e = await extentFrom(ctx, ino, blk);
    if (!e || e.start >= end) break;
    const s = Math.max(e.start, blk);
    const en = Math.min(extentEnd(e), end);
    out.push({ start: s, len: en - s, blkno: isOffline(e) ? 0 : e.blkno + (s - e.start), flags: e.flags });
    blk = en;
  }
  return out;
}

/** the extents of a file that start at or after fromBlock, in order, at most max (for fiemap, tests and tools) */
export async function listExtents(ctx: FsCtx, ino: number, fromBlock = 0, max = Infinity): Promise<Extent[]> {
  const out: Extent[] = [];
  if (max <= 0) return out;
  for await (const kv of itemRange(ctx.items, extentKey(ino, fromBlock), extentLast(ino))) {
    out.push(toExtent(kv.key, kv.value));
    if (out.length >= max) break;
  }
  return out;
}
