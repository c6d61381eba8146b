/*
 * The FUSE kernel protocol (Linux include/uapi/linux/fuse.h), version 7,
 * minors 31..45: opcodes, flags, struct layouts, and encoders/decoders of
 * the requests the kernel sends and the replies and notifications we send.
 *
 * Design:
 * * Every fixed-size struct is a StructCodec built from a field list in the
 *   header's order.  The field list is the layout: offsets and the size are
 *   computed from it, and the unit tests check sizes and offsets against
 *   byte layouts built by hand.  Padding fields are kept in the list (so the
 *   layout is visible) but do not appear in decoded objects.
 * * All integers are little-endian (x86-64 and arm64 hosts; FUSE uses host
 *   order).  u64 fields decode to JavaScript numbers; a value past 2^53 - 1
 *   throws FuseError("EOVERFLOW") (the request then fails with that errno)
 *   rather than silently losing bits, or EFBIG for the fields that are a
 *   file size or write position (FILE_SIZE_FIELDS), as no file here can
 *   be that large.  Lock owners and request ids (opaque
 *   64-bit values the kernel makes up) decode to bigints.  Times are signed.
 * * A request is in_header (40 bytes) + the opcode's argument bytes +
 *   extensions (total_extlen * 8 bytes at the end, only sent when the daemon
 *   asked for security contexts or supplementary groups; we never do, and
 *   decodeRequest strips them).  decodeArgs/encodeArgs give the per-opcode
 *   argument codecs (REQUEST_CODECS), typed by RequestArgs.
 * * A reply is out_header (16 bytes: len, -errno, unique) + the reply body;
 *   a notification is out_header with unique 0 and error = the notify code.
 * * Names in requests end with a NUL that the kernel counts in the request
 *   length; decoders copy names out of the read buffer (they are small and
 *   must outlive it).  WRITE's data stays a view of the request buffer (it
 *   can be 1 MiB): see ops.ts for its lifetime.
 * * Layout differences by negotiated version that matter here: setxattr_in
 *   is 16 bytes only when FUSE_SETXATTR_EXT was agreed (else 8).  Everything
 *   else we use has had its current size since before 7.31, the oldest minor
 *   we accept.
 */
import { Buffer } from "node:buffer";
import { FuseError, type FuseAttr, type Timespec } from "./ops.js";

export const FUSE_KERNEL_VERSION = 7;
/** the newest minor we speak (Linux 6.18 sends 7.45) */
export const FUSE_KERNEL_MINOR_VERSION = 45;
/** the oldest minor we accept (Linux 5.4) */
export const FUSE_MIN_MINOR_VERSION = 31;
export const FUSE_ROOT_ID = 1;
/** a read of /dev/fuse needs a buffer at least this big */
export const FUSE_MIN_READ_BUFFER = 8192;
/** the kernel's NAME_MAX for FUSE (notify names) */
export const FUSE_NAME_MAX = 1024;
/** the high bit of unique: a resent request (only with FUSE_HAS_RESEND) */
export const FUSE_UNIQUE_RESEND = 1n << 63n;
/** the low bit of unique marks an INTERRUPT request's own id */
export const FUSE_INT_REQ_BIT = 1n;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;
export type OpcodeName = keyof typeof Opcode;
export type OpcodeValue = (typeof Opcode)[OpcodeName];

const OPCODE_NAMES = new Map<number, OpcodeName>(Object.entries(Opcode).map(([k, v]) => [v, k as OpcodeName]));
export function opcodeName(op: number): string {
  return OPCODE_NAMES.get(op) ?? `OP_${op}`;
}

export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/** INIT flags, low word (fuse_init_in.flags / fuse_init_out.flags) */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  FILE_OPS: 1 << 2,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  HAS_IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  HANDLE_KILLPRIV: 1 << 19,
  POSIX_ACL: 1 << 20,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
  MAP_ALIGNMENT: 1 << 26,
  SUBMOUNTS: 1 << 27,
  HANDLE_KILLPRIV_V2: 1 << 28,
  SETXATTR_EXT: 1 << 29,
  INIT_EXT: 1 << 30,
  INIT_RESERVED: 2 ** 31,
} as const;

/** INIT flags, high word (flags2; bit n here is bit 32+n of the 64-bit flags; valid only with INIT_EXT) */
export const InitFlag2 = {
  SECURITY_CTX: 1 << 0,
  HAS_INODE_DAX: 1 << 1,
  CREATE_SUPP_GROUP: 1 << 2,
  HAS_EXPIRE_ONLY: 1 << 3,
  DIRECT_IO_ALLOW_MMAP: 1 << 4,
  PASSTHROUGH: 1 << 5,
  NO_EXPORT_SUPPORT: 1 << 6,
  HAS_RESEND: 1 << 7,
  ALLOW_IDMAP: 1 << 8,
  OVER_IO_URING: 1 << 9,
  REQUEST_TIMEOUT: 1 << 10,
} as const;

/** names of the flags set in a flags word, for logs */
export function initFlagNames(flags: number, flags2 = 0): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(InitFlag)) if ((flags & v) >>> 0 === v) out.push(k);
  for (const [k, v] of Object.entries(InitFlag2)) if ((flags2 & v) >>> 0 === v) out.push(k);
  return out;
}

/** fuse_setattr_in.valid */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
export const FUSE_READ_LOCKOWNER = 1 << 1;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;
export const FUSE_EXPIRE_ONLY = 1 << 0;

/* ------------------------------------------------------------------ */
/* struct codecs                                                       */

