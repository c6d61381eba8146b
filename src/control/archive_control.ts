/*
 * A mount's answers to the archive commands: release, stage,
 * punch-offline, move-blocks, setattr (setattr_more), get-fiemap,
 * data-waiting and data-wait-err.
 *
 * Each handler first applies the original ioctl's rules to the 64-bit
 * arguments as the user gave them (a zero length does nothing, ranges
 * that wrap or are not block-aligned fail with the ioctl's errno), then
 * checks the caller as the ioctl did (write access where the original
 * needed a file open for writing, CAP_SYS_ADMIN for setattr and
 * data-wait-err, read access for fiemap, nothing for data-waiting), then
 * narrows the values to what the filesystem holds (offsets beyond the
 * largest file reach no block; a data_version beyond 2^53 matches no
 * file) and calls the fs layer.
 *
 * The kernel caches pages and attributes for an hour: every op that
 * changes contents, blocks or sizes behind its back drops what it has of
 * the inodes touched (ctx.invalidateInode: the range's pages, or only the
 * attributes where no cached page can be stale) before answering.
 */
import type { MountControlContext } from "./mount_control.js";
import type { ControlHandlers } from "./server.js";
import type { ArchiveOps } from "./archive_protocol.js";
import { MAY_READ, MAY_WRITE, requireAccess, requireSysAdmin, type ControlCaller } from "./caller.js";
import { argsObject, boolArg, stringArg, timeArg, u64Arg, uintArg, type ArgsObject } from "./args.js";
import { DATA_WAIT_OP_ALL } from "../fs/data_waiting.js";
import { EXTENT_FLAG } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE as BS, MAX_FILE_BYTES } from "../format/constants.js";
import { U64_MAX } from "../format/key.js";
import { FsError, errnoOfNumber, type Errno } from "../util/errors.js";

type ArchiveHandlers = Pick<ControlHandlers, keyof ArchiveOps>;

/** most entries one fiemap or dataWaiting answer carries */
const BATCH_MAX = 1024;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const FILE_LIMIT = BigInt(MAX_FILE_BYTES);
const BSN = BigInt(BS);
/** a byte offset at or past the largest file: no block is there (block-aligned) */
const clampOffset = (v: bigint): number => Number(v < FILE_LIMIT ? v : FILE_LIMIT);

/** a data_version to compare with a file's: one beyond 2^53 matches none (-1) */
function dataVersionArg(op: string, o: ArgsObject): number {
  const v = u64Arg(op, o, "dataVersion");
  return v > MAX_SAFE ? -1 : Number(v);
}

/** a block-aligned, non-wrapping range of the original's release/punch-offline, clamped to the fs; undefined when empty */
function blockRangeArg(op: string, o: ArgsObject, errno: Errno): { off: number; len: number } | undefined {
  const offset = u64Arg(op, o, "offset");
  const length = u64Arg(op, o, "length");
  if (length === 0n) return undefined;
  if (offset + length - 1n > U64_MAX || offset % BSN !== 0n || length % BSN !== 0n) {
    throw new FsError(errno, `${op}: offset ${offset} and length ${length} must be multiples of ${BS} and not wrap`);
  }
  const off = clampOffset(offset);
  return { off, len: clampOffset(offset + length) - off };
}

async function requireFileAccess(ctx: MountControlContext, caller: ControlCaller, ino: number, mask: number): Promise<void> {
  requireAccess(caller, await ctx.mount.fs.getattr(ino), mask);
}

/** the errno name of a negative errno number in the kernel's error range */
function errnoOfNegative(err: number): Errno {
  if (!Number.isInteger(err) || err >= 0 || err < -4095) throw new FsError("EINVAL", `data-wait-err: error ${err} is not a negative errno`);
  const name = errnoOfNumber(-err);
  if (!name) throw new FsError("EINVAL", `data-wait-err: no errno ${-err} on this system`);
  return name;
}

