/*
 * File contents: read, write, truncate, fallocate and SEEK_DATA/SEEK_HOLE
 * over the extent map (extents.ts) and the data device (FsData).
 *
 * Copy-on-write: a block that is not isFresh() belongs to a committed
 * state and is never written.  Writing over it allocates new blocks,
 * merges the old contents of partially written blocks into them, maps
 * the new blocks and frees the old (reusable only after the next
 * commit).  Fresh blocks (allocated in the open transaction) are
 * overwritten in place.  Unwritten (fallocated) blocks read as zeros:
 * writing them merges with zeros, in place when fresh, else into new
 * blocks like any committed block.
 *
 * Invariant: the bytes of the block holding EOF beyond EOF are zero on
 * the device (every block written is zero-filled where not written, and
 * truncating down zeroes the new tail), so extending a file never
 * exposes old bytes.  Blocks wholly beyond EOF are unmapped except those
 * fallocate(KEEP_SIZE) made, which are unwritten.
 *
 * These functions change items and the loaded inode value (size, block
 * counts); the caller holds the inode's lock and the transaction, sets
 * times and data_version and flushes the inode.  None throws after it
 * has changed anything (a partial result is returned instead), so the
 * caller can always write the inode that matches the items.
 *
 * Offline extents (released contents, archived elsewhere) have no
 * blocks.  Callers wait until the blocks they need are online before
 * reading or writing (Filesystem with data_waiting.ts), so meeting one
 * here is EIO; a staging write (writeData with staging) is the one
 * writer of offline blocks: it allocates them like holes and maps the
 * staged contents in their place.
 */
import type { FsCtx } from "./context.js";
import {
  BLOCK_LIMIT,
  extentEnd,
  extentFrom,
  insertExtent,
  isOffline,
  isUnwritten,
  punchExtents,
  type BlockCounts,
  type Extent,
} from "./extents.js";
import { EXTENT_FLAG, type InodeVal } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE as BS } from "../format/constants.js";
import { FsError, isFsError } from "../util/errors.js";
import { SEEK_DATA, SEEK_HOLE } from "./types.js";

export function account(v: InodeVal, added: BlockCounts, removed: BlockCounts = { online: 0, offline: 0 }): void {
  v.onlineBlocks += added.online - removed.online;
  v.offlineBlocks += added.offline - removed.offline;
}

function offlineError(ino: number, blk: number): FsError {
  return new FsError("EIO", `inode ${ino} block ${blk} is offline`);
}

type OldBlock = ((blk: number) => Promise<Buffer>) | null;

/*
 * The contents of count blocks from startBlk after writing wData at wOff:
 * written bytes from wData, the rest of a partially written first or last
 * block from old (zeros when old is null), all else zero.  Blocks that
 * wData covers whole are a view of it, not a copy (the device write is
 * done before the caller's buffer may change).
 */
async function compose(startBlk: number, count: number, wOff: number, wData: Buffer, old: OldBlock): Promise<Buffer> {
  const bufStart = startBlk * BS;
  const bufEnd = bufStart + count * BS;
  const wEnd = wOff + wData.length;
  if (wOff <= bufStart && bufEnd <= wEnd) return wData.subarray(bufStart - wOff, bufEnd - wOff);
  const buf = Buffer.alloc(count * BS);
  if (old) {
    const firstPartial = wOff > bufStart;
    if (firstPartial) (await old(startBlk)).copy(buf, 0);
    if (wEnd < bufEnd && (count > 1 || !firstPartial)) (await old(startBlk + count - 1)).copy(buf, (count - 1) * BS);
  }
  const from = Math.max(wOff, bufStart);
  const to = Math.min(wEnd, bufEnd);
  if (to > from) wData.copy(buf, from - bufStart, from - wOff, to - wOff);
  return buf;
}

/** blocks from blk in e that are fresh (or not) like the first, at most max */
function sameFreshness(ctx: FsCtx, e: Extent, blk: number, max: number): { fresh: boolean; n: number } {
  const phys = e.blkno + (blk - e.start);
  const fresh = ctx.st.data.isFresh(phys);
  let n = 1;
  while (n < max && ctx.st.data.isFresh(phys + n) === fresh) n++;
  return { fresh, n };
}

/**
 * Write data at offset; returns the bytes written, fewer than asked only
 * when the device filled up after some were written (ENOSPC if none).
 * Grows the size; the caller checks limits.  staging: offline blocks are
 * written like holes (the caller keeps the write inside the size).
 */
