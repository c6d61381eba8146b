/*
 * FuseOps: what the FUSE session (session.ts) asks of a filesystem.
 *
 * Design:
 * * One async method per kernel request, inode-numbered like the kernel's
 *   low-level protocol.  Arguments are already decoded (numbers, Buffers,
 *   small objects); results are plain objects.  The session encodes them.
 * * Every method gets a FuseCtx first: the caller's uid/gid/pid, the
 *   request's unique id and an AbortSignal that fires when the kernel sends
 *   INTERRUPT for the request (best effort: a method may ignore it, or throw
 *   an error with errno "EINTR").
 * * Failure is an exception with an `errno` string property naming a Linux
 *   errno ("ENOENT", "EEXIST", ...).  FuseError below is one such error; the
 *   fs layer's FsError (src/util/errors.ts) is another.  The session maps the
 *   name to the number with os.constants.errno.  Anything else (a TypeError,
 *   an errno name the platform lacks) becomes EIO and is logged.
 * * Every method is optional.  A missing one gets the kernel's "not
 *   implemented" (ENOSYS) reply, which for most requests makes the kernel
 *   stop sending them (FLUSH, FSYNC, ACCESS, FALLOCATE, LSEEK, ...), except:
 *   open/opendir (default: fh 0), release/releasedir (default: success),
 *   forget (default: nothing), statfs (default: an empty filesystem).
 *
 * Invariants the filesystem must keep:
 * * Lookup counts: every reply carrying an entry (lookup, mknod, mkdir,
 *   symlink, link, create, tmpfile, and each readdirplus entry with an
 *   `entry`, "." and ".." excepted) adds one to the kernel's lookup count of
 *   that inode; forget(ino, n) takes n off.  The inode must stay findable by
 *   number until its count is zero.  When the session cannot deliver such a
 *   reply (the kernel dropped an interrupted request, or a readdirplus entry
 *   did not fit in the reply buffer), the session itself calls forget() for
 *   it, so the filesystem counts every entry it returns.
 * * Buffers passed in (`data` of write, names, xattr values) are valid only
 *   until the returned promise settles: `data` of write is a view of the
 *   session's read buffer, reused for later requests.  Copy what you keep.
 * * Names are bytes (Buffers): Linux names need not be UTF-8.
 * * Inode numbers are JavaScript safe integers; the root is inode 1
 *   (FUSE_ROOT_ID).  File handles (fh) are numbers the filesystem chooses.
 * * Umask: the session negotiates FUSE_DONT_MASK when POSIX ACLs are on, so
 *   the kernel does NOT apply the umask: create/mknod/mkdir/tmpfile get the
 *   caller's mode and umask, and the filesystem applies the umask unless the
 *   parent has a default ACL (then the ACL decides).  `FuseConnInfo.dontMask`
 *   says which was negotiated.
 * * POSIX ACLs (FUSE_POSIX_ACL, `FuseConnInfo.posixAcl`): the kernel caches
 *   and enforces them, reading and writing them as the xattrs
 *   system.posix_acl_access / system.posix_acl_default.  The filesystem
 *   keeps the mode in sync when the access ACL is set (the kernel consults
 *   the ACL only when the group bits are non-zero) and gives new inodes the
 *   parent's default ACL.
 */
import type { Buffer } from "node:buffer";

/** an error the session replies with; any error with an `errno` name works */
export class FuseError extends Error {
  readonly errno: string;
  constructor(errno: string, message?: string) {
    super(message ? `${errno}: ${message}` : errno);
    this.errno = errno;
    this.name = "FuseError";
  }
}

export interface Timespec {
  sec: number;
  nsec: number;
}

/** who asked, and a signal for INTERRUPT */
export interface FuseCtx {
  uid: number;
  gid: number;
  pid: number;
  /** the request's unique id from the kernel */
  unique: bigint;
  /** aborted when the kernel interrupts this request (the caller got a signal) */
  signal: AbortSignal;
}

