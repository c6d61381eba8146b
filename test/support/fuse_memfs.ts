/*
 * MemFs: a small in-memory filesystem behind FuseOps, for end-to-end tests
 * of the FUSE layer and for measuring the transport floor (bench).
 *
 * Design: a table of inodes by number (root = 1).  Directories map names
 * (bytes, kept as latin1 strings so any byte survives) to {ino, pos}; pos
 * is a per-directory counter that only grows, so a readdir offset stays
 * valid while entries come and go (offsets 1 and 2 are "." and "..",
 * entries continue from 3).  Each directory also keeps its names in pos
 * order (an array with lazily dropped stale slots) so readdir from an
 * offset is a binary search.  File data is a list of 1 MiB chunks (no
 * copying as files grow; holes read as zeros).
 *
 * Invariants:
 * * nlink counts names (directories: 2 + subdirectories); an inode is
 *   dropped from the table only when it has no names, no open handles and
 *   no kernel lookups (FuseOps lookup counting: every entry returned counts
 *   one, forget() takes them off).
 * * Permission checks are the kernel's (mounted with default_permissions);
 *   this only keeps POSIX state: ENOENT, EEXIST, ENOTDIR, EISDIR,
 *   ENOTEMPTY, EXDEV-free renames, xattr create/replace semantics.
 * * The umask is applied here when the session says the kernel does not
 *   (FuseConnInfo.dontMask).
 * * POSIX ACLs are xattrs that the kernel interprets; setting
 *   system.posix_acl_access updates the mode bits to match (the
 *   filesystem's job under FUSE_POSIX_ACL).  Default ACLs are stored but
 *   not inherited by new files (a test backend does not need it).
 * * "Behind the kernel's back" helpers (setDataBehind, renameBehind) change
 *   state without telling the kernel, for notify tests.
 */
import { Buffer } from "node:buffer";
import { FuseError, type FuseAttr, type FuseConnInfo, type FuseCreateReply, type FuseCtx, type FuseDirent, type FuseDirentPlus, type FuseEntry, type FuseOpenReply, type FuseOps, type FuseSetattr, type FuseStatfs, type Timespec } from "../../src/fuse/ops.js";

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_ISGID = 0o2000;
const O_TRUNC = 0o1000;
const O_ACCMODE = 3;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const FALLOC_FL_KEEP_SIZE = 1;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const BLOCK = 4096;
const CHUNK = 1 << 20;
const NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;

interface DirEnt {
  ino: number;
  pos: number;
}

interface Inode {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  /** file contents in CHUNK-sized pieces; a missing chunk reads as zeros */
  chunks: (Buffer | undefined)[];
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  target: Buffer | null;
  dir: Map<string, DirEnt> | null;
  order: { key: string; pos: number }[];
  nextPos: number;
  parent: number;
  xattrs: Map<string, Buffer>;
  lookups: number;
  opens: number;
}

export interface MemFsOptions {
  /** reply FOPEN_KEEP_CACHE to opens: the kernel keeps cached pages across opens (default true) */
  keepCache?: boolean;
  /** reply FOPEN_NOFLUSH to opens: close() sends no FLUSH (flush does nothing here) (default false) */
  noFlush?: boolean;
  /** a missing name's lookup returns null (a negative entry, cached for the session's negativeTimeout) instead of ENOENT (default false) */
  negativeEntries?: boolean;
  /** entry/attr timeouts in replies (default: the session's) */
  entryTimeout?: number;
  attrTimeout?: number;
  /** bytes statfs reports as the size (default 64 GiB) */
  capacity?: number;
  /** a name whose lookup hangs until the request is interrupted (then EINTR), for interrupt tests */
  slowLookupName?: string;
}

function now(): Timespec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}

const ACL_ACCESS = "system.posix_acl_access";

/**
 * The rwx bits a POSIX ACL xattr (version 2: u32 version, then {u16 tag,
 * u16 perm, u32 id} entries) gives the mode: user::, mask:: (or group::
 * without a mask), other::.  null if malformed.
 */
