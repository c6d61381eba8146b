/*
 * Making and removing names: create/mknod/mkdir/symlink, link, unlink
 * and rmdir.
 *
 * The caller (Filesystem) holds exclusive locks on the directory and on
 * every existing inode that the operation changes, so what these
 * functions check before holding the transaction stays true until they
 * change it; every change of one operation is made inside one hold(),
 * after every check that can fail.
 *
 * Link counts: a file has one per name; a directory has 2 (its entry and
 * its own ".") plus one per subdirectory (their ".."), so rmdir of a
 * subdirectory and moving one out decrement the parent.  A new inode in
 * a setgid directory takes the directory's group, and a new
 * subdirectory inherits the setgid bit (as Linux inode_init_owner).
 * The new inode's permission bits then come from the directory's default
 * ACL, or are the mode less the umask (acl.ts applyInheritedAcl).
 */
import type { Quotas, QuotaInput } from "./quota.js";
import { QUOTA_OP } from "../format/quota_items.js";
import type { FsCtx } from "./context.js";
import { FIRST_XATTR_ID, OpInodes, checkRetention, newInodeVal, toAttr } from "./inode.js";
import { addEntry, checkEntrySpace, findEntry, removeEntry } from "./dirent.js";
import type { AnsweredChange } from "./answer_first.js";
import { writeSymlink } from "./symlink.js";
import { afterUnlink, type OpenCounts } from "./orphan.js";
import { applyInheritedAcl, readAcl, type Acl } from "./acl.js";
import type { Attr, Timespec } from "./types.js";
import {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISGID,
  direntTypeOfMode,
  isDirMode,
  orphanKey,
  type DirentVal,
  type InodeVal,
} from "../format/fs_items.js";
import { LINK_MAX } from "../format/constants.js";
import { FsError } from "../util/errors.js";

export interface FsEnv {
  ctx: FsCtx;
  opens: OpenCounts;
  /** POSIX ACLs are kept (acl.ts); without, ACL xattrs are refused and default ACLs ignored */
  acl: boolean;
  /** quota rules and their checks (quota.ts) */
  quotas: Quotas;
  now(): Timespec;
  hold<T>(fn: () => Promise<T>): Promise<T>;
  /** hold, answer, then change (answer_first.ts) */
  holdAnswerFirst<T>(answer: () => T, apply: (answer: T) => Promise<void>): Promise<AnsweredChange<T>>;
}

/** what a creation in directory d is checked against: d's project, the creator, and the group the inode will have */
function creationQuotaInput(d: InodeVal, n: NewNode): QuotaInput {
  return { op: QUOTA_OP.inode, proj: d.proj, uid: n.uid, gid: d.mode & S_ISGID ? d.gid : n.gid };
}

