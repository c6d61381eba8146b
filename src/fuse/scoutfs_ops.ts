/*
 * ScoutfsFuseOps: the FUSE low-level ops (ops.ts) over the fs layer's
 * Filesystem (src/fs/filesystem.ts).  Both speak inode numbers, names as
 * bytes and Linux flag values, so most ops are a direct call plus a
 * conversion of the fs Attr into a FuseAttr / FuseEntry.
 *
 * Design and invariants:
 * * Inode numbers are the fs's; the root is inode 1 on both sides.
 *   scoutfs never reuses inode numbers (the server hands out ever larger
 *   ranges), so the generation is a constant (GENERATION) and
 *   nodeid:generation stays unique for the life of the filesystem.
 * * Lookup counts: every reply carrying an entry (lookup, mknod, mkdir,
 *   symlink, link, create, tmpfile, readdirplus entries other than "." and
 *   "..") adds one to `lookups`; forget() takes off what the kernel says.
 *   The counts are bookkeeping only (lookupCount() for tests): the fs
 *   keeps an inode findable while it has names or open handles, which is
 *   what the kernel relies on (it does no I/O on an inode without an open
 *   file, and getattr of an unlinked, closed inode may fail with ENOENT).
 * * Open handles: open/create call fs.open (tmpfile is counted by the fs
 *   itself), release calls fs.release, so a file unlinked while open stays
 *   alive (an orphan) until its last release, and is deleted then; orphans
 *   left by a crash are deleted at the next mount.  The fh is the inode
 *   number (the fs counts handles per inode; nothing is kept per handle).
 *   Directories need no handle: opendir/releasedir are not implemented
 *   (the session defaults: fh 0, success).
 * * Readdir offsets are the fs's readdir positions: "." 0, ".." 1, then the
 *   stored entries' positions; an entry's nextOffset is its nextPos.
 * * POSIX ACLs and the umask: the session is started with posixAcl as
 *   the fs's ACL option (the acl / noacl mount option; runMountDaemon in
 *   src/cli/cmd_mount.ts keeps the two the same).  With ACLs, the kernel
 *   negotiates POSIX_ACL and DONT_MASK: it enforces ACLs itself (reading
 *   them as the system.posix_acl_* xattrs, which pass straight through to
 *   the fs) and leaves the umask to us, so create/mknod/mkdir/tmpfile
 *   hand the umask to the fs, which applies it unless the parent has a
 *   default ACL (src/fs/acl.ts).  The fs also keeps the mode and the
 *   access ACL in step on setxattr and chmod, which FUSE leaves to the
 *   filesystem.  With noacl the kernel applies the umask before we see
 *   the mode (applying it again changes nothing) and the fs refuses the
 *   ACL xattrs with EOPNOTSUPP.
 * * Write buffers are views of the session's read buffer; fs.write copies
 *   the bytes into its own block buffers before its promise settles.
 * * Open with O_TRUNC truncates here (ATOMIC_O_TRUNC is negotiated), an
 *   empty file too: the truncate sets mtime and ctime, as POSIX asks.
 * * Offline blocks: read, write, a size change (and copy_file_range, made
 *   of reads and writes) that need offline blocks wait in the fs until
 *   they are staged; each passes the request's ctx (signal and pid), so an
 *   INTERRUPT from the kernel (the caller got a signal) ends the wait
 *   with EINTR.  The kernel interrupts only requests sent from the
 *   caller's own context, and readahead READs are sent in the background
 *   (FUSE_ASYNC_READ, kept for sequential read speed: twice the MB/s of
 *   synchronous reads): a file that has offline blocks when it is opened
 *   is opened with FOPEN_DIRECT_IO, so its reads come from the reader
 *   (interruptible, and failed once by data-wait-err, no page retry);
 *   mmap of it still works (DIRECT_IO_ALLOW_MMAP).  A file released while
 *   open keeps its cached opening: a reader killed while waiting dies
 *   (the kernel's page wait is killable) but its background READ waits
 *   on until staged or failed.  A waiting request holds no lock and no pool thread:
 *   other requests, on this inode too, go on meanwhile.  The byte ranges
 *   of READ/WRITE requests in flight are kept (busyRanges) so that
 *   dropping the kernel's cached pages (inval.ts) leaves out the pages
 *   the kernel holds locked for them.
 * * Errors: the fs throws FsError with an errno name, which the session
 *   maps; nothing here catches them except where noted.
 * * Permissions are the kernel's (the mount uses default_permissions);
 *   clearing setuid/setgid on write/chown comes from the kernel as SETATTR.
 */