export function archiveControlHandlers(ctx: MountControlContext): ArchiveHandlers {
  const fs = ctx.mount.fs;
  return {
    release: async (args, caller) => {
      const o = argsObject("release", args);
      const ino = uintArg("release", o, "ino", 1);
      const r = blockRangeArg("release", o, "EINVAL");
      const dv = dataVersionArg("release", o);
      if (!r) return {};
      await requireFileAccess(ctx, caller, ino, MAY_WRITE);
      await fs.releaseBlocks(ino, r.off, r.len, dv);
      await ctx.invalidateInode(ino, r.off, r.off + r.len >= MAX_FILE_BYTES ? 0 : r.len);
      return {};
    },
    stage: async (args, caller) => {
      const o = argsObject("stage", args);
      const ino = uintArg("stage", o, "ino", 1);
      const offset = u64Arg("stage", o, "offset");
      const dv = dataVersionArg("stage", o);
      const data = Buffer.from(stringArg("stage", o, "dataB64"), "base64");
      if (offset % BSN !== 0n || offset + BigInt(data.length) > U64_MAX) throw new FsError("EINVAL", `stage: offset ${offset} must be a multiple of ${BS}`);
      if (data.length === 0) return { written: 0 };
      await requireFileAccess(ctx, caller, ino, MAY_WRITE);
      // past the largest file is past the size: the fs says EINVAL
      const written = await fs.stage(ino, clampOffset(offset), data, dv);
      await ctx.invalidateInode(ino, clampOffset(offset), data.length);
      return { written };
    },
    punchOffline: async (args, caller) => {
      const o = argsObject("punchOffline", args);
      const ino = uintArg("punchOffline", o, "ino", 1);
      const r = blockRangeArg("punchOffline", o, "EOVERFLOW");
      const dv = dataVersionArg("punchOffline", o);
      if (!r) return {};
      await requireFileAccess(ctx, caller, ino, MAY_WRITE);
      try {
        await fs.punchOffline(ino, r.off, r.len, dv);
      } finally {
        // offline blocks had no cached pages: only the block counts changed
        await ctx.invalidateInode(ino, -1);
      }
      return {};
    },
    moveBlocks: async (args, caller) => {
      const op = "moveBlocks";
      const o = argsObject(op, args);
      const fromIno = uintArg(op, o, "fromIno", 1);
      const toIno = uintArg(op, o, "toIno", 1);
      const fromOff = u64Arg(op, o, "fromOff");
      const len = u64Arg(op, o, "len");
      const toOff = u64Arg(op, o, "toOff");
      const stage = boolArg(op, o, "stage");
      const dv = dataVersionArg(op, o);
      if (len === 0n) return {};
      if (fromOff + len - 1n > U64_MAX || toOff + len - 1n > U64_MAX) throw new FsError("EOVERFLOW", "move-blocks: the range wraps past 2^64");
      if (fromIno === toIno) throw new FsError("EINVAL", "move-blocks within one file");
      if (toOff + len > FILE_LIMIT) throw new FsError("EFBIG", "move-blocks: destination range beyond the largest file");
      await requireFileAccess(ctx, caller, fromIno, MAY_WRITE);
      await requireFileAccess(ctx, caller, toIno, MAY_WRITE);
      const from = clampOffset(fromOff);
      const n = Number(len < FILE_LIMIT ? len : FILE_LIMIT);
      const to = clampOffset(toOff);
      try {
        await fs.moveBlocks(fromIno, toIno, { fromOff: from, len: n, toOff: to, stage, dataVersion: dv });
      } finally {
        await ctx.invalidateInode(fromIno, from, n);
        await ctx.invalidateInode(toIno, to, n);
      }
      return {};
    },
    setattrMore: async (args, caller) => {
      const op = "setattrMore";
      const o = argsObject(op, args);
      const ino = uintArg(op, o, "ino", 1);
      const dv = u64Arg(op, o, "dataVersion");
      const size = u64Arg(op, o, "size");
      const offline = boolArg(op, o, "offline");
      const ctime = timeArg(op, o, "ctime");
      const crtime = timeArg(op, o, "crtime");
      await requireFileAccess(ctx, caller, ino, MAY_WRITE);
      requireSysAdmin(caller);
      if (dv > MAX_SAFE) throw new FsError("EOVERFLOW", `setattr: data_version ${dv} is beyond what this filesystem keeps (2^53-1)`);
      if (size > FILE_LIMIT) throw new FsError("EFBIG", `setattr: size ${size} is beyond the largest file (${MAX_FILE_BYTES} bytes)`);
      await fs.setattrMore(ino, { dataVersion: Number(dv), size: Number(size), offline, ctime, crtime });
      await ctx.invalidateInode(ino, -1);
      return {};
    },
    fiemap: async (args, caller) => {
      const o = argsObject("fiemap", args);
      const ino = uintArg("fiemap", o, "ino", 1);
      const from = uintArg("fiemap", o, "fromBlock");
      const limit = Math.min(uintArg("fiemap", o, "limit", 1), BATCH_MAX);
      await requireFileAccess(ctx, caller, ino, MAY_READ);
      const extents = await fs.fiemap(ino, from, limit);
      return {
        extents: extents.map((e) => ({
          logical: e.start,
          physical: e.blkno,
          length: e.len,
          offline: (e.flags & EXTENT_FLAG.offline) !== 0,
          unwritten: (e.flags & EXTENT_FLAG.unwritten) !== 0,
        })),
      };
    },
    dataWaiting: async (args) => {
      const o = argsObject("dataWaiting", args);
      const afterIno = u64Arg("dataWaiting", o, "afterIno");
      const afterIblock = u64Arg("dataWaiting", o, "afterIblock");
      const limit = Math.min(uintArg("dataWaiting", o, "limit", 1), BATCH_MAX);
      // positions past 2^53 come after every inode and block there is
      if (afterIno > MAX_SAFE) return { entries: [] };
      return { entries: fs.waiters.list(Number(afterIno), Number(afterIblock < MAX_SAFE ? afterIblock : MAX_SAFE), limit) };
    },
    dataWaitErr: async (args, caller) => {
      const op = "dataWaitErr";
      requireSysAdmin(caller);
      const o = argsObject(op, args);
      const ino = uintArg(op, o, "ino", 1);
      const offset = u64Arg(op, o, "offset");
      const count = u64Arg(op, o, "count");
      const ops = uintArg(op, o, "op");
      const err = o.err;
      if (count === 0n) return { count: 0 };
      if ((ops & ~DATA_WAIT_OP_ALL) !== 0) throw new FsError("EINVAL", `data-wait-err: unknown op bits ${ops}`);
      const errno = errnoOfNegative(typeof err === "number" ? err : NaN);
      if (offset + count - 1n > U64_MAX) throw new FsError("EINVAL", "data-wait-err: the range wraps past 2^64");
      const first = offset / BSN;
      const last = (offset + count - 1n) / BSN;
      let isReg: boolean;
      try {
        isReg = ((await fs.getattr(ino)).mode & 0o170000) === 0o100000;
      } catch (e) {
        if (e instanceof FsError && e.errno === "ENOENT") throw new FsError("ESTALE", `data-wait-err: inode ${ino} is not in use`);
        throw e;
      }
      if (!isReg) throw new FsError("EINVAL", `data-wait-err: inode ${ino} is not a regular file`);
      const n = fs.waiters.fail(ino, Number(first < MAX_SAFE ? first : MAX_SAFE), Number(last < MAX_SAFE ? last : MAX_SAFE), ops, errno);
      return { count: n };
    },
  };
}
