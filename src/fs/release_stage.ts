/*
 * The archive operations on one file's contents: release, stage and
 * punch-offline (the original's ioctls of those names).
 *
 *  - release frees the blocks of a block-aligned range and leaves OFFLINE
 *    extents in their place: the contents live in an archive now.  Holes
 *    stay holes and offline extents stay as they are.  When no online
 *    block is left, the extents past the size go too (a fully released
 *    file keeps nothing beyond its end).
 *  - stage writes archived contents back: offline blocks (and holes, and
 *    online blocks, which are overwritten) of a range inside the size get
 *    the bytes, as a write would, but nothing else of the inode changes.
 *  - punch-offline turns offline extents into holes (restoring a sparse
 *    file that was made all offline); a range with any mapped block
 *    fails with EINVAL, after converting the offline extents before it.
 *
 * Invariants: all three need the caller's data_version to equal the
 * file's (ESTALE otherwise), so they act on the contents the archive
 * holds, and none of them changes data_version, data_seq, mtime or
 * ctime: the file's contents, as readers see them, do not change.  Only
 * meta_seq moves (the inode item is written).  Block counts move with
 * the extents (data.ts account()).  The caller holds the inode's lock
 * exclusively and wakes waiters afterwards when offline blocks went away.
 */
import type { FsEnv } from "./namespace.js";
import { OpInodes, checkRetention } from "./inode.js";
import { account, writeData } from "./data.js";
import { BLOCK_LIMIT, extentsIn, insertExtent, isOffline, punchExtents } from "./extents.js";
import { EXTENT_FLAG, isRegMode, type InodeVal } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE as BS } from "../format/constants.js";
import { FsError } from "../util/errors.js";

/** a block-aligned byte range as blocks [start, end), end clamped to what extents can reach */
function blockRange(offset: number, length: number, what: string, errno: "EINVAL" | "EOVERFLOW"): { start: number; end: number } {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) throw new FsError("EINVAL", `${what}: bad range ${offset}+${length}`);
  if (offset % BS !== 0 || length % BS !== 0) throw new FsError(errno, `${what}: offset ${offset} and length ${length} must be multiples of ${BS}`);
  return { start: offset / BS, end: Math.min(BLOCK_LIMIT, offset / BS + length / BS) };
}

function checkFile(v: InodeVal, dataVersion: number, what: string): void {
  if (!isRegMode(v.mode)) throw new FsError("EINVAL", `${what} of a non-regular file`);
  if (v.dataVersion !== dataVersion) throw new FsError("ESTALE", `${what}: data_version is ${v.dataVersion}, not ${dataVersion}`);
}

/** free the blocks of [offset, offset+length) and mark them offline; ino locked exclusively */
export async function releaseOp(env: FsEnv, ino: number, offset: number, length: number, dataVersion: number): Promise<void> {
  const { ctx } = env;
  const { start, end } = blockRange(offset, length, "release", "EINVAL");
  const c = new OpInodes(ctx);
  const v = await c.get(ino);
  checkFile(v, dataVersion, "release");
  await env.hold(async () => {
    for (const piece of await extentsIn(ctx, ino, start, end)) {
      if (isOffline(piece)) continue;
      const removed = await punchExtents(ctx, ino, piece.start, piece.start + piece.len, true);
      account(v, await insertExtent(ctx, ino, { start: piece.start, len: piece.len, blkno: 0, flags: EXTENT_FLAG.offline }), removed);
    }
    if (v.onlineBlocks === 0 && v.size > 0) {
      account(v, { online: 0, offline: 0 }, await punchExtents(ctx, ino, Math.ceil(v.size / BS), BLOCK_LIMIT, true));
    }
    c.dirty(ino);
    c.flush();
  });
}

/**
 * Write archived contents at offset (a block boundary) without changing
 * the inode's other fields; the range must end inside the size, on a
 * block boundary or at the size.  Returns the bytes written (fewer only
 * when the data device filled up).  ino locked exclusively.
 */
export async function stageOp(env: FsEnv, ino: number, offset: number, data: Buffer, dataVersion: number): Promise<number> {
  const { ctx } = env;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % BS !== 0) throw new FsError("EINVAL", `stage: offset ${offset} must be a multiple of ${BS}`);
  const c = new OpInodes(ctx);
  const v = await c.get(ino);
  const end = offset + data.length;
  if (!isRegMode(v.mode)) throw new FsError("EINVAL", "stage of a non-regular file");
  if (end > v.size) throw new FsError("EINVAL", `stage: range ${offset}+${data.length} ends past the size ${v.size}`);
  if (end % BS !== 0 && end !== v.size) throw new FsError("EINVAL", `stage: range ${offset}+${data.length} must end on a block boundary or at the size`);
  checkFile(v, dataVersion, "stage");
  if (data.length === 0) return 0;
  return env.hold(async () => {
    const n = await writeData(ctx, ino, v, offset, data, true);
    c.dirty(ino);
    c.flush();
    return n;
  });
}

/**
 * Turn the offline extents of [offset, offset+length) into holes.  A
 * mapped block in the range stops it with EINVAL (what came before it is
 * converted).  ino locked exclusively.
 */
export async function punchOfflineOp(env: FsEnv, ino: number, offset: number, length: number, dataVersion: number): Promise<void> {
  const { ctx } = env;
  const { start, end } = blockRange(offset, length, "punch-offline", "EOVERFLOW");
  const c = new OpInodes(ctx);
  const v = await c.get(ino);
  checkFile(v, dataVersion, "punch-offline");
  checkRetention(v, ino);
  const err = await env.hold(async () => {
    let mapped: FsError | undefined;
    for (const piece of await extentsIn(ctx, ino, start, end)) {
      if (!isOffline(piece)) {
        mapped = new FsError("EINVAL", `punch-offline: block ${piece.start} of inode ${ino} is mapped, not offline`);
        break;
      }
      account(v, { online: 0, offline: 0 }, await punchExtents(ctx, ino, piece.start, piece.start + piece.len, false));
    }
    c.dirty(ino);
    c.flush();
    return mapped;
  });
  if (err) throw err;
}