type FieldKind = "u16" | "u32" | "i32" | "u64" | "i64" | "b64" | "pad16" | "pad32" | "pad64";
type FieldSpec = readonly [name: string, kind: FieldKind];
type FieldValue<K extends FieldKind> = K extends "b64" ? bigint : number;

/** the decoded object of a field list: padding left out, b64 as bigint, the rest numbers */
export type StructOf<S extends readonly FieldSpec[]> = {
  [F in S[number] as F[1] extends `pad${string}` ? never : F[0]]: FieldValue<F[1]>;
};

const KIND_SIZE: Record<FieldKind, number> = { u16: 2, u32: 4, i32: 4, u64: 8, i64: 8, b64: 8, pad16: 2, pad32: 4, pad64: 8 };
const TWO32 = 2 ** 32;

/** struct.field of the u64s that are file sizes or positions to write at: past 2^53, EFBIG (as POSIX has it for write, truncate, fallocate) */
const FILE_SIZE_FIELDS: ReadonlySet<string> = new Set(["fuse_write_in.offset", "fuse_setattr_in.size", "fuse_fallocate_in.offset", "fuse_fallocate_in.length"]);

export function readU64(buf: Buffer, off: number, what = "u64"): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi > 0x1fffff) throw new FuseError(FILE_SIZE_FIELDS.has(what) ? "EFBIG" : "EOVERFLOW", `${what} past 2^53`);
  return hi === 0 ? lo : hi * TWO32 + lo; // hi 0: a small integer, not a boxed double
}

export function readI64(buf: Buffer, off: number, what = "i64"): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readInt32LE(off + 4);
  if (hi > 0x1fffff || hi < -0x200000) throw new FuseError("EOVERFLOW", `${what} past 2^53`);
  return hi === 0 ? lo : hi * TWO32 + lo;
}

