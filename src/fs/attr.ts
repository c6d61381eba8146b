/*
 * Changing attributes: setattr (chmod, chown, truncate, utimens) and the
 * relatime rule for atime.
 *
 * Every setattr sets ctime (to now unless given).  A size change is
 * regular files only; it moves data_seq (even when the size stays, as a
 * truncate is still a data operation), bumps data_version when the size
 * differs, and sets mtime unless the call sets it.  Clearing setuid and
 * setgid on chown or write is the caller's (FUSE layer's) policy, made
 * with the mode field here.  A mode change also rewrites a stored access
 * ACL (acl.ts), so the ACL's owner, mask and other entries keep matching
 * the mode.
 */
import { OpInodes, checkRetention, timeCmp, toAttr } from "./inode.js";
import { truncateData } from "./data.js";
import { applyAclWrite, prepareChmodAcl } from "./acl.js";
import type { FsEnv } from "./namespace.js";
import type { Attr, SetAttrChanges, Timespec } from "./types.js";
import { S_IFMT, isDirMode, isRegMode, type InodeVal } from "../format/fs_items.js";
import { MAX_FILE_BYTES } from "../format/constants.js";
import { FsError } from "../util/errors.js";

function checkTime(t: Timespec | "now" | undefined): void {
  if (t === undefined || t === "now") return;
  if (!Number.isSafeInteger(t.sec) || !Number.isInteger(t.nsec) || t.nsec < 0 || t.nsec >= 1e9) {
    throw new FsError("EINVAL", `bad time ${t.sec}.${t.nsec}`);
  }
}

function checkId(id: number | undefined, what: string): void {
  if (id !== undefined && (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff)) throw new FsError("EINVAL", `bad ${what} ${id}`);
}

/** ino locked exclusively */
export async function setattrOp(env: FsEnv, ino: number, ch: SetAttrChanges): Promise<Attr> {
  const { ctx } = env;
  const c = new OpInodes(ctx);
  const v = await c.get(ino);
  checkRetention(v, ino);
  checkId(ch.uid, "uid");
  checkId(ch.gid, "gid");
  checkTime(ch.atime);
  checkTime(ch.mtime);
  checkTime(ch.ctime);
  if (ch.size !== undefined) {
    if (isDirMode(v.mode)) throw new FsError("EISDIR", "truncate of a directory");
    if (!isRegMode(v.mode)) throw new FsError("EINVAL", "truncate of a non-regular file");
    if (!Number.isSafeInteger(ch.size) || ch.size < 0) throw new FsError("EINVAL", `bad size ${ch.size}`);
    if (ch.size > MAX_FILE_BYTES) throw new FsError("EFBIG", `size ${ch.size} beyond the limit`);
  }
  const newMode = ch.mode === undefined ? undefined : (v.mode & S_IFMT) | (ch.mode & 0o7777);
  const aclWrite = env.acl && newMode !== undefined ? await prepareChmodAcl(ctx, ino, newMode) : undefined;
  return env.hold(async () => {
    const now = env.now();
    let data = false;
    if (ch.size !== undefined) {
      if (ch.size !== v.size) {
        await truncateData(ctx, ino, v, ch.size);
        v.dataVersion++;
      }
      data = true;
      v.mtime = now;
    }
    if (newMode !== undefined) v.mode = newMode;
    if (aclWrite) applyAclWrite(ctx, ino, v, aclWrite);
    if (ch.uid !== undefined) v.uid = ch.uid;
    if (ch.gid !== undefined) v.gid = ch.gid;
    if (ch.atime !== undefined) v.atime = ch.atime === "now" ? now : { ...ch.atime };
    if (ch.mtime !== undefined) v.mtime = ch.mtime === "now" ? now : { ...ch.mtime };
    v.ctime = ch.ctime ? { ...ch.ctime } : now;
    c.dirty(ino, data);
    c.flush();
    return toAttr(ino, v);
  });
}

/** Linux relatime: update atime if it is not after mtime or ctime, or is a day old */
export function relatimeNeeded(v: InodeVal, now: Timespec): boolean {
  return timeCmp(v.atime, v.mtime) <= 0 || timeCmp(v.atime, v.ctime) <= 0 || now.sec - v.atime.sec >= 24 * 60 * 60;
}

/** set atime to now if relatime says so; ino locked exclusively */
export async function touchAtime(env: FsEnv, ino: number): Promise<void> {
  const c = new OpInodes(env.ctx);
  const v = await c.find(ino);
  if (!v || !relatimeNeeded(v, env.now())) return;
  await env.hold(async () => {
    v.atime = env.now();
    c.dirty(ino);
    c.flush();
  });
}