export async function writeData(ctx: FsCtx, ino: number, v: InodeVal, offset: number, data: Buffer, staging = false): Promise<number> {
  if (data.length === 0) return 0;
  const dev = ctx.st.data;
  const end = offset + data.length;
  const first = Math.floor(offset / BS);
  const last = Math.floor((end - 1) / BS);
  let blk = first;
  try {
    while (blk <= last) {
      const e = await extentFrom(ctx, ino, blk);
      if (!e || e.start > blk || (staging && isOffline(e))) {
        const holeEnd = !e ? last : e.start > blk ? Math.min(e.start - 1, last) : Math.min(extentEnd(e) - 1, last);
        const got = await dev.alloc(holeEnd - blk + 1);
        await dev.write(got.blkno, await compose(blk, got.count, offset, data, null));
        const removed = e && e.start <= blk ? await punchExtents(ctx, ino, blk, blk + got.count, false) : undefined;
        account(v, await insertExtent(ctx, ino, { start: blk, len: got.count, blkno: got.blkno, flags: 0 }), removed);
        blk += got.count;
        continue;
      }
      if (isOffline(e)) throw offlineError(ino, blk);
      const segEnd = Math.min(extentEnd(e) - 1, last);
      const { fresh, n } = sameFreshness(ctx, e, blk, segEnd - blk + 1);
      const old: OldBlock = isUnwritten(e) ? null : (b) => dev.read(e.blkno + (b - e.start), 1);
      if (fresh) {
        const phys = e.blkno + (blk - e.start);
        await dev.write(phys, await compose(blk, n, offset, data, old));
        if (isUnwritten(e)) {
          const removed = await punchExtents(ctx, ino, blk, blk + n, false);
          account(v, await insertExtent(ctx, ino, { start: blk, len: n, blkno: phys, flags: 0 }), removed);
        }
        blk += n;
      } else {
        const got = await dev.alloc(n);
        await dev.write(got.blkno, await compose(blk, got.count, offset, data, old));
        const removed = await punchExtents(ctx, ino, blk, blk + got.count, true);
        account(v, await insertExtent(ctx, ino, { start: blk, len: got.count, blkno: got.blkno, flags: 0 }), removed);
        blk += got.count;
      }
    }
  } catch (e) {
    if (!isFsError(e, "ENOSPC") || blk === first) throw e;
  }
  const written = Math.min(end, blk * BS) - offset;
  if (offset + written > v.size) v.size = offset + written;
  return written;
}

/**
 * up to length bytes from offset, short at EOF.  A range inside one
 * written extent (the usual sequential read) is the device's buffer
 * itself, without a copy into a zeroed one.  into (optional): a buffer the
 * caller lends for the result, which is then a view of it when it is large
 * enough (the device reads whole blocks: length plus the offset's distance
 * from its block start, rounded up to blocks); else a new buffer.
 */
export async function readData(ctx: FsCtx, ino: number, v: InodeVal, offset: number, length: number, into?: Buffer): Promise<Buffer> {
  const end = Math.min(v.size, offset + length);
  if (end <= offset) return Buffer.alloc(0);
  const first = Math.floor(offset / BS);
  const last = Math.floor((end - 1) / BS);
  const head = await extentFrom(ctx, ino, first);
  if (head && head.start <= first && extentEnd(head) > last && !isOffline(head) && !isUnwritten(head)) {
    const buf = await ctx.st.data.read(head.blkno + (first - head.start), last - first + 1, into);
    return buf.subarray(offset - first * BS, end - first * BS);
  }
  const out = into && into.length >= end - offset ? into.subarray(0, end - offset).fill(0) : Buffer.alloc(end - offset);
  let blk = first;
  while (blk <= last) {
    const e = blk === first ? head : await extentFrom(ctx, ino, blk);
    if (!e || e.start > last) break;
    if (e.start > blk) {
      blk = e.start;
      continue;
    }
    const segEnd = Math.min(extentEnd(e) - 1, last);
    if (isOffline(e)) throw offlineError(ino, blk);
    if (!isUnwritten(e)) {
      const buf = await ctx.st.data.read(e.blkno + (blk - e.start), segEnd - blk + 1);
      const from = Math.max(offset, blk * BS);
      const to = Math.min(end, (segEnd + 1) * BS);
      buf.copy(out, from - offset, from - blk * BS, to - blk * BS);
    }
    blk = segEnd + 1;
  }
  return out;
}