function aclModeBits(v: Buffer): number | null {
  if (v.length < 4 || (v.length - 4) % 8 !== 0 || v.readUInt32LE(0) !== 2) return null;
  let user = -1;
  let group = -1;
  let mask = -1;
  let other = -1;
  for (let p = 4; p < v.length; p += 8) {
    const tag = v.readUInt16LE(p);
    const perm = v.readUInt16LE(p + 2) & 7;
    if (tag === 0x01) user = perm;
    else if (tag === 0x04) group = perm;
    else if (tag === 0x10) mask = perm;
    else if (tag === 0x20) other = perm;
  }
  if (user < 0 || group < 0 || other < 0) return null;
  return (user << 6) | ((mask >= 0 ? mask : group) << 3) | other;
}

/** resolve after ms, or throw EINTR as soon as the request is interrupted */
function waitForInterrupt(ctx: FuseCtx, ms: number): Promise<void> {
  const signal = ctx.signal;
  return new Promise((res, rej) => {
    if (signal.aborted) return rej(new FuseError("EINTR"));
    const t = setTimeout(res, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      rej(new FuseError("EINTR"));
    });
  });
}

function key(name: Buffer): string {
  return name.toString("latin1");
}

function fail(errno: string, msg?: string): never {
  throw new FuseError(errno, msg);
}

export class MemFs implements FuseOps {
  private readonly inodes = new Map<number, Inode>();
  private nextIno = 2;
  private nextFh = 1;
  private dontMask = false;
  readonly stats = { ops: 0, forgets: 0 };

  constructor(private readonly opts: MemFsOptions = {}) {
    const root = this.newInode(S_IFDIR | 0o755, 0, 0, 0);
    this.inodes.delete(root.ino);
    root.ino = 1;
    root.parent = 1;
    root.nlink = 2;
    this.inodes.set(1, root);
    this.nextIno = 2;
  }

  /* ---------------------------------------------------------------- */
  /* helpers                                                           */

  private newInode(mode: number, uid: number, gid: number, rdev: number): Inode {
    const t = now();
    const ino = this.nextIno++;
    const isDir = (mode & S_IFMT) === S_IFDIR;
    const i: Inode = {
      ino,
      mode,
      nlink: isDir ? 2 : 1,
      uid,
      gid,
      rdev,
      size: 0,
      chunks: [],
      atime: t,
      mtime: t,
      ctime: t,
      target: null,
      dir: isDir ? new Map() : null,
      order: [],
      nextPos: 3,
      parent: 0,
      xattrs: new Map(),
      lookups: 0,
      opens: 0,
    };
    this.inodes.set(ino, i);
    return i;
  }

  private get(ino: number): Inode {
    const i = this.inodes.get(ino);
    if (!i) fail("ENOENT", `no inode ${ino}`);
    return i;
  }

  private dirOf(ino: number): Inode & { dir: Map<string, DirEnt> } {
    const d = this.get(ino);
    if (!d.dir) fail("ENOTDIR");
    return d as Inode & { dir: Map<string, DirEnt> };
  }

  private attr(i: Inode): FuseAttr {
    return {
      ino: i.ino,
      size: i.size,
      blocks: Math.ceil(i.size / 512),
      atime: i.atime,
      mtime: i.mtime,
      ctime: i.ctime,
      mode: i.mode,
      nlink: i.nlink,
      uid: i.uid,
      gid: i.gid,
      rdev: i.rdev,
      blksize: BLOCK,
    };
  }

  /** an entry reply: counts one kernel lookup */
  private entry(i: Inode): FuseEntry {
    i.lookups++;
    const e: FuseEntry = { attr: this.attr(i) };
    if (this.opts.entryTimeout !== undefined) e.entryTimeout = this.opts.entryTimeout;
    if (this.opts.attrTimeout !== undefined) e.attrTimeout = this.opts.attrTimeout;
    return e;
  }

  private attrReply(i: Inode) {
    return this.opts.attrTimeout !== undefined ? { attr: this.attr(i), attrTimeout: this.opts.attrTimeout } : { attr: this.attr(i) };
  }

