/*
 * move-blocks: hand the extents of a range of one file to another file
 * (the original's move_blocks ioctl), without copying any data.
 *
 * The blocks change owner: the source's extents in the range are
 * unmapped (not freed) and mapped at the same relative place in the
 * destination.  Only whole blocks move, so the offsets and the length
 * are block-aligned, except a length that ends at the source's size (its
 * last partial block moves whole; the destination's size then ends where
 * the source's did).  Only blocks inside the source's size move.  Holes
 * in the source stay holes in the destination.
 *
 * Two modes:
 *  - plain: the destination range must hold no extent at all (EINVAL at
 *    the first overlap) and neither file may have offline blocks
 *    (ENODATA); both files' contents change, so both get a new
 *    data_version, data_seq, mtime and ctime.
 *  - stage: the destination range must lie inside offline extents, which
 *    the moved blocks replace (staging by moving prepared blocks in);
 *    data_version must match the destination's (ESTALE), and only the
 *    source's contents change as far as the inode fields go.
 *
 * Partial progress stays on error, as in the original: extents moved
 * before the failing one remain moved, the inodes are written to match,
 * then the error is thrown.  Block counts of both files follow their
 * extents.  The caller holds both inodes' locks exclusively.
 */
import type { FsEnv } from "./namespace.js";
import { OpInodes, checkRetention } from "./inode.js";
import { account } from "./data.js";
import { extentFrom, extentEnd, extentsIn, insertExtent, isOffline, punchExtents } from "./extents.js";
import { isDirMode, isRegMode } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE as BS } from "../format/constants.js";
import { FsError } from "../util/errors.js";

export interface MoveBlocksArgs {
  fromOff: number;
  len: number;
  toOff: number;
  /** move into offline extents of the destination, checking its data_version */
  stage: boolean;
  /** the destination's data_version (stage only) */
  dataVersion: number;
}

export async function moveBlocksOp(env: FsEnv, from: number, to: number, a: MoveBlocksArgs): Promise<void> {
  const { ctx } = env;
  if (from === to) throw new FsError("EINVAL", "move-blocks within one file");
  for (const [n, v] of [["from offset", a.fromOff], ["to offset", a.toOff], ["length", a.len]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new FsError("EINVAL", `move-blocks: bad ${n} ${v}`);
  }
  if (a.len === 0) return;
  const c = new OpInodes(ctx);
  const fv = await c.get(from);
  const tv = await c.get(to);
  if (!a.stage) checkRetention(tv, to);
  if (a.fromOff % BS !== 0 || a.toOff % BS !== 0 || (a.len % BS !== 0 && a.fromOff + a.len !== fv.size)) {
    throw new FsError("EINVAL", "move-blocks: offsets and length must be multiples of 4096 (the length may end at the source's size)");
  }
  if (a.stage && a.dataVersion !== tv.dataVersion) throw new FsError("ESTALE", `move-blocks: destination data_version is ${tv.dataVersion}, not ${a.dataVersion}`);
  if (a.fromOff >= fv.size) return;
  const count = Math.ceil(Math.min(a.len, fv.size - a.fromOff) / BS);
  if (isDirMode(fv.mode) || isDirMode(tv.mode)) throw new FsError("EISDIR", "move-blocks of a directory");
  if (!isRegMode(fv.mode) || !isRegMode(tv.mode)) throw new FsError("EINVAL", "move-blocks of a non-regular file");
  if (fv.offlineBlocks > 0 || (tv.offlineBlocks > 0 && !a.stage)) throw new FsError("ENODATA", "move-blocks: a file has offline blocks");
  const fromStart = a.fromOff / BS;
  const toStart = a.toOff / BS;
  const err = await env.hold(async () => {
    let failed: FsError | undefined;
    for (const piece of await extentsIn(ctx, from, fromStart, fromStart + count)) {
      const dest = toStart + (piece.start - fromStart);
      if (a.stage) {
        const off = await extentFrom(ctx, to, dest);
        if (!off || off.start > dest || extentEnd(off) < dest + piece.len || !isOffline(off)) {
          failed = new FsError("EINVAL", `move-blocks: destination blocks ${dest}+${piece.len} are not offline`);
          break;
        }
      } else if ((await extentsIn(ctx, to, dest, dest + piece.len)).length > 0) {
        failed = new FsError("EINVAL", `move-blocks: destination blocks ${dest}+${piece.len} are already mapped`);
        break;
      }
      const replaced = await punchExtents(ctx, to, dest, dest + piece.len, false);
      account(tv, await insertExtent(ctx, to, { ...piece, start: dest }), replaced);
      account(fv, { online: 0, offline: 0 }, await punchExtents(ctx, from, piece.start, piece.start + piece.len, false));
      // the destination grows to cover what moved, ending where the source's contents end
      const pastSourceEnd = Math.max(0, (piece.start + piece.len) * BS - fv.size);
      const newSize = (dest + piece.len) * BS - pastSourceEnd;
      if (newSize > tv.size) tv.size = newSize;
    }
    const now = env.now();
    if (!a.stage) {
      tv.ctime = now;
      tv.mtime = now;
      tv.dataVersion++;
    }
    fv.ctime = now;
    fv.mtime = now;
    fv.dataVersion++;
    c.dirty(from, true);
    c.dirty(to, !a.stage);
    c.flush();
    return failed;
  });
  if (err) throw err;
}