import { SCOUTFS_XATTR_PREFIX } from "../fs/xattr_tags.js";
import { CAP_SYS_ADMIN, hasCap, readProcCredsAsync } from "../util/proc_creds.js";
import { Buffer } from "node:buffer";
import type { Filesystem } from "../fs/filesystem.js";
import type { Attr, SetAttrChanges } from "../fs/types.js";
import {
  FuseError,
  type FuseAttr,
  type FuseAttrReply,
  type FuseConnInfo,
  type FuseCreateReply,
  type FuseCtx,
  type FuseDirent,
  type FuseDirentPlus,
  type FuseEntry,
  type FuseOpenReply,
  type FuseOps,
  type FuseSetattr,
  type FuseStatfs,
} from "./ops.js";
import { FUSE_SETXATTR_ACL_KILL_SGID, direntSize, direntplusSize } from "./protocol.js";
import type { SessionOptions } from "./session.js";
import { InFlight, type ByteRange } from "./inval.js";

/*
 * How long the kernel keeps names, negative names and attributes.  With
 * one mount every change comes through this kernel, which keeps its own
 * caches right as it makes them (create/link/rename/unlink update the
 * dcache; setattr, write, link, unlink, rename, xattr changes and the
 * directory changes invalidate the attributes they touch; reads invalidate
 * atime), so nothing it caches goes stale and long timeouts cost nothing
 * in correctness.  Changes the daemon makes on its own (orphan deletion)
 * touch no name or inode the kernel can still reach.  A multi-mount
 * cluster must drop what another mount changed when it loses a lock:
 * session.notifyInvalEntry (names, negative ones included) and
 * notifyInvalInode (attributes and cached pages).
 */
export const KERNEL_CACHE_TIMEOUT_S = 3600;

/** session options for ScoutfsFuseOps (posixAcl must be the fs's acl option) */
export const SCOUTFS_SESSION_OPTIONS: SessionOptions = {
  entryTimeout: KERNEL_CACHE_TIMEOUT_S,
  attrTimeout: KERNEL_CACHE_TIMEOUT_S,
  negativeTimeout: KERNEL_CACHE_TIMEOUT_S,
  // sequential reads of archive files: 16 MiB of readahead keeps many 1 MiB READs in flight, so the
  // device reads of several overlap (measured, 1 GiB cold: 4 MiB 830 MB/s, 16 MiB 1000-1050, 32 MiB no better)
  maxReadahead: 16 << 20,
};

const GENERATION = 1;
/** copy_file_range moves this much per read/write inside the daemon */
const COPY_CHUNK = 1 << 20;
/** and at most this much per request, so one request never holds on for long */
const COPY_MAX_PER_REQUEST = 64 << 20;
const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

export interface ScoutfsFuseOpsOptions {
  /** seconds the kernel caches names (default KERNEL_CACHE_TIMEOUT_S) */
  entryTimeout?: number;
  /** seconds the kernel caches attributes (default KERNEL_CACHE_TIMEOUT_S) */
  attrTimeout?: number;
  /** let the kernel keep cached pages across opens (default true: this mount is the only writer) */
  keepCache?: boolean;
  /**
   * Names the mount answers ENOENT for without asking the fs, seeing who
   * looked them up: the control socket's authentication (control/auth.ts).
   * Called for every lookup, so it must be cheap for ordinary names.
   */
  reservedLookup?: (name: Buffer, ctx: FuseCtx) => boolean;
}