  private maybeDrop(i: Inode): void {
    if (i.ino !== 1 && i.nlink === 0 && i.lookups <= 0 && i.opens <= 0) this.inodes.delete(i.ino);
  }

  private checkName(name: Buffer): void {
    if (name.length === 0) fail("EINVAL");
    if (name.length > NAME_MAX) fail("ENAMETOOLONG");
    if (name.includes(0x2f) || name.includes(0)) fail("EINVAL");
  }

  private addEntry(d: Inode & { dir: Map<string, DirEnt> }, name: Buffer, ino: number): void {
    const k = key(name);
    const pos = d.nextPos++;
    d.dir.set(k, { ino, pos });
    d.order.push({ key: k, pos });
    const t = now();
    d.mtime = t;
    d.ctime = t;
  }

  private removeEntry(d: Inode & { dir: Map<string, DirEnt> }, name: Buffer): void {
    d.dir.delete(key(name));
    // stale slots in d.order are skipped by readdir; compact when they dominate
    if (d.order.length > 32 && d.order.length > 2 * d.dir.size) d.order = d.order.filter((o) => d.dir.get(o.key)?.pos === o.pos);
    const t = now();
    d.mtime = t;
    d.ctime = t;
  }

  private applyUmask(mode: number, umask: number): number {
    return this.dontMask ? mode & ~umask : mode;
  }

  private create0(ctx: FuseCtx, parent: number, name: Buffer, mode: number, rdev: number): Inode {
    this.checkName(name);
    const d = this.dirOf(parent);
    if (d.nlink === 0) fail("ENOENT", "directory was removed");
    if (d.dir.has(key(name))) fail("EEXIST");
    let gid = ctx.gid;
    if (d.mode & S_ISGID) {
      gid = d.gid;
      if ((mode & S_IFMT) === S_IFDIR) mode |= S_ISGID;
    }
    const i = this.newInode(mode, ctx.uid, gid, rdev);
    this.addEntry(d, name, i.ino);
    if (i.dir) {
      i.parent = d.ino;
      d.nlink++;
    }
    return i;
  }

  private setSize(i: Inode, size: number): void {
    if (size < i.size) {
      // drop whole chunks past the end and zero the tail of the last one, so growing again reads zeros
      const keep = Math.ceil(size / CHUNK);
      i.chunks.length = Math.min(i.chunks.length, keep);
      const last = i.chunks[keep - 1];
      if (last && size % CHUNK !== 0) last.fill(0, size % CHUNK);
    }
    i.size = size;
  }

  private readData(i: Inode, offset: number, size: number): Buffer {
    const end = Math.min(i.size, offset + size);
    if (offset >= end) return Buffer.alloc(0);
    const first = Math.floor(offset / CHUNK);
    if (first === Math.floor((end - 1) / CHUNK)) {
      const c = i.chunks[first];
      return c ? c.subarray(offset % CHUNK, offset % CHUNK + (end - offset)) : Buffer.alloc(end - offset);
    }
    const out = Buffer.alloc(end - offset);
    for (let pos = offset; pos < end; ) {
      const n = Math.min(CHUNK - (pos % CHUNK), end - pos);
      i.chunks[Math.floor(pos / CHUNK)]?.copy(out, pos - offset, pos % CHUNK, pos % CHUNK + n);
      pos += n;
    }
    return out;
  }

  private writeData(i: Inode, offset: number, data: Buffer): void {
    for (let done = 0; done < data.length; ) {
      const pos = offset + done;
      const n = Math.min(CHUNK - (pos % CHUNK), data.length - done);
      const ci = Math.floor(pos / CHUNK);
      let c = i.chunks[ci];
      if (!c) c = i.chunks[ci] = Buffer.alloc(CHUNK);
      data.copy(c, pos % CHUNK, done, done + n);
      done += n;
    }
    if (offset + data.length > i.size) i.size = offset + data.length;
  }

  /* ---------------------------------------------------------------- */
  /* behind the kernel's back (tests)                                  */

