/*
 * get-attr-x / set-attr-x: the original's extensible inode attributes,
 * asked and set by a mask of IAX bits.
 *
 * get: every field, the caller picks what to print.  set (CAP_SYS_ADMIN,
 * the caller's business) applies only data_version, size, ctime, crtime,
 * the retention bit and the project id; the other bits of the mask are
 * accepted and ignored, as by the original.  Rules, checked before
 * anything changes (EINVAL): a data_version given is not 0; size and
 * data_version only for a regular file whose data_version is still 0; a
 * non-zero size needs a non-zero data_version; retention only on regular
 * files.  A file under retention refuses every set (EPERM) except one
 * that clears retention.  A data_version set moves data_seq, so an
 * indexed inode never has a data_version without a data_seq.  ctime
 * changes only when given.  The caller holds the inode's lock
 * exclusively.
 */
import type { FsEnv } from "./namespace.js";
import { OpInodes } from "./inode.js";
import type { InodeVal, Timespec } from "../format/fs_items.js";
import { INODE_FLAG, isRegMode } from "../format/fs_items.js";
import { MAX_FILE_BYTES } from "../format/constants.js";
import { FsError } from "../util/errors.js";

/** the mask bits, the original's values */
export const IAX = {
  metaSeq: 1 << 0,
  dataSeq: 1 << 1,
  dataVersion: 1 << 2,
  onlineBlocks: 1 << 3,
  offlineBlocks: 1 << 4,
  ctime: 1 << 5,
  crtime: 1 << 6,
  size: 1 << 7,
  retention: 1 << 8,
  projectId: 1 << 9,
} as const;
export const IAX_ALL = (1 << 10) - 1;

export interface AttrX {
  metaSeq: number;
  dataSeq: number;
  dataVersion: number;
  onlineBlocks: number;
  offlineBlocks: number;
  ctime: Timespec;
  crtime: Timespec;
  size: number;
  retention: boolean;
  projectId: bigint;
}

export function attrXOf(v: InodeVal): AttrX {
  return {
    metaSeq: v.metaSeq,
    dataSeq: v.dataSeq,
    dataVersion: v.dataVersion,
    onlineBlocks: v.onlineBlocks,
    offlineBlocks: v.offlineBlocks,
    ctime: { ...v.ctime },
    crtime: { ...v.crtime },
    size: v.size,
    retention: (v.flags & INODE_FLAG.retention) !== 0,
    projectId: v.proj,
  };
}

/** what a set changes: the mask, and the values of the bits it applies */
export interface AttrXSet {
  mask: number;
  dataVersion?: number;
  size?: number;
  ctime?: Timespec;
  crtime?: Timespec;
  retention?: boolean;
  projectId?: bigint;
}

const has = (a: AttrXSet, bit: number) => (a.mask & bit) !== 0;

function checkTime(t: Timespec | undefined, what: string): void {
  if (t && (!Number.isSafeInteger(t.sec) || !Number.isInteger(t.nsec) || t.nsec < 0 || t.nsec >= 1e9)) throw new FsError("EINVAL", `bad ${what} ${t.sec}.${t.nsec}`);
}

function checkAttrXSet(v: InodeVal, a: AttrXSet): void {
  if (a.mask & ~IAX_ALL) throw new FsError("EINVAL", `unknown attr_x mask bits ${a.mask & ~IAX_ALL}`);
  const dv = a.dataVersion ?? 0;
  const size = a.size ?? 0;
  if (has(a, IAX.dataVersion) && dv === 0) throw new FsError("EINVAL", "set-attr-x: a data_version of 0");
  if ((has(a, IAX.size) || has(a, IAX.dataVersion)) && (!isRegMode(v.mode) || v.dataVersion !== 0)) {
    throw new FsError("EINVAL", "set-attr-x: size and data_version only for a regular file that never had contents");
  }
  if (has(a, IAX.size) && size > 0 && (!has(a, IAX.dataVersion) || dv === 0)) throw new FsError("EINVAL", "set-attr-x: a size needs a data_version");
  if (has(a, IAX.retention) && !isRegMode(v.mode)) throw new FsError("EINVAL", "set-attr-x: retention only applies to regular files");
  if (!Number.isSafeInteger(dv) || dv < 0) throw new FsError("EINVAL", `bad data_version ${dv}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new FsError("EINVAL", `bad size ${size}`);
  if (size > MAX_FILE_BYTES) throw new FsError("EFBIG", `size ${size} beyond the limit`);
  if (has(a, IAX.ctime)) checkTime(a.ctime, "ctime");
  if (has(a, IAX.crtime)) checkTime(a.crtime, "crtime");
}

export async function setAttrXOp(env: FsEnv, ino: number, a: AttrXSet): Promise<void> {
  if (a.mask === 0) return;
  const c = new OpInodes(env.ctx);
  const v = await c.get(ino);
  checkAttrXSet(v, a);
  const clearsRetention = has(a, IAX.retention) && !a.retention;
  if (v.flags & INODE_FLAG.retention && !clearsRetention) throw new FsError("EPERM", `inode ${ino} is under retention`);
  const dataChange = has(a, IAX.dataVersion);
  await env.hold(async () => {
    if (dataChange) v.dataVersion = a.dataVersion!;
    if (has(a, IAX.size)) v.size = a.size!;
    if (has(a, IAX.ctime)) v.ctime = { ...a.ctime! };
    if (has(a, IAX.crtime)) v.crtime = { ...a.crtime! };
    if (has(a, IAX.retention)) v.flags = a.retention ? v.flags | INODE_FLAG.retention : v.flags & ~INODE_FLAG.retention;
    if (has(a, IAX.projectId)) v.proj = BigInt.asUintN(64, a.projectId!);
    c.dirty(ino, dataChange);
    c.flush();
  });
}