export function writeU64(buf: Buffer, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a u64: ${v}`);
  buf.writeUInt32LE(v % TWO32, off);
  buf.writeUInt32LE(Math.floor(v / TWO32), off + 4);
}

export function writeI64(buf: Buffer, off: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`not an i64: ${v}`);
  const hi = Math.floor(v / TWO32);
  buf.writeUInt32LE(v - hi * TWO32, off);
  buf.writeInt32LE(hi, off + 4);
}

export class StructCodec<S extends readonly FieldSpec[]> {
  readonly size: number;
  /** byte offset of each named field */
  readonly offsets: Readonly<Record<string, number>>;
  private readonly fields: { name: string; kind: FieldKind; off: number }[];

  constructor(
    readonly name: string,
    spec: S,
  ) {
    let off = 0;
    const offsets: Record<string, number> = {};
    this.fields = [];
    for (const [fname, kind] of spec) {
      this.fields.push({ name: fname, kind, off });
      offsets[fname] = off;
      off += KIND_SIZE[kind];
    }
    this.size = off;
    this.offsets = offsets;
  }

  decode(buf: Buffer, off = 0): StructOf<S> {
    if (off + this.size > buf.length) throw new FuseError("EINVAL", `${this.name}: ${buf.length - off} bytes, need ${this.size}`);
    // the object is built field by field from the spec; its type is StructOf<S> by construction
    const o: Record<string, number | bigint> = {};
    for (const f of this.fields) {
      const p = off + f.off;
      switch (f.kind) {
        case "u16":
          o[f.name] = buf.readUInt16LE(p);
          break;
        case "u32":
          o[f.name] = buf.readUInt32LE(p);
          break;
        case "i32":
          o[f.name] = buf.readInt32LE(p);
          break;
        case "u64":
          o[f.name] = readU64(buf, p, `${this.name}.${f.name}`);
          break;
        case "i64":
          o[f.name] = readI64(buf, p, `${this.name}.${f.name}`);
          break;
        case "b64":
          o[f.name] = buf.readBigUInt64LE(p);
          break;
        default:
          break;
      }
    }
    return o as StructOf<S>;
  }

  /** write v at off (padding zeroed); returns off + size */
  write(v: StructOf<S>, buf: Buffer, off = 0): number {
    const o = v as Record<string, number | bigint>;
    for (const f of this.fields) {
      const p = off + f.off;
      const x = o[f.name];
      switch (f.kind) {
        case "u16":
          buf.writeUInt16LE(Number(x ?? 0), p);
          break;
        case "u32":
          buf.writeUInt32LE(Number(x ?? 0) >>> 0, p);
          break;
        case "i32":
          buf.writeInt32LE(Number(x ?? 0) | 0, p);
          break;
        case "u64":
          writeU64(buf, p, Number(x ?? 0));
          break;
        case "i64":
          writeI64(buf, p, Number(x ?? 0));
          break;
        case "b64":
          buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(x ?? 0n)), p);
          break;
        case "pad16":
          buf.writeUInt16LE(0, p);
          break;
        case "pad32":
          buf.writeUInt32LE(0, p);
          break;
        case "pad64":
          buf.writeBigUInt64LE(0n, p);
          break;
      }
    }
    return off + this.size;
  }

  encode(v: StructOf<S>): Buffer {
    const b = zeroedBuffer(this.size);
    this.write(v, b, 0);
    return b;
  }
}

/** the decoded object type of a codec */
export type Of<C> = C extends StructCodec<infer S> ? StructOf<S> : never;

function struct<const S extends readonly FieldSpec[]>(name: string, spec: S): StructCodec<S> {
  return new StructCodec(name, spec);
}

/* headers */
export const InHeader = struct("fuse_in_header", [
  ["len", "u32"],
  ["opcode", "u32"],
  ["unique", "b64"],
  ["nodeid", "b64"],
  ["uid", "u32"],
  ["gid", "u32"],
  ["pid", "u32"],
  ["totalExtlen", "u16"],
  ["padding", "pad16"],
]);
export type InHeaderT = Of<typeof InHeader>;
export const IN_HEADER_SIZE = 40;

export const OutHeader = struct("fuse_out_header", [
  ["len", "u32"],
  ["error", "i32"],
  ["unique", "b64"],
]);
export type OutHeaderT = Of<typeof OutHeader>;
export const OUT_HEADER_SIZE = 16;

/* shared structs */
export const Attr = struct("fuse_attr", [
  ["ino", "u64"],
  ["size", "u64"],
  ["blocks", "u64"],
  ["atime", "i64"],
  ["mtime", "i64"],
  ["ctime", "i64"],
  ["atimensec", "u32"],
  ["mtimensec", "u32"],
  ["ctimensec", "u32"],
  ["mode", "u32"],
  ["nlink", "u32"],
  ["uid", "u32"],
  ["gid", "u32"],
  ["rdev", "u32"],
  ["blksize", "u32"],
  ["flags", "u32"],
]);
export type AttrT = Of<typeof Attr>;

export const Kstatfs = struct("fuse_kstatfs", [
  ["blocks", "u64"],
  ["bfree", "u64"],
  ["bavail", "u64"],
  ["files", "u64"],
  ["ffree", "u64"],
  ["bsize", "u32"],
  ["namelen", "u32"],
  ["frsize", "u32"],
  ["padding", "pad32"],
  ["spare0", "pad64"],
  ["spare1", "pad64"],
  ["spare2", "pad64"],
]);
export type KstatfsT = Of<typeof Kstatfs>;

/* request argument structs */
export const InitIn = struct("fuse_init_in", [
  ["major", "u32"],
  ["minor", "u32"],
  ["maxReadahead", "u32"],
  ["flags", "u32"],
  ["flags2", "u32"],
  ["unused0", "pad32"],
  ["unused1", "pad64"],
  ["unused2", "pad64"],
  ["unused3", "pad64"],
  ["unused4", "pad64"],
  ["unused5", "pad64"],
]);
export type InitInT = Of<typeof InitIn>;

export const ForgetIn = struct("fuse_forget_in", [["nlookup", "u64"]]);
export const ForgetOne = struct("fuse_forget_one", [
  ["nodeid", "u64"],
  ["nlookup", "u64"],
]);
export const BatchForgetIn = struct("fuse_batch_forget_in", [
  ["count", "u32"],
  ["dummy", "pad32"],
]);
export const GetattrIn = struct("fuse_getattr_in", [
  ["getattrFlags", "u32"],
  ["dummy", "pad32"],
  ["fh", "u64"],
]);
export const SetattrIn = struct("fuse_setattr_in", [
  ["valid", "u32"],
  ["padding", "pad32"],
  ["fh", "u64"],
  ["size", "u64"],
  ["lockOwner", "b64"],
  ["atime", "i64"],
  ["mtime", "i64"],
  ["ctime", "i64"],
  ["atimensec", "u32"],
  ["mtimensec", "u32"],
  ["ctimensec", "u32"],
  ["mode", "u32"],
  ["unused4", "pad32"],
  ["uid", "u32"],
  ["gid", "u32"],
  ["unused5", "pad32"],
]);
export type SetattrInT = Of<typeof SetattrIn>;
export const MknodIn = struct("fuse_mknod_in", [
  ["mode", "u32"],
  ["rdev", "u32"],
  ["umask", "u32"],
  ["padding", "pad32"],
]);
export const MkdirIn = struct("fuse_mkdir_in", [
  ["mode", "u32"],
  ["umask", "u32"],
]);
export const RenameIn = struct("fuse_rename_in", [["newdir", "u64"]]);
export const Rename2In = struct("fuse_rename2_in", [
  ["newdir", "u64"],
  ["flags", "u32"],
  ["padding", "pad32"],
]);
export const LinkIn = struct("fuse_link_in", [["oldnodeid", "u64"]]);
export const OpenIn = struct("fuse_open_in", [
  ["flags", "u32"],
  ["openFlags", "u32"],
]);
export const CreateIn = struct("fuse_create_in", [
  ["flags", "u32"],
  ["mode", "u32"],
  ["umask", "u32"],
  ["openFlags", "u32"],
]);
export const ReleaseIn = struct("fuse_release_in", [
  ["fh", "u64"],
  ["flags", "u32"],
  ["releaseFlags", "u32"],
  ["lockOwner", "b64"],
]);
export const FlushIn = struct("fuse_flush_in", [
  ["fh", "u64"],
  ["unused", "pad32"],
  ["padding", "pad32"],
  ["lockOwner", "b64"],
]);
export const ReadIn = struct("fuse_read_in", [
  ["fh", "u64"],
  ["offset", "u64"],
  ["size", "u32"],
  ["readFlags", "u32"],
  ["lockOwner", "b64"],
  ["flags", "u32"],
  ["padding", "pad32"],
]);
export const WriteIn = struct("fuse_write_in", [
  ["fh", "u64"],
  ["offset", "u64"],
  ["size", "u32"],
  ["writeFlags", "u32"],
  ["lockOwner", "b64"],
  ["flags", "u32"],
  ["padding", "pad32"],
]);
export const FsyncIn = struct("fuse_fsync_in", [
  ["fh", "u64"],
  ["fsyncFlags", "u32"],
  ["padding", "pad32"],
]);
/** with FUSE_SETXATTR_EXT */
export const SetxattrInExt = struct("fuse_setxattr_in", [
  ["size", "u32"],
  ["flags", "u32"],
  ["setxattrFlags", "u32"],
  ["padding", "pad32"],
]);
/** without FUSE_SETXATTR_EXT (FUSE_COMPAT_SETXATTR_IN_SIZE) */
export const SetxattrInCompat = struct("fuse_setxattr_in(compat)", [
  ["size", "u32"],
  ["flags", "u32"],
]);
export const GetxattrIn = struct("fuse_getxattr_in", [
  ["size", "u32"],
  ["padding", "pad32"],
]);
export const AccessIn = struct("fuse_access_in", [
  ["mask", "u32"],
  ["padding", "pad32"],
]);
export const InterruptIn = struct("fuse_interrupt_in", [["unique", "b64"]]);
export const FallocateIn = struct("fuse_fallocate_in", [
  ["fh", "u64"],
  ["offset", "u64"],
  ["length", "u64"],
  ["mode", "u32"],
  ["padding", "pad32"],
]);
export const LseekIn = struct("fuse_lseek_in", [
  ["fh", "u64"],
  ["offset", "u64"],
  ["whence", "u32"],
  ["padding", "pad32"],
]);
export const CopyFileRangeIn = struct("fuse_copy_file_range_in", [
  ["fhIn", "u64"],
  ["offIn", "u64"],
  ["nodeidOut", "u64"],
  ["fhOut", "u64"],
  ["offOut", "u64"],
  ["len", "u64"],
  ["flags", "b64"],
]);
export const SyncfsIn = struct("fuse_syncfs_in", [["padding", "pad64"]]);

/* reply structs */
export const InitOut = struct("fuse_init_out", [
  ["major", "u32"],
  ["minor", "u32"],
  ["maxReadahead", "u32"],
  ["flags", "u32"],
  ["maxBackground", "u16"],
  ["congestionThreshold", "u16"],
  ["maxWrite", "u32"],
  ["timeGran", "u32"],
  ["maxPages", "u16"],
  ["mapAlignment", "u16"],
  ["flags2", "u32"],
  ["maxStackDepth", "u32"],
  ["requestTimeout", "u16"],
  ["unused0", "pad16"],
  ["unused1", "pad32"],
  ["unused2", "pad64"],
  ["unused3", "pad64"],
]);
export type InitOutT = Of<typeof InitOut>;

/** entry_out without its attr (40 bytes); the attr follows */
export const EntryOutHead = struct("fuse_entry_out", [
  ["nodeid", "u64"],
  ["generation", "u64"],
  ["entryValid", "u64"],
  ["attrValid", "u64"],
  ["entryValidNsec", "u32"],
  ["attrValidNsec", "u32"],
]);
/** attr_out without its attr (16 bytes) */
export const AttrOutHead = struct("fuse_attr_out", [
  ["attrValid", "u64"],
  ["attrValidNsec", "u32"],
  ["dummy", "pad32"],
]);
export const OpenOut = struct("fuse_open_out", [
  ["fh", "u64"],
  ["openFlags", "u32"],
  ["backingId", "i32"],
]);
export const WriteOut = struct("fuse_write_out", [
  ["size", "u32"],
  ["padding", "pad32"],
]);
export const GetxattrOut = struct("fuse_getxattr_out", [
  ["size", "u32"],
  ["padding", "pad32"],
]);
export const LseekOut = struct("fuse_lseek_out", [["offset", "u64"]]);
export const CopyFileRangeOut = struct("fuse_copy_file_range_out", [["bytesCopied", "u64"]]);
/** dirent without its name (24 bytes) */
export const DirentHead = struct("fuse_dirent", [
  ["ino", "u64"],
  ["off", "u64"],
  ["namelen", "u32"],
  ["type", "u32"],
]);
export const NotifyInvalInodeOut = struct("fuse_notify_inval_inode_out", [
  ["ino", "u64"],
  ["off", "i64"],
  ["len", "i64"],
]);
export const NotifyInvalEntryOut = struct("fuse_notify_inval_entry_out", [
  ["parent", "u64"],
  ["namelen", "u32"],
  ["flags", "u32"],
]);
export const NotifyDeleteOut = struct("fuse_notify_delete_out", [
  ["parent", "u64"],
  ["child", "u64"],
  ["namelen", "u32"],
  ["padding", "pad32"],
]);

export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 128;
export const ATTR_OUT_SIZE = 104;
export const DIRENT_HEAD_SIZE = 24;
export const DIRENTPLUS_HEAD_SIZE = ENTRY_OUT_SIZE + DIRENT_HEAD_SIZE;

/* ------------------------------------------------------------------ */
/* composite bodies                                                    */

/** fuse_entry_out with its attr */
export interface EntryOutT {
  nodeid: number;
  generation: number;
  entryValid: number;
  attrValid: number;
  entryValidNsec: number;
  attrValidNsec: number;
  attr: AttrT;
}

export interface AttrOutT {
  attrValid: number;
  attrValidNsec: number;
  attr: AttrT;
}

export function writeEntryOut(e: EntryOutT, buf: Buffer, off: number): number {
  off = EntryOutHead.write(e, buf, off);
  return Attr.write(e.attr, buf, off);
}
/**
 * A zero-filled buffer for a reply or request struct.  Buffer.alloc gives
 * anything over 64 bytes a backing store of its own (a malloc and its
 * tracking: 1-3 µs measured, for every reply); a slice of node's pool,
 * zeroed, costs a fraction of that.
 */
export function zeroedBuffer(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

export function encodeEntryOut(e: EntryOutT): Buffer {
  const b = zeroedBuffer(ENTRY_OUT_SIZE);
  writeEntryOut(e, b, 0);
  return b;
}
export function decodeEntryOut(buf: Buffer, off = 0): EntryOutT {
  return { ...EntryOutHead.decode(buf, off), attr: Attr.decode(buf, off + EntryOutHead.size) };
}
export function encodeAttrOut(a: AttrOutT): Buffer {
  const b = zeroedBuffer(ATTR_OUT_SIZE);
  Attr.write(a.attr, b, AttrOutHead.write(a, b, 0));
  return b;
}
export function decodeAttrOut(buf: Buffer, off = 0): AttrOutT {
  return { ...AttrOutHead.decode(buf, off), attr: Attr.decode(buf, off + AttrOutHead.size) };
}

/** seconds (float, >= 0) to the kernel's (u64 sec, u32 nsec) */
export function splitTimeout(seconds: number): { sec: number; nsec: number } {
  if (!(seconds > 0)) return { sec: 0, nsec: 0 };
  if (seconds >= Number.MAX_SAFE_INTEGER) return { sec: Number.MAX_SAFE_INTEGER, nsec: 0 };
  const sec = Math.floor(seconds);
  const nsec = Math.min(999_999_999, Math.round((seconds - sec) * 1e9));
  return { sec, nsec };
}

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** bytes a READDIR entry of this name takes */
export function direntSize(name: Buffer | string): number {
  return align8(DIRENT_HEAD_SIZE + (typeof name === "string" ? Buffer.byteLength(name) : name.length));
}
/** bytes a READDIRPLUS entry of this name takes */
export function direntplusSize(name: Buffer | string): number {
  return align8(DIRENTPLUS_HEAD_SIZE + (typeof name === "string" ? Buffer.byteLength(name) : name.length));
}

export interface DirentT {
  ino: number;
  off: number;
  type: number;
  name: Buffer;
}
export interface DirentPlusT {
  entry: EntryOutT;
  dirent: DirentT;
}

/**
 * Packs READDIR / READDIRPLUS replies up to the kernel's size.  add*()
 * returns false, adding nothing, when the entry does not fit.
 */
export class DirentPacker {
  readonly buf: Buffer;
  private pos = 0;
  constructor(readonly max: number) {
    this.buf = Buffer.alloc(max);
  }
  get length(): number {
    return this.pos;
  }
  add(d: DirentT): boolean {
    const need = align8(DIRENT_HEAD_SIZE + d.name.length);
    if (this.pos + need > this.max) return false;
    const p = DirentHead.write({ ino: d.ino, off: d.off, namelen: d.name.length, type: d.type }, this.buf, this.pos);
    d.name.copy(this.buf, p);
    this.buf.fill(0, p + d.name.length, this.pos + need);
    this.pos += need;
    return true;
  }
  addPlus(d: DirentPlusT): boolean {
    const need = align8(DIRENTPLUS_HEAD_SIZE + d.dirent.name.length);
    if (this.pos + need > this.max) return false;
    let p = writeEntryOut(d.entry, this.buf, this.pos);
    p = DirentHead.write({ ino: d.dirent.ino, off: d.dirent.off, namelen: d.dirent.name.length, type: d.dirent.type }, this.buf, p);
    d.dirent.name.copy(this.buf, p);
    this.buf.fill(0, p + d.dirent.name.length, this.pos + need);
    this.pos += need;
    return true;
  }
  /** the packed bytes (a view) */
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export function decodeDirents(buf: Buffer): DirentT[] {
  const out: DirentT[] = [];
  let p = 0;
  while (p + DIRENT_HEAD_SIZE <= buf.length) {
    const h = DirentHead.decode(buf, p);
    const name = Buffer.from(buf.subarray(p + DIRENT_HEAD_SIZE, p + DIRENT_HEAD_SIZE + h.namelen));
    out.push({ ino: h.ino, off: h.off, type: h.type, name });
    p += align8(DIRENT_HEAD_SIZE + h.namelen);
  }
  return out;
}

export function decodeDirentsPlus(buf: Buffer): DirentPlusT[] {
  const out: DirentPlusT[] = [];
  let p = 0;
  while (p + DIRENTPLUS_HEAD_SIZE <= buf.length) {
    const entry = decodeEntryOut(buf, p);
    const h = DirentHead.decode(buf, p + ENTRY_OUT_SIZE);
    const s = p + DIRENTPLUS_HEAD_SIZE;
    out.push({ entry, dirent: { ino: h.ino, off: h.off, type: h.type, name: Buffer.from(buf.subarray(s, s + h.namelen)) } });
    p += align8(DIRENTPLUS_HEAD_SIZE + h.namelen);
  }
  return out;
}

/** NUL-separated xattr name list */
export function encodeXattrList(names: (Buffer | string)[]): Buffer {
  return Buffer.concat(names.flatMap((n) => [typeof n === "string" ? Buffer.from(n) : n, Buffer.alloc(1)]));
}
export function decodeXattrList(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p < buf.length) {
    let e = buf.indexOf(0, p);
    if (e < 0) e = buf.length;
    out.push(Buffer.from(buf.subarray(p, e)));
    p = e + 1;
  }
  return out;
}

/* ------------------------------------------------------------------ */
/* requests                                                            */

/** what decoders need to know of the negotiated connection */
export interface ProtoState {
  /** FUSE_SETXATTR_EXT was agreed: setxattr_in is 16 bytes */
  setxattrExt: boolean;
}
export const DEFAULT_PROTO: ProtoState = { setxattrExt: false };


export interface RequestArgs {
  [Opcode.INIT]: InitInT;
  [Opcode.DESTROY]: Record<string, never>;
  [Opcode.LOOKUP]: { name: Buffer };
  [Opcode.FORGET]: Of<typeof ForgetIn>;
  [Opcode.BATCH_FORGET]: { forgets: { nodeid: number; nlookup: number }[] };
  [Opcode.GETATTR]: Of<typeof GetattrIn>;
  [Opcode.SETATTR]: SetattrInT;
  [Opcode.READLINK]: Record<string, never>;
  [Opcode.SYMLINK]: { name: Buffer; target: Buffer };
  [Opcode.MKNOD]: Of<typeof MknodIn> & { name: Buffer };
  [Opcode.MKDIR]: Of<typeof MkdirIn> & { name: Buffer };
  [Opcode.UNLINK]: { name: Buffer };
  [Opcode.RMDIR]: { name: Buffer };
  [Opcode.RENAME]: Of<typeof RenameIn> & { name: Buffer; newname: Buffer };
  [Opcode.RENAME2]: Of<typeof Rename2In> & { name: Buffer; newname: Buffer };
  [Opcode.LINK]: Of<typeof LinkIn> & { name: Buffer };
  [Opcode.OPEN]: Of<typeof OpenIn>;
  [Opcode.READ]: Of<typeof ReadIn>;
  /** data is a view of the request buffer */
  [Opcode.WRITE]: Of<typeof WriteIn> & { data: Buffer };
  [Opcode.STATFS]: Record<string, never>;
  [Opcode.RELEASE]: Of<typeof ReleaseIn>;
  [Opcode.FSYNC]: Of<typeof FsyncIn>;
  [Opcode.SETXATTR]: { size: number; flags: number; setxattrFlags: number; name: Buffer; value: Buffer };
  [Opcode.GETXATTR]: Of<typeof GetxattrIn> & { name: Buffer };
  [Opcode.LISTXATTR]: Of<typeof GetxattrIn>;
  [Opcode.REMOVEXATTR]: { name: Buffer };
  [Opcode.FLUSH]: Of<typeof FlushIn>;
  [Opcode.OPENDIR]: Of<typeof OpenIn>;
  [Opcode.READDIR]: Of<typeof ReadIn>;
  [Opcode.READDIRPLUS]: Of<typeof ReadIn>;
  [Opcode.RELEASEDIR]: Of<typeof ReleaseIn>;
  [Opcode.FSYNCDIR]: Of<typeof FsyncIn>;
  [Opcode.ACCESS]: Of<typeof AccessIn>;
  [Opcode.CREATE]: Of<typeof CreateIn> & { name: Buffer };
  [Opcode.TMPFILE]: Of<typeof CreateIn> & { name: Buffer };
  [Opcode.INTERRUPT]: Of<typeof InterruptIn>;
  [Opcode.FALLOCATE]: Of<typeof FallocateIn>;
  [Opcode.LSEEK]: Of<typeof LseekIn>;
  [Opcode.COPY_FILE_RANGE]: Of<typeof CopyFileRangeIn>;
  [Opcode.COPY_FILE_RANGE_64]: Of<typeof CopyFileRangeIn>;
  [Opcode.SYNCFS]: Record<string, never>;
}
export type KnownOpcode = keyof RequestArgs;

/** reads NUL-terminated strings after a struct */
class NameReader {
  constructor(
    private readonly body: Buffer,
    public pos: number,
  ) {}
  name(what: string): Buffer {
    const e = this.body.indexOf(0, this.pos);
    if (e < 0) throw new FuseError("EINVAL", `${what}: no NUL`);
    const n = Buffer.from(this.body.subarray(this.pos, e));
    this.pos = e + 1;
    return n;
  }
}

function nul(name: Buffer): Buffer[] {
  return [name, Buffer.alloc(1)];
}

interface ArgsCodec<T> {
  decode(body: Buffer, st: ProtoState): T;
  encode(args: T, st: ProtoState): Buffer;
}

const EMPTY: ArgsCodec<Record<string, never>> = {
  decode: () => ({}),
  encode: () => Buffer.alloc(0),
};

function plain<S extends readonly FieldSpec[]>(c: StructCodec<S>): ArgsCodec<StructOf<S>> {
  return { decode: (b) => c.decode(b, 0), encode: (a) => c.encode(a) };
}

function structName<S extends readonly FieldSpec[]>(c: StructCodec<S>): ArgsCodec<StructOf<S> & { name: Buffer }> {
  return {
    decode: (b) => ({ ...c.decode(b, 0), name: new NameReader(b, c.size).name(c.name) }),
    encode: (a) => Buffer.concat([c.encode(a), ...nul(a.name)]),
  };
}

function structTwoNames<S extends readonly FieldSpec[]>(c: StructCodec<S>): ArgsCodec<StructOf<S> & { name: Buffer; newname: Buffer }> {
  return {
    decode: (b) => {
      const r = new NameReader(b, c.size);
      const name = r.name(c.name);
      const newname = r.name(c.name);
      return { ...c.decode(b, 0), name, newname };
    },
    encode: (a) => Buffer.concat([c.encode(a), ...nul(a.name), ...nul(a.newname)]),
  };
}

const NAME_ONLY: ArgsCodec<{ name: Buffer }> = {
  decode: (b) => ({ name: new NameReader(b, 0).name("name") }),
  encode: (a) => Buffer.concat(nul(a.name)),
};

export const REQUEST_CODECS: { [K in KnownOpcode]: ArgsCodec<RequestArgs[K]> } = {
  [Opcode.INIT]: {
    // kernels before 7.36 send only the first 16 bytes
    decode: (b) => {
      if (b.length >= InitIn.size) return InitIn.decode(b, 0);
      if (b.length < 16) throw new FuseError("EINVAL", "fuse_init_in too short");
      const full = Buffer.alloc(InitIn.size);
      b.copy(full, 0, 0, Math.min(b.length, InitIn.size));
      return InitIn.decode(full, 0);
    },
    encode: (a) => InitIn.encode(a),
  },
  [Opcode.DESTROY]: EMPTY,
  [Opcode.LOOKUP]: NAME_ONLY,
  [Opcode.FORGET]: plain(ForgetIn),
  [Opcode.BATCH_FORGET]: {
    decode: (b) => {
      const { count } = BatchForgetIn.decode(b, 0);
      const forgets: { nodeid: number; nlookup: number }[] = [];
      // the kernel never sends more than fit; be strict about the length
      if (BatchForgetIn.size + count * ForgetOne.size > b.length) throw new FuseError("EINVAL", "batch_forget: count past the end");
      for (let i = 0; i < count; i++) forgets.push(ForgetOne.decode(b, BatchForgetIn.size + i * ForgetOne.size));
      return { forgets };
    },
    encode: (a) => {
      const b = Buffer.alloc(BatchForgetIn.size + a.forgets.length * ForgetOne.size);
      BatchForgetIn.write({ count: a.forgets.length }, b, 0);
      a.forgets.forEach((f, i) => ForgetOne.write(f, b, BatchForgetIn.size + i * ForgetOne.size));
      return b;
    },
  },
  [Opcode.GETATTR]: plain(GetattrIn),
  [Opcode.SETATTR]: plain(SetattrIn),
  [Opcode.READLINK]: EMPTY,
  [Opcode.SYMLINK]: {
    decode: (b) => {
      const r = new NameReader(b, 0);
      const name = r.name("symlink name");
      const target = r.name("symlink target");
      return { name, target };
    },
    encode: (a) => Buffer.concat([...nul(a.name), ...nul(a.target)]),
  },
  [Opcode.MKNOD]: structName(MknodIn),
  [Opcode.MKDIR]: structName(MkdirIn),
  [Opcode.UNLINK]: NAME_ONLY,
  [Opcode.RMDIR]: NAME_ONLY,
  [Opcode.RENAME]: structTwoNames(RenameIn),
  [Opcode.RENAME2]: structTwoNames(Rename2In),
  [Opcode.LINK]: structName(LinkIn),
  [Opcode.OPEN]: plain(OpenIn),
  [Opcode.READ]: plain(ReadIn),
  [Opcode.WRITE]: {
    decode: (b) => {
      const w = WriteIn.decode(b, 0);
      if (WriteIn.size + w.size > b.length) throw new FuseError("EINVAL", "write: size past the end");
      return { ...w, data: b.subarray(WriteIn.size, WriteIn.size + w.size) };
    },
    encode: (a) => Buffer.concat([WriteIn.encode({ ...a, size: a.data.length }), a.data]),
  },
  [Opcode.STATFS]: EMPTY,
  [Opcode.RELEASE]: plain(ReleaseIn),
  [Opcode.FSYNC]: plain(FsyncIn),
  [Opcode.SETXATTR]: {
    decode: (b, st) => {
      let size: number;
      let flags: number;
      let setxattrFlags = 0;
      let pos: number;
      if (st.setxattrExt) {
        ({ size, flags, setxattrFlags } = SetxattrInExt.decode(b, 0));
        pos = SetxattrInExt.size;
      } else {
        ({ size, flags } = SetxattrInCompat.decode(b, 0));
        pos = SetxattrInCompat.size;
      }
      const r = new NameReader(b, pos);
      const name = r.name("setxattr name");
      if (r.pos + size > b.length) throw new FuseError("EINVAL", "setxattr: value past the end");
      const value = Buffer.from(b.subarray(r.pos, r.pos + size));
      return { size, flags, setxattrFlags, name, value };
    },
    encode: (a, st) => {
      const head = st.setxattrExt
        ? SetxattrInExt.encode({ size: a.value.length, flags: a.flags, setxattrFlags: a.setxattrFlags })
        : SetxattrInCompat.encode({ size: a.value.length, flags: a.flags });
      return Buffer.concat([head, ...nul(a.name), a.value]);
    },
  },
  [Opcode.GETXATTR]: structName(GetxattrIn),
  [Opcode.LISTXATTR]: plain(GetxattrIn),
  [Opcode.REMOVEXATTR]: NAME_ONLY,
  [Opcode.FLUSH]: plain(FlushIn),
  [Opcode.OPENDIR]: plain(OpenIn),
  [Opcode.READDIR]: plain(ReadIn),
  [Opcode.READDIRPLUS]: plain(ReadIn),
  [Opcode.RELEASEDIR]: plain(ReleaseIn),
  [Opcode.FSYNCDIR]: plain(FsyncIn),
  [Opcode.ACCESS]: plain(AccessIn),
  [Opcode.CREATE]: structName(CreateIn),
  [Opcode.TMPFILE]: structName(CreateIn),
  [Opcode.INTERRUPT]: plain(InterruptIn),
  [Opcode.FALLOCATE]: plain(FallocateIn),
  [Opcode.LSEEK]: plain(LseekIn),
  [Opcode.COPY_FILE_RANGE]: plain(CopyFileRangeIn),
  [Opcode.COPY_FILE_RANGE_64]: plain(CopyFileRangeIn),
  [Opcode.SYNCFS]: {
    decode: (b) => {
      SyncfsIn.decode(b, 0);
      return {};
    },
    encode: () => SyncfsIn.encode({}),
  },
};

export function isKnownOpcode(op: number): op is KnownOpcode {
  return Object.prototype.hasOwnProperty.call(REQUEST_CODECS, op);
}

/** decode a request's header; throws EINVAL if the bytes do not hold it */
export function decodeInHeader(buf: Buffer, n: number): InHeaderT {
  if (n < IN_HEADER_SIZE) throw new FuseError("EINVAL", `request of ${n} bytes`);
  const h = InHeader.decode(buf, 0);
  if (h.len !== n) throw new FuseError("EINVAL", `request length ${h.len} but read ${n}`);
  if (IN_HEADER_SIZE + h.totalExtlen * 8 > n) throw new FuseError("EINVAL", "extensions past the end");
  return h;
}

/** the argument bytes of a request (extensions stripped) */
export function requestBody(buf: Buffer, h: InHeaderT): Buffer {
  return buf.subarray(IN_HEADER_SIZE, h.len - h.totalExtlen * 8);
}

export function decodeArgs<K extends KnownOpcode>(op: K, body: Buffer, st: ProtoState = DEFAULT_PROTO): RequestArgs[K] {
  return REQUEST_CODECS[op].decode(body, st);
}

export interface EncodeRequestHeader {
  unique: bigint;
  nodeid: bigint | number;
  uid?: number;
  gid?: number;
  pid?: number;
}

/** a whole request as the kernel sends it (for tests and tools) */
export function encodeRequest<K extends KnownOpcode>(op: K, h: EncodeRequestHeader, args: RequestArgs[K], st: ProtoState = DEFAULT_PROTO): Buffer {
  const body = REQUEST_CODECS[op].encode(args, st);
  const head = InHeader.encode({
    len: IN_HEADER_SIZE + body.length,
    opcode: op,
    unique: h.unique,
    nodeid: BigInt(h.nodeid),
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    pid: h.pid ?? 0,
    totalExtlen: 0,
  });
  return Buffer.concat([head, body]);
}

/* ------------------------------------------------------------------ */
/* replies and notifications                                           */

/** an out_header for a reply of bodyLen bytes; error is a positive errno or 0 */
export function encodeOutHeader(unique: bigint, error: number, bodyLen: number): Buffer {
  const b = Buffer.allocUnsafe(OUT_HEADER_SIZE);
  b.writeUInt32LE(OUT_HEADER_SIZE + bodyLen, 0);
  b.writeInt32LE(-error, 4);
  b.writeBigUInt64LE(unique, 8);
  return b;
}

export interface DecodedReply {
  len: number;
  /** positive errno, 0 for success (for notifications: the notify code, as sent) */
  error: number;
  unique: bigint;
  body: Buffer;
}

export function decodeReply(buf: Buffer): DecodedReply {
  const h = OutHeader.decode(buf, 0);
  if (h.len !== buf.length) throw new FuseError("EINVAL", `reply length ${h.len} but ${buf.length} bytes`);
  return { len: h.len, error: h.unique === 0n ? h.error : -h.error, unique: h.unique, body: buf.subarray(OUT_HEADER_SIZE) };
}

export function encodeNotifyInvalInode(ino: number, off: number, len: number): Buffer[] {
  const body = NotifyInvalInodeOut.encode({ ino, off, len });
  return [notifyHeader(NotifyCode.INVAL_INODE, body.length), body];
}

export function encodeNotifyInvalEntry(parent: number, name: Buffer, flags = 0): Buffer[] {
  checkNotifyName(name);
  const body = NotifyInvalEntryOut.encode({ parent, namelen: name.length, flags });
  return [notifyHeader(NotifyCode.INVAL_ENTRY, body.length + name.length + 1), body, name, Buffer.alloc(1)];
}

export function encodeNotifyDelete(parent: number, child: number, name: Buffer): Buffer[] {
  checkNotifyName(name);
  const body = NotifyDeleteOut.encode({ parent, child, namelen: name.length });
  return [notifyHeader(NotifyCode.DELETE, body.length + name.length + 1), body, name, Buffer.alloc(1)];
}

function checkNotifyName(name: Buffer): void {
  if (name.length === 0 || name.length > FUSE_NAME_MAX) throw new FuseError("ENAMETOOLONG", `notify name of ${name.length} bytes`);
  if (name.includes(0)) throw new FuseError("EINVAL", "notify name with NUL");
}

function notifyHeader(code: number, bodyLen: number): Buffer {
  const b = Buffer.allocUnsafe(OUT_HEADER_SIZE);
  b.writeUInt32LE(OUT_HEADER_SIZE + bodyLen, 0);
  b.writeInt32LE(code, 4);
  b.writeBigUInt64LE(0n, 8);
  return b;
}

/* ------------------------------------------------------------------ */
/* conversions between ops.ts shapes and wire structs                  */

export function attrToWire(a: FuseAttr): AttrT {
  return {
    ino: a.ino,
    size: a.size,
    blocks: a.blocks,
    atime: a.atime.sec,
    mtime: a.mtime.sec,
    ctime: a.ctime.sec,
    atimensec: a.atime.nsec,
    mtimensec: a.mtime.nsec,
    ctimensec: a.ctime.nsec,
    mode: a.mode,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    rdev: a.rdev,
    blksize: a.blksize,
    flags: 0,
  };
}