  /** the inode a path names, from the root, without counting lookups */
  resolve(path: string): number {
    let ino = 1;
    for (const part of path.split("/").filter((p) => p.length > 0)) {
      const d = this.dirOf(ino);
      const e = d.dir.get(key(Buffer.from(part)));
      if (!e) fail("ENOENT", path);
      ino = e.ino;
    }
    return ino;
  }

  /** replace a file's contents without telling the kernel */
  setDataBehind(ino: number, data: Buffer): void {
    const i = this.get(ino);
    if ((i.mode & S_IFMT) !== S_IFREG) fail("EINVAL");
    i.chunks = [];
    i.size = 0;
    this.writeData(i, 0, data);
    const t = now();
    i.mtime = t;
    i.ctime = t;
  }

  /** rename within one directory without telling the kernel */
  renameBehind(parent: number, from: string, to: string): void {
    const d = this.dirOf(parent);
    const e = d.dir.get(key(Buffer.from(from)));
    if (!e) fail("ENOENT");
    if (d.dir.has(key(Buffer.from(to)))) fail("EEXIST");
    this.removeEntry(d, Buffer.from(from));
    this.addEntry(d, Buffer.from(to), e.ino);
  }

  /** inodes the kernel still holds lookups on, and inodes in the table */
  counts(): { inodes: number; lookedUp: number } {
    let lookedUp = 0;
    for (const i of this.inodes.values()) if (i.lookups > 0) lookedUp++;
    return { inodes: this.inodes.size, lookedUp };
  }

  /* ---------------------------------------------------------------- */
  /* FuseOps                                                           */

  init(info: FuseConnInfo): void {
    this.dontMask = info.dontMask;
  }

  async lookup(ctx: FuseCtx, parent: number, name: Buffer): Promise<FuseEntry | null> {
    if (this.opts.slowLookupName !== undefined && name.equals(Buffer.from(this.opts.slowLookupName))) await waitForInterrupt(ctx, 30_000);
    const d = this.dirOf(parent);
    if (name.length > NAME_MAX) fail("ENAMETOOLONG");
    const k = key(name);
    if (k === ".") return this.entry(d);
    if (k === "..") return this.entry(this.get(d.parent));
    const e = d.dir.get(k);
    if (!e) {
      if (this.opts.negativeEntries) return null;
      fail("ENOENT");
    }
    return this.entry(this.get(e.ino));
  }

  forget(ino: number, nlookup: number): void {
    this.stats.forgets++;
    const i = this.inodes.get(ino);
    if (!i) return;
    i.lookups -= nlookup;
    this.maybeDrop(i);
  }

  async getattr(_ctx: FuseCtx, ino: number) {
    return this.attrReply(this.get(ino));
  }

  async setattr(_ctx: FuseCtx, ino: number, c: FuseSetattr) {
    const i = this.get(ino);
    const t = now();
    if (c.size !== undefined) {
      if (i.dir) fail("EISDIR");
      if ((i.mode & S_IFMT) !== S_IFREG) fail("EINVAL");
      this.setSize(i, c.size);
      i.mtime = t;
    }
    if (c.mode !== undefined) i.mode = (i.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) i.uid = c.uid;
    if (c.gid !== undefined) i.gid = c.gid;
    if (c.atime !== undefined) i.atime = c.atime === "now" ? t : c.atime;
    if (c.mtime !== undefined) i.mtime = c.mtime === "now" ? t : c.mtime;
    i.ctime = c.ctime ?? t;
    return this.attrReply(i);
  }

  async readlink(_ctx: FuseCtx, ino: number): Promise<Buffer> {
    const i = this.get(ino);
    if (!i.target) fail("EINVAL");
    return i.target;
  }

  async symlink(ctx: FuseCtx, parent: number, name: Buffer, target: Buffer): Promise<FuseEntry> {
    if (target.length === 0 || target.length > 4095) fail(target.length === 0 ? "ENOENT" : "ENAMETOOLONG");
    const i = this.create0(ctx, parent, name, S_IFLNK | 0o777, 0);
    i.target = Buffer.from(target);
    i.size = target.length;
    return this.entry(i);
  }