/** the full mode of a node that mknod may make (regular, device, fifo, socket) */
export function mknodMode(mode: number): number {
  const type = mode & S_IFMT;
  if (type === 0) return S_IFREG | (mode & 0o7777);
  if (type === S_IFDIR) throw new FsError("EPERM", "mknod of a directory");
  if (![S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) throw new FsError("EINVAL", `mknod of type ${type.toString(8)}`);
  return type | (mode & 0o7777);
}

export function createMode(mode: number): number {
  const type = mode & S_IFMT;
  if (type !== 0 && type !== S_IFREG) throw new FsError("EINVAL", "create of a non-regular file");
  return S_IFREG | (mode & 0o7777);
}

export const mkdirMode = (mode: number): number => S_IFDIR | (mode & 0o7777);
export const SYMLINK_MODE = S_IFLNK | 0o777;

export interface NewNode {
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  /** taken from the mode unless the directory has a default ACL (never for symlinks) */
  umask: number;
  symlink?: Buffer;
  /** count an open handle of the new inode (create with open) */
  open?: boolean;
}

/** the default ACL a new node in dir inherits (none for symlinks or without ACLs); before hold() */
async function inheritableAcl(env: FsEnv, dir: number, d: InodeVal, n: NewNode): Promise<Acl | undefined> {
  if (!env.acl || (n.mode & S_IFMT) === S_IFLNK) return undefined;
  // xattr ids only grow from FIRST_XATTR_ID: a directory still at it never had an xattr, so no lookup
  if (d.nextXattrId === FIRST_XATTR_ID) return undefined;
  return readAcl(env.ctx, dir, "default");
}

/**
 * make a new inode with a name in dir; dir locked exclusively.  Answers
 * first (answer_first.ts): the new inode's attributes are the answer, its
 * items are written after; the caller (Filesystem.afterAnswer) locks the
 * new inode before passing the answer on.
 */
export async function makeNode(env: FsEnv, dir: number, name: Buffer, n: NewNode): Promise<AnsweredChange<Attr>> {
  const { ctx } = env;
  const c = new OpInodes(ctx);
  const d = await c.getLiveDir(dir);
  if (await findEntry(ctx, dir, name)) throw new FsError("EEXIST", `${name.toString()} exists`);
  const isDir = isDirMode(n.mode);
  if (isDir && d.nlink >= LINK_MAX) throw new FsError("EMLINK", `directory ${dir} has too many links`);
  checkEntrySpace(dir, d);
  await env.quotas.check(creationQuotaInput(d, n));
  const type = n.mode & S_IFMT;
  const rdev = type === S_IFCHR || type === S_IFBLK ? n.rdev : 0;
  const dflt = await inheritableAcl(env, dir, d, n);
  const ino = await ctx.st.allocIno();
  let v: InodeVal;
  let now: Timespec;
  return env.holdAnswerFirst(
    () => {
      now = env.now();
      let { mode, gid } = n;
      if (d.mode & S_ISGID) {
        gid = d.gid;
        if (isDir) mode |= S_ISGID;
      }
      v = newInodeVal(mode, n.uid, gid, rdev, now);
      v.proj = d.proj; // the project id is inherited from the parent directory
      applyInheritedAcl(ctx, ino, v, dflt, n.umask);
      if (n.symlink) v.size = n.symlink.length;
      if (n.open) env.opens.open(ino);
      c.add(ino, v);
      return c.attrAfterFlush(ino);
    },
    async () => {
      if (n.symlink) writeSymlink(ctx, ino, n.symlink);
      addEntry(ctx, dir, d, name, ino, direntTypeOfMode(v.mode));
      if (isDir) d.nlink++;
      d.mtime = now;
      d.ctime = now;
      c.dirty(dir);
      c.flush();
    },
  );
}

/** a regular file with no name, open, and an orphan until linked (O_TMPFILE); dir locked */
export async function makeTmpfile(env: FsEnv, dir: number, n: NewNode): Promise<Attr> {
  const { ctx } = env;
  const c = new OpInodes(ctx);
  const d = await c.getLiveDir(dir);
  await env.quotas.check(creationQuotaInput(d, n));
  const dflt = await inheritableAcl(env, dir, d, n);
  const ino = await ctx.st.allocIno();
  return env.hold(async () => {
    const now = env.now();
    const v = newInodeVal(n.mode, n.uid, d.mode & S_ISGID ? d.gid : n.gid, 0, now);
    v.proj = d.proj;
    applyInheritedAcl(ctx, ino, v, dflt, n.umask);
    v.nlink = 0;
    c.add(ino, v);
    ctx.items.set(orphanKey(ino), Buffer.alloc(0));
    c.flush();
    env.opens.open(ino);
    env.opens.tmpfiles.add(ino);
    return toAttr(ino, v);
  });
}

/** a new name for ino in dir; both locked exclusively */
export async function linkNode(env: FsEnv, ino: number, dir: number, name: Buffer): Promise<Attr> {
  const { ctx } = env;
  const c = new OpInodes(ctx);
  const d = await c.getLiveDir(dir);
  if (await findEntry(ctx, dir, name)) throw new FsError("EEXIST", `${name.toString()} exists`);
  const v = await c.get(ino);
  if (isDirMode(v.mode)) throw new FsError("EPERM", "hard link to a directory");
  const tmpfile = v.nlink === 0 && env.opens.tmpfiles.has(ino);
  if (v.nlink === 0 && !tmpfile) throw new FsError("ENOENT", `inode ${ino} has no names left`);
  if (v.nlink >= LINK_MAX) throw new FsError("EMLINK", `inode ${ino} has too many links`);
  checkEntrySpace(dir, d);
  return env.hold(async () => {
    const now = env.now();
    addEntry(ctx, dir, d, name, ino, direntTypeOfMode(v.mode));
    if (tmpfile) {
      ctx.items.delete(orphanKey(ino));
      env.opens.tmpfiles.delete(ino);
    }
    v.nlink++;
    v.ctime = now;
    d.mtime = now;
    d.ctime = now;
    c.dirty(ino);
    c.dirty(dir);
    c.flush();
    return toAttr(ino, v);
  });
}

/** the entry of a name and the inode it refers to, for locking before removeName */
export async function entryIno(ctx: FsCtx, dir: number, name: Buffer): Promise<{ inos: number[]; found: DirentVal | undefined }> {
  const d = await findEntry(ctx, dir, name);
  return { inos: d ? [d.ino] : [], found: d };
}

/**
 * unlink (rmdir=false) or rmdir a name; dir and its target locked
 * exclusively, ent what findEntry found for the name under those locks.
 * Answers first (answer_first.ts): once every check passed, the entry is
 * removed (and the inode deleted or orphaned) after the answer.
 */
export async function removeName(env: FsEnv, dir: number, name: Buffer, rmdir: boolean, ent: DirentVal | undefined): Promise<AnsweredChange<void>> {
  const { ctx } = env;
  const c = new OpInodes(ctx);
  const d = await c.getLiveDir(dir);
  if (!ent) throw new FsError("ENOENT", `${name.toString()} does not exist`);
  const v = await c.get(ent.ino);
  const isDir = isDirMode(v.mode);
  if (rmdir) {
    if (!isDir) throw new FsError("ENOTDIR", `${name.toString()} is not a directory`);
    if (v.size > 0) throw new FsError("ENOTEMPTY", `${name.toString()} is not empty`);
  } else if (isDir) {
    throw new FsError("EISDIR", `${name.toString()} is a directory`);
  }
  checkRetention(v, ent.ino);
  return env.holdAnswerFirst(
    () => undefined,
    async () => {
      const now = env.now();
      removeEntry(ctx, dir, d, ent);
      if (isDir) {
        d.nlink--;
        v.nlink = 0;
      } else {
        v.nlink--;
      }
      v.ctime = now;
      d.mtime = now;
      d.ctime = now;
      c.dirty(dir);
      c.dirty(ent.ino);
      await afterUnlink(ctx, c, env.opens, ent.ino, v);
      c.flush();
    },
  );
}
