/*
 * setattr-more: set what only a restore from an archive sets (the
 * original's setattr_more ioctl): data_version, the size, offline
 * contents, ctime and crtime of a file that has no contents yet.
 *
 * Rules, checked before anything changes (EINVAL):
 *  - only a regular file whose data_version is still 0 (nothing ever
 *    written or sized), since the size is always set;
 *  - a non-zero size needs a non-zero data_version;
 *  - offline needs a non-zero size, and a file with no blocks at all:
 *    one offline extent then covers every block of the size, so reads and
 *    writes wait until the archive stages the contents.
 * Without offline the size is sparse (holes).  The data_version given
 * also moves data_seq, so an indexed inode never has a data_version
 * without a data_seq.  ctime is set to the time given, else to now as
 * any change does; crtime only when given.  The caller holds the inode's
 * lock exclusively.
 */
import type { FsEnv } from "./namespace.js";
import { OpInodes, toAttr } from "./inode.js";
import { account } from "./data.js";
import { insertExtent } from "./extents.js";
import type { Attr, Timespec } from "./types.js";
import { EXTENT_FLAG, isRegMode } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE as BS, MAX_FILE_BYTES } from "../format/constants.js";
import { FsError } from "../util/errors.js";

export interface SetattrMoreArgs {
  /** 0: not given */
  dataVersion: number;
  size: number;
  offline: boolean;
  ctime?: Timespec;
  crtime?: Timespec;
}

function checkTime(t: Timespec | undefined, what: string): void {
  if (t && (!Number.isSafeInteger(t.sec) || !Number.isInteger(t.nsec) || t.nsec < 0 || t.nsec >= 1e9)) throw new FsError("EINVAL", `bad ${what} ${t.sec}.${t.nsec}`);
}

export async function setattrMoreOp(env: FsEnv, ino: number, a: SetattrMoreArgs): Promise<Attr> {
  const { ctx } = env;
  if (!Number.isSafeInteger(a.dataVersion) || a.dataVersion < 0) throw new FsError("EINVAL", `bad data_version ${a.dataVersion}`);
  if (!Number.isSafeInteger(a.size) || a.size < 0) throw new FsError("EINVAL", `bad size ${a.size}`);
  if (a.size > MAX_FILE_BYTES) throw new FsError("EFBIG", `size ${a.size} beyond the limit`);
  checkTime(a.ctime, "ctime");
  checkTime(a.crtime, "crtime");
  const c = new OpInodes(ctx);
  const v = await c.get(ino);
  if (!isRegMode(v.mode)) throw new FsError("EINVAL", "setattr of a non-regular file");
  if (v.dataVersion !== 0) throw new FsError("EINVAL", `setattr: data_version is already ${v.dataVersion}`);
  if (a.size > 0 && a.dataVersion === 0) throw new FsError("EINVAL", "setattr: a size needs a data_version");
  if (a.offline && a.size === 0) throw new FsError("EINVAL", "setattr: offline needs a size");
  if (a.offline && (v.onlineBlocks > 0 || v.offlineBlocks > 0)) throw new FsError("EINVAL", "setattr: offline contents for a file that has blocks");
  return env.hold(async () => {
    if (a.offline) account(v, await insertExtent(ctx, ino, { start: 0, len: Math.ceil(a.size / BS), blkno: 0, flags: EXTENT_FLAG.offline }));
    if (a.dataVersion > 0) v.dataVersion = a.dataVersion;
    v.size = a.size;
    v.ctime = a.ctime ? { ...a.ctime } : env.now();
    if (a.crtime) v.crtime = { ...a.crtime };
    c.dirty(ino, a.dataVersion > 0);
    c.flush();
    return toAttr(ino, v);
  });
}