  async mknod(ctx: FuseCtx, parent: number, name: Buffer, mode: number, rdev: number, umask: number): Promise<FuseEntry> {
    return this.entry(this.create0(ctx, parent, name, this.applyUmask(mode, umask), rdev));
  }

  async mkdir(ctx: FuseCtx, parent: number, name: Buffer, mode: number, umask: number): Promise<FuseEntry> {
    return this.entry(this.create0(ctx, parent, name, S_IFDIR | (this.applyUmask(mode, umask) & 0o7777), 0));
  }

  async unlink(_ctx: FuseCtx, parent: number, name: Buffer): Promise<void> {
    const d = this.dirOf(parent);
    const e = d.dir.get(key(name));
    if (!e) fail("ENOENT");
    const i = this.get(e.ino);
    if (i.dir) fail("EISDIR");
    this.removeEntry(d, name);
    i.nlink--;
    i.ctime = now();
    this.maybeDrop(i);
  }

  async rmdir(_ctx: FuseCtx, parent: number, name: Buffer): Promise<void> {
    const d = this.dirOf(parent);
    const k = key(name);
    if (k === ".") fail("EINVAL");
    if (k === "..") fail("ENOTEMPTY");
    const e = d.dir.get(k);
    if (!e) fail("ENOENT");
    const i = this.get(e.ino);
    if (!i.dir) fail("ENOTDIR");
    if (i.dir.size > 0) fail("ENOTEMPTY");
    this.removeEntry(d, name);
    d.nlink--;
    i.nlink = 0;
    i.ctime = now();
    this.maybeDrop(i);
  }