/*
 * Zero the bytes of the block holding newSize beyond it, copying the
 * block first when it is committed.  Throws (ENOSPC) before changing
 * anything.
 */
async function zeroTail(ctx: FsCtx, ino: number, v: InodeVal, newSize: number): Promise<void> {
  const blk = Math.floor(newSize / BS);
  const e = await extentFrom(ctx, ino, blk);
  if (!e || e.start > blk || isOffline(e) || isUnwritten(e)) return;
  const dev = ctx.st.data;
  const phys = e.blkno + (blk - e.start);
  const buf = await dev.read(phys, 1);
  buf.fill(0, newSize % BS);
  if (dev.isFresh(phys)) {
    await dev.write(phys, buf);
    return;
  }
  const got = await dev.alloc(1);
  await dev.write(got.blkno, buf);
  const removed = await punchExtents(ctx, ino, blk, blk + 1, true);
  account(v, await insertExtent(ctx, ino, { start: blk, len: 1, blkno: got.blkno, flags: 0 }), removed);
}

/** set the size; shrinking unmaps and frees every block beyond it */
export async function truncateData(ctx: FsCtx, ino: number, v: InodeVal, newSize: number): Promise<void> {
  if (newSize < v.size) {
    if (newSize % BS !== 0) await zeroTail(ctx, ino, v, newSize);
    account(v, { online: 0, offline: 0 }, await punchExtents(ctx, ino, Math.ceil(newSize / BS), BLOCK_LIMIT, true));
  }
  v.size = newSize;
}

/** unmap and free every block of a file (deleting it) */
export async function freeAllData(ctx: FsCtx, ino: number, v: InodeVal): Promise<void> {
  account(v, { online: 0, offline: 0 }, await punchExtents(ctx, ino, 0, BLOCK_LIMIT, true));
}

/**
 * Allocate unwritten blocks for the holes of [offset, offset+len) and,
 * unless keepSize, grow the size to cover them.  Returns the error that
 * stopped it part way (the blocks allocated before stay), for the caller
 * to throw once it has written the inode.
 */
export async function fallocateData(
  ctx: FsCtx,
  ino: number,
  v: InodeVal,
  keepSize: boolean,
  offset: number,
  len: number,
): Promise<FsError | undefined> {
  const end = offset + len;
  const last = Math.ceil(end / BS);
  let blk = Math.floor(offset / BS);
  let err: FsError | undefined;
  try {
    while (blk < last) {
      const e = await extentFrom(ctx, ino, blk);
      if (e && e.start <= blk) {
        blk = extentEnd(e);
        continue;
      }
      const holeEnd = e ? Math.min(e.start, last) : last;
      const got = await ctx.st.data.alloc(holeEnd - blk);
      account(v, await insertExtent(ctx, ino, { start: blk, len: got.count, blkno: got.blkno, flags: EXTENT_FLAG.unwritten }));
      blk += got.count;
    }
  } catch (e) {
    if (!isFsError(e, "ENOSPC")) throw e;
    err = e;
  }
  if (!keepSize) {
    const reached = Math.min(end, blk * BS);
    if (reached > v.size) v.size = reached;
  }
  return err;
}

/** SEEK_DATA / SEEK_HOLE from offset; unwritten blocks count as holes */
export async function seekData(ctx: FsCtx, ino: number, v: InodeVal, offset: number, whence: number): Promise<number> {
  if (whence !== SEEK_DATA && whence !== SEEK_HOLE) throw new FsError("EINVAL", `lseek whence ${whence}`);
  if (offset < 0) throw new FsError("EINVAL", "negative offset");
  if (offset >= v.size) throw new FsError("ENXIO", "offset at or beyond end of file");
  let blk = Math.floor(offset / BS);
  for (;;) {
    const e = await extentFrom(ctx, ino, blk);
    if (whence === SEEK_DATA) {
      if (!e) throw new FsError("ENXIO", "no data after offset");
      if (isUnwritten(e)) {
        blk = extentEnd(e);
        continue;
      }
      const pos = Math.max(offset, e.start * BS);
      if (pos >= v.size) throw new FsError("ENXIO", "no data after offset");
      return pos;
    }
    if (!e || e.start > blk || isUnwritten(e)) return Math.min(v.size, Math.max(offset, blk * BS));
    blk = extentEnd(e);
  }
}