/** what the kernel caches of an inode (fuse_attr); the fs layer's Attr is a superset */
export interface FuseAttr {
  ino: number;
  size: number;
  /** 512-byte units */
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  /** file type and permission bits (S_IFMT | 07777) */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

/** a name's inode, for replies that create or find a name */
export interface FuseEntry {
  attr: FuseAttr;
  /** nodeid:generation must be unique for the life of the filesystem; default 0 */
  generation?: number;
  /** seconds the kernel may cache the name -> inode mapping (default: session option) */
  entryTimeout?: number;
  /** seconds the kernel may cache the attributes (default: session option) */
  attrTimeout?: number;
}

export interface FuseAttrReply {
  attr: FuseAttr;
  attrTimeout?: number;
}

/** an open file or directory */
export interface FuseOpenReply {
  fh: number;
  /** FOPEN_DIRECT_IO: bypass the page cache */
  directIo?: boolean;
  /** FOPEN_KEEP_CACHE: keep cached pages from earlier opens */
  keepCache?: boolean;
  /** FOPEN_NONSEEKABLE */
  nonSeekable?: boolean;
  /** FOPEN_CACHE_DIR: (opendir) let the kernel cache readdir results */
  cacheDir?: boolean;
  /** FOPEN_NOFLUSH: no FLUSH on close */
  noFlush?: boolean;
  /** FOPEN_PARALLEL_DIRECT_WRITES */
  parallelDirectWrites?: boolean;
}

export type FuseCreateReply = FuseEntry & FuseOpenReply;

export type TimeChange = Timespec | "now";

/** SETATTR, decoded; absent fields are not changed (shape-compatible with the fs layer's SetAttrChanges) */
export interface FuseSetattr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeChange;
  mtime?: TimeChange;
  ctime?: Timespec;
  /** the open file the change came through (ftruncate, fchmod, ...) */
  fh?: number;
  lockOwner?: bigint;
  /** FATTR_KILL_SUIDGID (only with HANDLE_KILLPRIV_V2, which the session does not negotiate) */
  killSuidgid?: boolean;
}

export interface FuseStatfs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

export interface FuseDirent {
  name: Buffer | string;
  ino: number;
  /** DT_* type (mode >> 12 & 15) */
  type: number;
  /** the offset to continue from after this entry (passed back as `offset`) */
  nextOffset: number;
}

export interface FuseDirentPlus {
  name: Buffer | string;
  /** the entry with attributes (counts as a lookup), or null to give only name and ino */
  entry: FuseEntry | null;
  /** used when entry is null */
  ino?: number;
  /** used when entry is null; otherwise derived from entry.attr.mode */
  type?: number;
  nextOffset: number;
}

/** what INIT settled, given to init() */
export interface FuseConnInfo {
  major: number;
  minor: number;
  /** the kernel's INIT flags (low word) and flags2 (high word) */
  kernelFlags: number;
  kernelFlags2: number;
  /** the flags agreed */
  flags: number;
  flags2: number;
  maxWrite: number;
  maxReadahead: number;
  maxPages: number;
  dontMask: boolean;
  posixAcl: boolean;
}

export interface FuseOps {
  /** after INIT is agreed, before the INIT reply goes out; throwing fails the mount's INIT */
  init?(info: FuseConnInfo): void | Promise<void>;
  /** the kernel's DESTROY, or the end of the session */
  destroy?(): void | Promise<void>;