  async rename(_ctx: FuseCtx, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) fail("EINVAL");
    this.checkName(newName);
    const sd = this.dirOf(parent);
    const dd = this.dirOf(newParent);
    const se = sd.dir.get(key(name));
    if (!se) fail("ENOENT");
    const src = this.get(se.ino);
    const de = dd.dir.get(key(newName));
    const dst = de ? this.get(de.ino) : null;
    if (src.dir && dd.ino !== sd.ino) {
      // no directory may move below itself
      for (let a = dd.ino; ; a = this.get(a).parent) {
        if (a === src.ino) fail("EINVAL");
        if (a === 1) break;
      }
    }
    if (flags & RENAME_EXCHANGE) {
      if (!dst) fail("ENOENT");
      sd.dir.set(key(name), { ino: dst.ino, pos: se.pos });
      dd.dir.set(key(newName), { ino: src.ino, pos: de!.pos });
      if (src.dir && dst.dir && sd !== dd) {
        src.parent = dd.ino;
        dst.parent = sd.ino;
      } else if (src.dir !== null && sd !== dd) {
        src.parent = dd.ino;
        sd.nlink--;
        dd.nlink++;
      } else if (dst.dir !== null && sd !== dd) {
        dst.parent = sd.ino;
        dd.nlink--;
        sd.nlink++;
      }
      const t = now();
      src.ctime = dst.ctime = sd.mtime = sd.ctime = dd.mtime = dd.ctime = t;
      return;
    }
    if (dst) {
      if (flags & RENAME_NOREPLACE) fail("EEXIST");
      if (dst.ino === src.ino) return;
      if (src.dir && !dst.dir) fail("ENOTDIR");
      if (!src.dir && dst.dir) fail("EISDIR");
      if (dst.dir && dst.dir.size > 0) fail("ENOTEMPTY");
      this.removeEntry(dd, newName);
      if (dst.dir) {
        dd.nlink--;
        dst.nlink = 0;
      } else dst.nlink--;
      dst.ctime = now();
      this.maybeDrop(dst);
    }
    this.removeEntry(sd, name);
    this.addEntry(dd, newName, src.ino);
    if (src.dir && sd !== dd) {
      sd.nlink--;
      dd.nlink++;
      src.parent = dd.ino;
    }
    src.ctime = now();
  }

  async link(_ctx: FuseCtx, ino: number, newParent: number, newName: Buffer): Promise<FuseEntry> {
    this.checkName(newName);
    const i = this.get(ino);
    if (i.dir) fail("EPERM");
    const d = this.dirOf(newParent);
    if (d.dir.has(key(newName))) fail("EEXIST");
    this.addEntry(d, newName, ino);
    i.nlink++;
    i.ctime = now();
    return this.entry(i);
  }

  private openReply(): FuseOpenReply {
    return { fh: this.nextFh++, keepCache: this.opts.keepCache ?? true, noFlush: this.opts.noFlush ?? false };
  }

  async open(_ctx: FuseCtx, ino: number, flags: number): Promise<FuseOpenReply> {
    const i = this.get(ino);
    if (i.dir) fail("EISDIR");
    if (flags & O_TRUNC && (flags & O_ACCMODE) !== 0 && (i.mode & S_IFMT) === S_IFREG) {
      this.setSize(i, 0);
      i.mtime = i.ctime = now();
    }
    i.opens++;
    return this.openReply();
  }

  /** into the session's lent buffer, so the tests through a mount check that it is not reused too early */
  async read(_ctx: FuseCtx, ino: number, _fh: number, offset: number, size: number, into: Buffer): Promise<Buffer> {
    const i = this.get(ino);
    const data = this.readData(i, offset, size);
    data.copy(into);
    return into.subarray(0, data.length);
  }

  async write(_ctx: FuseCtx, ino: number, _fh: number, offset: number, data: Buffer): Promise<number> {
    const i = this.get(ino);
    this.writeData(i, offset, data);
    i.mtime = i.ctime = now();
    return data.length;
  }

  async statfs(): Promise<FuseStatfs> {
    let used = 0;
    for (const i of this.inodes.values()) used += Math.ceil(i.size / BLOCK);
    const blocks = Math.floor((this.opts.capacity ?? 64 * 2 ** 30) / BLOCK);
    const free = Math.max(0, blocks - used);
    return { blocks, bfree: free, bavail: free, files: 1 << 20, ffree: (1 << 20) - this.inodes.size, bsize: BLOCK, frsize: BLOCK, namelen: NAME_MAX };
  }

  async release(_ctx: FuseCtx, ino: number): Promise<void> {
    const i = this.inodes.get(ino);
    if (!i) return;
    i.opens--;
    this.maybeDrop(i);
  }

  async fsync(): Promise<void> {}
  async fsyncdir(): Promise<void> {}
  async flush(): Promise<void> {}

  async setxattr(_ctx: FuseCtx, ino: number, name: Buffer, value: Buffer, flags: number): Promise<void> {
    const i = this.get(ino);
    if (name.length === 0 || name.length > NAME_MAX) fail("ERANGE");
    if (value.length > XATTR_SIZE_MAX) fail("E2BIG");
    const k = key(name);
    const has = i.xattrs.has(k);
    if (flags & XATTR_CREATE && has) fail("EEXIST");
    if (flags & XATTR_REPLACE && !has) fail("ENODATA");
    if (k === ACL_ACCESS) {
      // FUSE_POSIX_ACL: the kernel enforces ACLs, the filesystem keeps the mode in sync with them
      const perms = aclModeBits(value);
      if (perms === null) fail("EINVAL");
      i.mode = (i.mode & ~0o777) | perms;
    }
    i.xattrs.set(k, Buffer.from(value));
    i.ctime = now();
  }

  async getxattr(_ctx: FuseCtx, ino: number, name: Buffer): Promise<Buffer> {
    const v = this.get(ino).xattrs.get(key(name));
    if (!v) fail("ENODATA");
    return v;
  }

  async listxattr(_ctx: FuseCtx, ino: number): Promise<Buffer[]> {
    return [...this.get(ino).xattrs.keys()].map((k) => Buffer.from(k, "latin1"));
  }

  async removexattr(_ctx: FuseCtx, ino: number, name: Buffer): Promise<void> {
    const i = this.get(ino);
    if (!i.xattrs.delete(key(name))) fail("ENODATA");
    i.ctime = now();
  }

  async opendir(_ctx: FuseCtx, ino: number): Promise<FuseOpenReply> {
    this.dirOf(ino);
    return { fh: this.nextFh++ };
  }

  async releasedir(): Promise<void> {}

  /** entries from offset as [name, inode, nextOffset], "." and ".." first */
  private *entriesFrom(d: Inode & { dir: Map<string, DirEnt> }, offset: number): Generator<[Buffer, Inode, number]> {
    if (offset < 1) yield [Buffer.from("."), d, 1];
    if (offset < 2) yield [Buffer.from(".."), this.get(d.parent), 2];
    // first slot with pos >= offset
    let lo = 0;
    let hi = d.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d.order[mid]!.pos < offset) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo; j < d.order.length; j++) {
      const o = d.order[j]!;
      const e = d.dir.get(o.key);
      if (!e || e.pos !== o.pos) continue;
      const i = this.inodes.get(e.ino);
      if (i) yield [Buffer.from(o.key, "latin1"), i, o.pos + 1];
    }
  }

  async readdir(_ctx: FuseCtx, ino: number, _fh: number, offset: number, size: number): Promise<FuseDirent[]> {
    const d = this.dirOf(ino);
    const out: FuseDirent[] = [];
    let used = 0;
    for (const [name, i, next] of this.entriesFrom(d, offset)) {
      used += (24 + name.length + 7) & ~7;
      if (used > size) break;
      out.push({ name, ino: i.ino, type: (i.mode >>> 12) & 15, nextOffset: next });
    }
    return out;
  }

  async readdirplus(_ctx: FuseCtx, ino: number, _fh: number, offset: number, size: number): Promise<FuseDirentPlus[]> {
    const d = this.dirOf(ino);
    const out: FuseDirentPlus[] = [];
    let used = 0;
    for (const [name, i, next] of this.entriesFrom(d, offset)) {
      used += (152 + name.length + 7) & ~7;
      if (used > size) break;
      const dot = name.length <= 2 && (name.toString() === "." || name.toString() === "..");
      if (dot) out.push({ name, entry: null, ino: i.ino, type: (i.mode >>> 12) & 15, nextOffset: next });
      else out.push({ name, entry: this.entry(i), nextOffset: next });
    }
    return out;
  }

  async create(ctx: FuseCtx, parent: number, name: Buffer, mode: number, umask: number): Promise<FuseCreateReply> {
    const i = this.create0(ctx, parent, name, this.applyUmask(mode, umask), 0);
    i.opens++;
    return { ...this.entry(i), ...this.openReply() };
  }

  async tmpfile(ctx: FuseCtx, parent: number, mode: number, umask: number): Promise<FuseCreateReply> {
    this.dirOf(parent);
    const i = this.newInode(this.applyUmask(mode, umask), ctx.uid, ctx.gid, 0);
    i.nlink = 0;
    i.opens++;
    return { ...this.entry(i), ...this.openReply() };
  }

  async fallocate(_ctx: FuseCtx, ino: number, _fh: number, offset: number, length: number, mode: number): Promise<void> {
    if (mode & ~FALLOC_FL_KEEP_SIZE) fail("EOPNOTSUPP");
    const i = this.get(ino);
    if ((i.mode & S_IFMT) !== S_IFREG) fail("ENODEV");
    if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + length > i.size) {
      this.setSize(i, offset + length);
      i.mtime = i.ctime = now();
    }
  }

  async lseek(_ctx: FuseCtx, ino: number, _fh: number, offset: number, whence: number): Promise<number> {
    const i = this.get(ino);
    if (offset >= i.size) fail("ENXIO");
    if (whence === SEEK_DATA) return offset;
    if (whence === SEEK_HOLE) return i.size;
    fail("EINVAL");
  }

  async copyFileRange(_ctx: FuseCtx, inoIn: number, _fhIn: number, offIn: number, inoOut: number, _fhOut: number, offOut: number, len: number): Promise<number> {
    const src = this.get(inoIn);
    const dst = this.get(inoOut);
    const n = Math.max(0, Math.min(len, src.size - offIn));
    if (n === 0) return 0;
    // a copy first: source and destination may be the same file
    this.writeData(dst, offOut, Buffer.from(this.readData(src, offIn, n)));
    dst.mtime = dst.ctime = now();
    return n;
  }

  async access(): Promise<void> {}
}