/**
 * the fs Attr as the kernel wants it: the Attr itself.  It has every
 * field of a FuseAttr with the same meaning (rdev a u32 as stored,
 * blksize always set, its own copies of the times: toAttr in
 * fs/inode.ts makes every Attr), and the reply is encoded before the
 * request ends, so a second copy of a dozen fields and three times per
 * entry, lookup or getattr bought nothing.
 */
export function toFuseAttr(a: Attr): FuseAttr {
  return a;
}

function split0(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(Buffer.from(buf.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(Buffer.from(buf.subarray(start)));
  return out;
}

export class ScoutfsFuseOps implements FuseOps {
  private readonly lookups = new Map<number, number>();
  private readonly entryTimeout: number;
  private readonly attrTimeout: number;
  private readonly keepCache: boolean;
  private readonly reservedLookup: ((name: Buffer, ctx: FuseCtx) => boolean) | undefined;
  /** what INIT agreed (null before INIT) */
  conn: FuseConnInfo | null = null;
  /** READ and WRITE requests not answered yet (the kernel holds their pages locked) */
  private readonly dataInFlight = new InFlight();

  constructor(
    readonly fs: Filesystem,
    opts: ScoutfsFuseOpsOptions = {},
  ) {
    this.entryTimeout = opts.entryTimeout ?? KERNEL_CACHE_TIMEOUT_S;
    this.attrTimeout = opts.attrTimeout ?? KERNEL_CACHE_TIMEOUT_S;
    this.keepCache = opts.keepCache ?? true;
    this.reservedLookup = opts.reservedLookup;
  }

  /** the kernel's lookup count of ino as this side has counted it */
  lookupCount(ino: number): number {
    return this.lookups.get(ino) ?? 0;
  }

  /** byte ranges of ino that READ/WRITE requests in flight cover (inval.ts leaves them out) */
  busyRanges(ino: number): ByteRange[] {
    return this.dataInFlight.ranges(ino);
  }

  /** inodes the kernel holds lookups on */
  lookupTotal(): number {
    return this.lookups.size;
  }

  /* ---------------------------------------------------------------- */

  private entry(a: Attr): FuseEntry {
    this.lookups.set(a.ino, (this.lookups.get(a.ino) ?? 0) + 1);
    return { attr: toFuseAttr(a), generation: GENERATION, entryTimeout: this.entryTimeout, attrTimeout: this.attrTimeout };
  }

  private attrReply(a: Attr): FuseAttrReply {
    return { attr: toFuseAttr(a), attrTimeout: this.attrTimeout };
  }

  /**
   * noFlush: flush() does nothing (writes are not buffered here), so
   * close() need not wait for a FLUSH round trip.  directIo for a file
   * with offline blocks: its reads must come from the reader's context.
   */
  private openReply(ino: number, offline = false): FuseOpenReply {
    return offline ? { fh: ino, directIo: true, noFlush: true } : { fh: ino, keepCache: this.keepCache, noFlush: true };
  }

  /**
   * the entry and the open of a new file (no offline blocks) in one
   * literal: spreading the two replies into one object made V8 build it in
   * dictionary mode, measured at 2.5 KB and 4 µs per create
   */
  private createReply(a: Attr): FuseCreateReply {
    const e = this.entry(a);
    const o = this.openReply(a.ino);
    return {
      attr: e.attr, generation: e.generation, entryTimeout: e.entryTimeout, attrTimeout: e.attrTimeout,
      fh: o.fh, keepCache: o.keepCache, noFlush: o.noFlush,
    };
  }

  /* ---------------------------------------------------------------- */

  init(info: FuseConnInfo): void {
    this.conn = info;
  }

  async destroy(): Promise<void> {
    // the daemon commits at unmount (Mount.unmount); nothing is held here
  }

  /** null for a missing name: the session caches it as a negative entry (negativeTimeout) */
  async lookup(ctx: FuseCtx, parent: number, name: Buffer): Promise<FuseEntry | null> {
    // an error reply, not a negative entry: nothing of a reserved name stays in the kernel's cache
    if (this.reservedLookup?.(name, ctx)) throw new FuseError("ENOENT");
    const a = await this.fs.lookupEntry(parent, name);
    return a ? this.entry(a) : null;
  }

  forget(ino: number, nlookup: number): void {
    const left = (this.lookups.get(ino) ?? 0) - nlookup;
    if (left > 0) this.lookups.set(ino, left);
    else this.lookups.delete(ino);
  }

  async getattr(_ctx: FuseCtx, ino: number, _fh: number | null): Promise<FuseAttrReply> {
    return this.attrReply(await this.fs.getattr(ino));
  }

  async setattr(ctx: FuseCtx, ino: number, c: FuseSetattr): Promise<FuseAttrReply> {
    const ch: SetAttrChanges = {};
    if (c.mode !== undefined) ch.mode = c.mode & 0o7777;
    if (c.uid !== undefined) ch.uid = c.uid;
    if (c.gid !== undefined) ch.gid = c.gid;
    if (c.size !== undefined) ch.size = c.size;
    if (c.atime !== undefined) ch.atime = c.atime;
    if (c.mtime !== undefined) ch.mtime = c.mtime;
    if (c.ctime !== undefined) ch.ctime = c.ctime;
    if (c.killSuidgid) {
      const cur = await this.fs.getattr(ino);
      const mode = ch.mode ?? cur.mode & 0o7777;
      ch.mode = mode & ~0o4000 & ~(mode & 0o10 ? 0o2000 : 0);
    }
    return this.attrReply(await this.fs.setattr(ino, ch, ctx));
  }

  async readlink(_ctx: FuseCtx, ino: number): Promise<Buffer> {
    return this.fs.readlink(ino);
  }

  async symlink(ctx: FuseCtx, parent: number, name: Buffer, target: Buffer): Promise<FuseEntry> {
    return this.entry(await this.fs.symlink(parent, name, target, ctx.uid, ctx.gid));
  }

  async mknod(ctx: FuseCtx, parent: number, name: Buffer, mode: number, rdev: number, umask: number): Promise<FuseEntry> {
    return this.entry(await this.fs.mknod(parent, name, mode, ctx.uid, ctx.gid, rdev, umask));
  }

  async mkdir(ctx: FuseCtx, parent: number, name: Buffer, mode: number, umask: number): Promise<FuseEntry> {
    return this.entry(await this.fs.mkdir(parent, name, mode & 0o7777, ctx.uid, ctx.gid, umask));
  }

  async unlink(_ctx: FuseCtx, parent: number, name: Buffer): Promise<void> {
    await this.fs.unlink(parent, name);
  }

  async rmdir(_ctx: FuseCtx, parent: number, name: Buffer): Promise<void> {
    await this.fs.rmdir(parent, name);
  }

  async rename(_ctx: FuseCtx, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void> {
    if (flags & 4) throw new FuseError("EINVAL", "RENAME_WHITEOUT is not supported");
    await this.fs.rename(parent, name, newParent, newName, flags);
  }

  async link(_ctx: FuseCtx, ino: number, newParent: number, newName: Buffer): Promise<FuseEntry> {
    return this.entry(await this.fs.link(ino, newParent, newName));
  }

  async open(_ctx: FuseCtx, ino: number, flags: number): Promise<FuseOpenReply> {
    const a = await this.fs.open(ino);
    let offline = false;
    try {
      if ((a.mode & S_IFMT) === S_IFREG) {
        if (flags & O_TRUNC && (flags & O_ACCMODE) !== O_RDONLY) await this.fs.setattr(ino, { size: 0 });
        else offline = a.offlineBlocks > 0;
      }
    } catch (e) {
      await this.fs.release(ino).catch(() => {});
      throw e;
    }
    return this.openReply(ino, offline);
  }

  async create(ctx: FuseCtx, parent: number, name: Buffer, mode: number, umask: number, _flags: number): Promise<FuseCreateReply> {
    const a = await this.fs.createOpen(parent, name, S_IFREG | (mode & 0o7777), ctx.uid, ctx.gid, umask);
    return this.createReply(a);
  }

  async tmpfile(ctx: FuseCtx, parent: number, mode: number, umask: number, _flags: number): Promise<FuseCreateReply> {
    // the fs counts the tmpfile's handle itself (it is an open orphan from the start)
    const a = await this.fs.tmpfile(parent, S_IFREG | (mode & 0o7777), ctx.uid, ctx.gid, umask);
    return this.createReply(a);
  }

  async read(ctx: FuseCtx, ino: number, _fh: number, offset: number, size: number, into?: Buffer): Promise<Buffer> {
    const done = this.dataInFlight.add(ino, offset, offset + size);
    try {
      return await this.fs.read(ino, offset, size, ctx, into);
    } finally {
      done();
    }
  }

  async write(ctx: FuseCtx, ino: number, _fh: number, offset: number, data: Buffer, _writeFlags: number, _openFlags: number): Promise<number> {
    const done = this.dataInFlight.add(ino, offset, offset + data.length);
    try {
      return await this.fs.write(ino, offset, data, ctx);
    } finally {
      done();
    }
  }

  /**
   * copy_file_range: the bytes move inside the daemon (read then write,
   * COPY_CHUNK at a time), not through the kernel and back.  The kernel has
   * already checked the flags, the file types and overlapping ranges of one
   * file, and drops its cached pages of the output range when we answer.
   * At most COPY_MAX_PER_REQUEST per request (a shorter count is allowed;
   * callers ask again), fewer at the input's end of file.
   */
  async copyFileRange(
    ctx: FuseCtx,
    inoIn: number,
    _fhIn: number,
    offIn: number,
    inoOut: number,
    _fhOut: number,
    offOut: number,
    len: number,
    _flags: number,
  ): Promise<number> {
    let copied = 0;
    const want = Math.min(len, COPY_MAX_PER_REQUEST);
    while (copied < want) {
      const chunk = await this.fs.read(inoIn, offIn + copied, Math.min(COPY_CHUNK, want - copied), ctx);
      if (chunk.length === 0) break;
      const n = await this.fs.write(inoOut, offOut + copied, chunk, ctx);
      copied += n;
      if (n < chunk.length) break;
    }
    return copied;
  }

  async release(_ctx: FuseCtx, ino: number, _fh: number, _flags: number, _releaseFlags: number, _lockOwner: bigint): Promise<void> {
    await this.fs.release(ino);
  }

  async flush(_ctx: FuseCtx, _ino: number, _fh: number, _lockOwner: bigint): Promise<void> {
    // writes are not buffered here; durability is fsync's
  }

  async fsync(_ctx: FuseCtx, ino: number, _fh: number, _datasync: boolean): Promise<void> {
    await this.fs.fsync(ino);
  }

  async fsyncdir(_ctx: FuseCtx, ino: number, _fh: number, _datasync: boolean): Promise<void> {
    await this.fs.fsync(ino);
  }

  async syncfs(_ctx: FuseCtx, ino: number): Promise<void> {
    await this.fs.fsync(ino);
  }

  async statfs(_ctx: FuseCtx, _ino: number): Promise<FuseStatfs> {
    const s = await this.fs.statfs();
    return {
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      bsize: s.bsize,
      namelen: s.namelen,
      frsize: s.frsize || s.bsize,
    };
  }

  async setxattr(ctx: FuseCtx, ino: number, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): Promise<void> {
    // the fs encodes the value into its own items before the promise settles
    await this.fs.setxattr(ino, name, value, flags, {
      aclKillSgid: (setxattrFlags & FUSE_SETXATTR_ACL_KILL_SGID) !== 0,
      sysAdmin: await callerMayTag(ctx, name),
    });
  }

  async getxattr(_ctx: FuseCtx, ino: number, name: Buffer): Promise<Buffer> {
    return this.fs.getxattr(ino, name);
  }

  async listxattr(_ctx: FuseCtx, ino: number): Promise<Buffer[]> {
    // the raw NUL-terminated names (names are bytes, not necessarily UTF-8)
    const raw = await this.fs.listxattr(ino, Number.MAX_SAFE_INTEGER);
    return typeof raw === "number" ? [] : split0(raw);
  }

  async removexattr(ctx: FuseCtx, ino: number, name: Buffer): Promise<void> {
    await this.fs.removexattr(ino, name, { sysAdmin: await callerMayTag(ctx, name) });
  }

  async readdir(_ctx: FuseCtx, ino: number, _fh: number, offset: number, size: number): Promise<FuseDirent[]> {
    const max = Math.max(1, Math.floor(size / direntSize("x")));
    const out: FuseDirent[] = [];
    let used = 0;
    for (const d of await this.fs.readdir(ino, offset, max)) {
      const sz = direntSize(d.nameBuf);
      if (used + sz > size) break;
      used += sz;
      out.push({ name: d.nameBuf, ino: d.ino, type: d.type, nextOffset: d.nextPos });
    }
    return out;
  }

  async readdirplus(_ctx: FuseCtx, ino: number, _fh: number, offset: number, size: number): Promise<FuseDirentPlus[]> {
    const max = Math.max(1, Math.floor(size / direntplusSize("x")));
    const out: FuseDirentPlus[] = [];
    let used = 0;
    for (const d of await this.fs.readdir(ino, offset, max)) {
      const sz = direntplusSize(d.nameBuf);
      if (used + sz > size) break; // not counted: it is not returned
      used += sz;
      const dot = d.nameBuf.length <= 2 && (d.name === "." || d.name === "..");
      let entry: FuseEntry | null = null;
      if (!dot) {
        try {
          // from memory when it can be, without a promise per entry (about a tenth of a readdirplus)
          entry = this.entry(this.fs.getattrNow(d.ino) ?? (await this.fs.getattr(d.ino)));
        } catch (e) {
          // removed since the readdir: give the name alone
          if ((e as { errno?: string }).errno !== "ENOENT") throw e;
        }
      }
      out.push(entry ? { name: d.nameBuf, entry, nextOffset: d.nextPos } : { name: d.nameBuf, entry: null, ino: d.ino, type: d.type, nextOffset: d.nextPos });
    }
    return out;
  }

  async fallocate(_ctx: FuseCtx, ino: number, _fh: number, offset: number, length: number, mode: number): Promise<void> {
    await this.fs.fallocate(ino, mode, offset, length);
  }

  async lseek(_ctx: FuseCtx, ino: number, _fh: number, offset: number, whence: number): Promise<number> {
    return this.fs.lseek(ino, offset, whence);
  }
}

const SCOUTFS_PREFIX = Buffer.from(SCOUTFS_XATTR_PREFIX);

/**
 * Whether the caller of a change of a scoutfs. xattr has CAP_SYS_ADMIN
 * (which tagged xattrs need); the FUSE header names the caller's thread,
 * whose capabilities /proc tells.  Other names need no look.
 */
async function callerMayTag(ctx: FuseCtx, name: Buffer): Promise<boolean> {
  if (!name.subarray(0, SCOUTFS_PREFIX.length).equals(SCOUTFS_PREFIX)) return false;
  const creds = await readProcCredsAsync(ctx.pid);
  return creds !== undefined && hasCap(creds.capEff, CAP_SYS_ADMIN);
}