  /** the entry for name in parent; null caches a negative entry (session option negativeTimeout), else throw ENOENT */
  lookup?(ctx: FuseCtx, parent: number, name: Buffer): Promise<FuseEntry | null>;
  /** no reply: drop nlookup from the lookup count */
  forget?(ino: number, nlookup: number): void | Promise<void>;
  getattr?(ctx: FuseCtx, ino: number, fh: number | null): Promise<FuseAttrReply>;
  setattr?(ctx: FuseCtx, ino: number, changes: FuseSetattr): Promise<FuseAttrReply>;
  readlink?(ctx: FuseCtx, ino: number): Promise<Buffer | string>;
  symlink?(ctx: FuseCtx, parent: number, name: Buffer, target: Buffer): Promise<FuseEntry>;
  mknod?(ctx: FuseCtx, parent: number, name: Buffer, mode: number, rdev: number, umask: number): Promise<FuseEntry>;
  mkdir?(ctx: FuseCtx, parent: number, name: Buffer, mode: number, umask: number): Promise<FuseEntry>;
  unlink?(ctx: FuseCtx, parent: number, name: Buffer): Promise<void>;
  rmdir?(ctx: FuseCtx, parent: number, name: Buffer): Promise<void>;
  /** RENAME (flags 0) and RENAME2 (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2, RENAME_WHITEOUT 4) */
  rename?(ctx: FuseCtx, parent: number, name: Buffer, newParent: number, newName: Buffer, flags: number): Promise<void>;
  link?(ctx: FuseCtx, ino: number, newParent: number, newName: Buffer): Promise<FuseEntry>;
  /** flags: the open(2) flags (O_TRUNC included: ATOMIC_O_TRUNC is negotiated, so truncate here) */
  open?(ctx: FuseCtx, ino: number, flags: number): Promise<FuseOpenReply>;
  /**
   * at most size bytes; fewer means end of file (unless the file was
   * opened directIo).  into: a buffer of at least size bytes (often more)
   * that the op may fill and return, or return a view of; the session
   * lends it to this request alone and reuses it once the reply is
   * written, so the op must not keep it after the promise settles.
   */
  read?(ctx: FuseCtx, ino: number, fh: number, offset: number, size: number, into: Buffer): Promise<Buffer>;
  /** returns the bytes written; data is valid only until the promise settles */
  write?(ctx: FuseCtx, ino: number, fh: number, offset: number, data: Buffer, writeFlags: number, openFlags: number): Promise<number>;
  statfs?(ctx: FuseCtx, ino: number): Promise<FuseStatfs>;
  release?(ctx: FuseCtx, ino: number, fh: number, flags: number, releaseFlags: number, lockOwner: bigint): Promise<void>;
  fsync?(ctx: FuseCtx, ino: number, fh: number, datasync: boolean): Promise<void>;
  /**
   * flags: XATTR_CREATE 1, XATTR_REPLACE 2; setxattrFlags (0 unless
   * SETXATTR_EXT was agreed): FUSE_SETXATTR_ACL_KILL_SGID 1, the caller
   * setting an access ACL may not keep the setgid bit (clear it)
   */
  setxattr?(ctx: FuseCtx, ino: number, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): Promise<void>;
  /** the value (ENODATA if none); the session answers size queries and ERANGE */
  getxattr?(ctx: FuseCtx, ino: number, name: Buffer): Promise<Buffer>;
  /** the names; the session NUL-terminates them, answers size queries and ERANGE */
  listxattr?(ctx: FuseCtx, ino: number): Promise<(Buffer | string)[]>;
  removexattr?(ctx: FuseCtx, ino: number, name: Buffer): Promise<void>;
  flush?(ctx: FuseCtx, ino: number, fh: number, lockOwner: bigint): Promise<void>;
  opendir?(ctx: FuseCtx, ino: number, flags: number): Promise<FuseOpenReply>;
  /**
   * entries from offset (0 = the start); size is the reply's byte budget
   * (direntSize() in protocol.ts tells what an entry takes).  Entries past
   * the budget are dropped, an empty list is the end of the directory.
   */
  readdir?(ctx: FuseCtx, ino: number, fh: number, offset: number, size: number): Promise<FuseDirent[]>;
  /** as readdir, with entries (direntplusSize()); each entry counts as a lookup (see above) */
  readdirplus?(ctx: FuseCtx, ino: number, fh: number, offset: number, size: number): Promise<FuseDirentPlus[]>;
  releasedir?(ctx: FuseCtx, ino: number, fh: number, flags: number): Promise<void>;
  fsyncdir?(ctx: FuseCtx, ino: number, fh: number, datasync: boolean): Promise<void>;
  /** mask: R_OK 4, W_OK 2, X_OK 1, F_OK 0 (not sent with default_permissions) */
  access?(ctx: FuseCtx, ino: number, mask: number): Promise<void>;
  create?(ctx: FuseCtx, parent: number, name: Buffer, mode: number, umask: number, flags: number): Promise<FuseCreateReply>;
  /** O_TMPFILE: an unnamed file in parent (an orphan until linked) */
  tmpfile?(ctx: FuseCtx, parent: number, mode: number, umask: number, flags: number): Promise<FuseCreateReply>;
  fallocate?(ctx: FuseCtx, ino: number, fh: number, offset: number, length: number, mode: number): Promise<void>;
  /** whence: SEEK_DATA 3, SEEK_HOLE 4 (the kernel does SEEK_SET/CUR/END itself) */
  lseek?(ctx: FuseCtx, ino: number, fh: number, offset: number, whence: number): Promise<number>;
  /** returns the bytes copied */
  copyFileRange?(
    ctx: FuseCtx,
    inoIn: number,
    fhIn: number,
    offIn: number,
    inoOut: number,
    fhOut: number,
    offOut: number,
    len: number,
    flags: number,
  ): Promise<number>;
  syncfs?(ctx: FuseCtx, ino: number): Promise<void>;
}

/** the name of an errno-carrying error, or undefined */
export function errnoName(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "errno" in e) {
    const v = (e as { errno: unknown }).errno;
    if (typeof v === "string") return v;
  }
  return undefined;
}
