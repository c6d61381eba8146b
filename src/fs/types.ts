/*
 * The public shapes of the fs API: attributes, attribute changes,
 * directory entries, statfs, and the flag values of the calls that take
 * flags (the Linux values, so the FUSE layer passes them through).
 *
 * Names (file names, xattr names) are bytes on Linux: the API accepts a
 * string (UTF-8) or a Buffer and returns both forms where it returns names.
 */
import type { Timespec } from "../format/fs_items.js";

export type { Timespec } from "../format/fs_items.js";

export type Name = string | Buffer;

export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  /** 512-byte units allocated (online blocks) */
  blocks: number;
  blksize: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec;
  metaSeq: number;
  dataSeq: number;
  dataVersion: number;
  onlineBlocks: number;
  offlineBlocks: number;
  flags: number;
  proj: bigint;
}

/** a time to set: an explicit time, or the current time (UTIME_NOW); absent means leave alone (UTIME_OMIT) */
export type TimeChange = Timespec | "now";

export interface SetAttrChanges {
  /** permission bits (and setuid/setgid/sticky); the file type bits are kept */
  mode?: number;
  uid?: number;
  gid?: number;
  /** regular files only: truncate or extend */
  size?: number;
  atime?: TimeChange;
  mtime?: TimeChange;
  /** ctime is set to now by every change unless given */
  ctime?: Timespec;
}

export interface DirEntry {
  /** nameBuf as UTF-8 text (made when asked for: a readdir through FUSE only sends the bytes) */
  readonly name: string;
  nameBuf: Buffer;
  ino: number;
  /** DT_* type */
  type: number;
  /** this entry's readdir position */
  pos: number;
  /** the position to continue reading after this entry */
  nextPos: number;
}

export interface StatFs {
  type: number;
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  fsid: bigint;
}

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

export const FALLOC_FL_KEEP_SIZE = 1;

export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

export const DT = { UNKNOWN: 0, FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12 } as const;

export interface FsOptions {
  /** "relatime" (default) updates atime on read/readdir as Linux relatime does; "noatime" never */
  atime?: "relatime" | "noatime";
  /** keep POSIX ACLs (default true, the acl mount option); false (noacl) refuses system.posix_acl_* with EOPNOTSUPP and applies the umask always */
  acl?: boolean;
  /** test hook: the hash of names of directory entries and xattrs (to force collisions) */
  nameHash?: (name: Buffer) => number;
  /** where a change that failed after its answer was given is reported (answer_first.ts); default stderr */
  log?: (msg: string) => void;
}

/** what the fs must know of the caller of an xattr change */
export interface XattrCaller {
  /** setting an access ACL clears setgid: the caller is not in the file's group and lacks CAP_FSETID */
  aclKillSgid?: boolean;
  /** CAP_SYS_ADMIN: needed for scoutfs. tagged xattrs */
  sysAdmin?: boolean;
}
