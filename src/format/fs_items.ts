/*
 * The persistent items of the filesystem namespace: their keys and the
 * encoding of their values.
 *
 * Every fs item lives in ZONE.fs keyed by (ino, FS_TYPE.x, ...), so all
 * the items of one inode sort together, in type order:
 *
 *   inode        (ino, INODE)                                 -> InodeVal
 *   xattr part   (ino, XATTR, name hash, xattr id, part)      -> part bytes
 *   dirent       (dir, DIRENT, name hash, readdir pos)        -> DirentVal
 *   readdir      (dir, READDIR, readdir pos)                  -> DirentVal
 *   link backref (target, LINK_BACKREF, dir, readdir pos)     -> DirentVal
 *   symlink part (ino, SYMLINK, 0, 0, part)                   -> target bytes
 *   data extent  (ino, DATA_EXTENT, logical start block)      -> ExtentVal
 *
 * and two index zones hold items with empty values:
 *
 *   inode index  (ZONE.inodeIndex, seq, META_SEQ|DATA_SEQ, ino)
 *   orphan       (ZONE.orphan, ino, ORPHAN_TYPE)
 *
 * A directory entry is three items with one value: found by name hash
 * (collisions are resolved by comparing the names of every entry with
 * the hash), listed by readdir position, and found from its target
 * through the link backref.  The readdir position is unique in its
 * directory, so it tells apart entries whose names share a hash.
 *
 * Values are little-endian, fixed headers padded to 8 bytes, and never
 * longer than BTREE_MAX_VAL_LEN: xattrs and symlink targets are split
 * into numbered part items (the xattr header and name are always whole
 * in part 0).  Numbers are kept below 2^53 so they are exact in JS;
 * a stored value beyond that is corruption (EIO).
 */
import { crc32c } from "@node-rs/crc32";
import { makeKey, U64_MAX, type Key } from "./key.js";
import {
  BTREE_MAX_VAL_LEN,
  FS_TYPE,
  INODE_INDEX_TYPE,
  ORPHAN_TYPE,
  XATTR_MAX_NAME_LEN,
  ZONE,
} from "./constants.js";
import { FsError } from "../util/errors.js";

/* ------------------------------------------------------------------ */
/* little-endian helpers                                               */

function putU64(buf: Buffer, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 field out of range: ${v}`);
  buf.writeUInt32LE(v >>> 0, off);
  buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), off + 4);
}

function getU64(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= 0x20_0000) throw new FsError("EIO", `stored u64 beyond 2^53 at offset ${off}`);
  // hi 0: lo itself.  hi * 2^32 + lo is a double even when it is small, and a double once stored in an
  // object field makes V8 box that field in every object of the shape (a heap number per item and inode)
  return hi === 0 ? lo : hi * 0x1_0000_0000 + lo;
}

function putI64(buf: Buffer, off: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`i64 field out of range: ${v}`);
  // two's complement as two 32-bit halves: no BigInt on this hot path (every inode write)
  const lo = ((v % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
  buf.writeUInt32LE(lo, off);
  buf.writeInt32LE((v - lo) / 0x1_0000_0000, off + 4);
}

function getI64(buf: Buffer, off: number): number {
  const hi = buf.readInt32LE(off + 4);
  const lo = buf.readUInt32LE(off);
  if (hi === 0) return lo; // a small integer, not a boxed double (getU64)
  const v = hi * 0x1_0000_0000 + lo;
  if (!Number.isSafeInteger(v)) throw new FsError("EIO", `stored i64 beyond 2^53 at offset ${off}`);
  return v;
}

function need(buf: Buffer, len: number, what: string): void {
  if (buf.length < len) throw new FsError("EIO", `${what} value too short: ${buf.length} < ${len}`);
}

/* ------------------------------------------------------------------ */
/* mode bits and dirent types                                          */

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

export const isDirMode = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isRegMode = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isLnkMode = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;

/** the d_type of a mode, as readdir reports it (DT_* = S_IF* >> 12) */
export function direntTypeOfMode(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

/* ------------------------------------------------------------------ */
/* inode                                                               */

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface InodeVal {
  size: number;
  metaSeq: number;
  dataSeq: number;
  dataVersion: number;
  onlineBlocks: number;
  offlineBlocks: number;
  nextReaddirPos: number;
  nextXattrId: number;
  /** change counter (i_version): bumped on every change of the inode */
  version: number;
  nlink: number;
  uid: number;
  gid: number;
  mode: number;
  rdev: number;
  flags: number;
  atime: Timespec;
  ctime: Timespec;
  mtime: Timespec;
  crtime: Timespec;
  /** project id: the full u64 (the original's range) */
  proj: bigint;
}

export const INODE_VAL_BYTES = 168;

/** bits of InodeVal.flags */
export const INODE_FLAG = {
  /** retention: the file may not change (data, size, attributes, names, user. xattrs) until the flag is cleared */
  retention: 1,
} as const;

function putTime(buf: Buffer, off: number, t: Timespec): void {
  putI64(buf, off, t.sec);
  buf.writeUInt32LE(t.nsec, off + 8);
  buf.writeUInt32LE(0, off + 12);
}

function getTime(buf: Buffer, off: number): Timespec {
  return { sec: getI64(buf, off), nsec: buf.readUInt32LE(off + 8) };
}

export function encodeInode(v: InodeVal): Buffer {
  // every byte is written below
  const b = Buffer.allocUnsafe(INODE_VAL_BYTES);
  putU64(b, 0, v.size);
  putU64(b, 8, v.metaSeq);
  putU64(b, 16, v.dataSeq);
  putU64(b, 24, v.dataVersion);
  putU64(b, 32, v.onlineBlocks);
  putU64(b, 40, v.offlineBlocks);
  putU64(b, 48, v.nextReaddirPos);
  putU64(b, 56, v.nextXattrId);
  putU64(b, 64, v.version);
  b.writeUInt32LE(v.nlink, 72);
  b.writeUInt32LE(v.uid, 76);
  b.writeUInt32LE(v.gid, 80);
  b.writeUInt32LE(v.mode, 84);
  b.writeUInt32LE(v.rdev, 88);
  b.writeUInt32LE(v.flags, 92);
  putTime(b, 96, v.atime);
  putTime(b, 112, v.ctime);
  putTime(b, 128, v.mtime);
  putTime(b, 144, v.crtime);
  if (v.proj === 0n) b.fill(0, 160, 168);
  else b.writeBigUInt64LE(BigInt.asUintN(64, v.proj), 160);
  return b;
}

export function decodeInode(b: Buffer): InodeVal {
  need(b, INODE_VAL_BYTES, "inode");
  return {
    size: getU64(b, 0),
    metaSeq: getU64(b, 8),
    dataSeq: getU64(b, 16),
    dataVersion: getU64(b, 24),
    onlineBlocks: getU64(b, 32),
    offlineBlocks: getU64(b, 40),
    nextReaddirPos: getU64(b, 48),
    nextXattrId: getU64(b, 56),
    version: getU64(b, 64),
    nlink: b.readUInt32LE(72),
    uid: b.readUInt32LE(76),
    gid: b.readUInt32LE(80),
    mode: b.readUInt32LE(84),
    rdev: b.readUInt32LE(88),
    flags: b.readUInt32LE(92),
    atime: getTime(b, 96),
    ctime: getTime(b, 112),
    mtime: getTime(b, 128),
    crtime: getTime(b, 144),
    // no BigInt made for the usual project id 0
    proj: b.readUInt32LE(160) === 0 && b.readUInt32LE(164) === 0 ? 0n : b.readBigUInt64LE(160),
  };
}

/* ------------------------------------------------------------------ */
/* directory entries                                                   */

export interface DirentVal {
  ino: number;
  hash: number;
  pos: number;
  /** DT_* type of the target */
  type: number;
  name: Buffer;
}

export const DIRENT_HEADER_BYTES = 32;

export function encodeDirent(d: DirentVal): Buffer {
  // a slice of node's buffer pool (a new ArrayBuffer each, as Buffer.alloc makes, costs twice as much);
  // the header's padding is zeroed here, the name fills the rest
  const b = Buffer.allocUnsafe(DIRENT_HEADER_BYTES + d.name.length).fill(0, 24, DIRENT_HEADER_BYTES);
  putU64(b, 0, d.ino);
  putU64(b, 8, d.hash);
  putU64(b, 16, d.pos);
  b[24] = d.type;
  d.name.copy(b, DIRENT_HEADER_BYTES);
  return b;
}

/**
 * name is a view of b, not a copy (a copy per entry was about a tenth
 * of a readdir in the backend): b must not change while the name is
 * used.  The item cache's values never do (a change replaces the value;
 * a read copies what it caches out of the block).
 */
export function decodeDirent(b: Buffer): DirentVal {
  need(b, DIRENT_HEADER_BYTES + 1, "dirent");
  return {
    ino: getU64(b, 0),
    hash: getU64(b, 8),
    pos: getU64(b, 16),
    type: b[24]!,
    name: b.subarray(DIRENT_HEADER_BYTES),
  };
}

/*
 * Name hashes are 53 bits so they are exact JS numbers: the low 32 bits
 * are crc32c with one seed, the high 21 bits come from crc32c with
 * another.  Collisions are legal; callers compare names.
 */
const HASH_SEED_LO = 0xffff_ffff;
const HASH_SEED_HI = 0x5c0f_7f5a;

export function nameHash(name: Buffer): number {
  const lo = crc32c(name, HASH_SEED_LO) >>> 0;
  const hi = (crc32c(name, HASH_SEED_HI) >>> 0) & 0x1f_ffff;
  return hi * 0x1_0000_0000 + lo;
}

/* ------------------------------------------------------------------ */
/* xattrs                                                              */

/** part 0 begins with val_len u16, name_len u8, 5 pad bytes, then the name, then the value */
export const XATTR_HEADER_BYTES = 8;

export interface XattrHeader {
  valLen: number;
  nameLen: number;
}

export function xattrNrParts(nameLen: number, valLen: number): number {
  return Math.max(1, Math.ceil((XATTR_HEADER_BYTES + nameLen + valLen) / BTREE_MAX_VAL_LEN));
}

/** the part values of one xattr, in order */
export function encodeXattrParts(name: Buffer, value: Buffer): Buffer[] {
  if (name.length > XATTR_MAX_NAME_LEN) throw new RangeError("xattr name too long");
  const whole = Buffer.alloc(XATTR_HEADER_BYTES + name.length + value.length);
  whole.writeUInt16LE(value.length, 0);
  whole[2] = name.length;
  name.copy(whole, XATTR_HEADER_BYTES);
  value.copy(whole, XATTR_HEADER_BYTES + name.length);
  return splitParts(whole);
}

export function decodeXattrHeader(part0: Buffer): XattrHeader {
  need(part0, XATTR_HEADER_BYTES, "xattr");
  const h = { valLen: part0.readUInt16LE(0), nameLen: part0[2]! };
  need(part0, Math.min(BTREE_MAX_VAL_LEN, XATTR_HEADER_BYTES + h.nameLen + h.valLen), "xattr part 0");
  return h;
}

export function xattrNameOfPart0(part0: Buffer): Buffer {
  const h = decodeXattrHeader(part0);
  return part0.subarray(XATTR_HEADER_BYTES, XATTR_HEADER_BYTES + h.nameLen);
}

/** the value of an xattr from all of its parts, in order */
export function decodeXattrValue(parts: Buffer[]): Buffer {
  const whole = Buffer.concat(parts);
  const h = decodeXattrHeader(whole);
  need(whole, XATTR_HEADER_BYTES + h.nameLen + h.valLen, "xattr");
  return Buffer.from(whole.subarray(XATTR_HEADER_BYTES + h.nameLen, XATTR_HEADER_BYTES + h.nameLen + h.valLen));
}

/* ------------------------------------------------------------------ */
/* symlinks                                                            */

/** a symlink target is stored whole in parts of at most BTREE_MAX_VAL_LEN; its length is the inode size */
export function splitParts(whole: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let off = 0; off < whole.length || parts.length === 0; off += BTREE_MAX_VAL_LEN) {
    parts.push(Buffer.from(whole.subarray(off, off + BTREE_MAX_VAL_LEN)));
  }
  return parts;
}

export function symlinkNrParts(len: number): number {
  return Math.max(1, Math.ceil(len / BTREE_MAX_VAL_LEN));
}

/* ------------------------------------------------------------------ */
/* data extents                                                        */

export const EXTENT_FLAG = { offline: 1, unwritten: 2 } as const;

export interface ExtentVal {
  /** first physical data block; 0 for offline extents */
  blkno: number;
  /** blocks */
  len: number;
  flags: number;
}

export const EXTENT_VAL_BYTES = 24;

export function encodeExtent(e: ExtentVal): Buffer {
  const b = Buffer.alloc(EXTENT_VAL_BYTES);
  putU64(b, 0, e.blkno);
  putU64(b, 8, e.len);
  b[16] = e.flags;
  return b;
}

export function decodeExtent(b: Buffer): ExtentVal {
  need(b, EXTENT_VAL_BYTES, "extent");
  return { blkno: getU64(b, 0), len: getU64(b, 8), flags: b[16]! };
}

/* ------------------------------------------------------------------ */
/* keys                                                                */

const MAXF = U64_MAX;

/**
 * Items found by a name's hash (dirents, xattrs) share the key's first
 * NAME_HASH_PREFIX_BYTES bytes (zone, inode, type, hash) with the rest of
 * their hash's items and no other: a lookup by name walks only those.
 */
export const NAME_HASH_PREFIX_BYTES = 18;

/** NAME_HASH_PREFIX_BYTES for a dirent or xattr key given its zone and type bytes, else 0 */
export function nameHashPrefixBytes(zone: number, type: number): number {
  return zone === ZONE.fs && (type === FS_TYPE.dirent || type === FS_TYPE.xattr) ? NAME_HASH_PREFIX_BYTES : 0;
}

export const inodeKey = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.inode);

export const xattrKey = (ino: number, hash: number, id: number, part = 0): Key =>
  makeKey(ZONE.fs, ino, FS_TYPE.xattr, hash, id, part);
export const xattrHashLast = (ino: number, hash: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.xattr, hash, MAXF, 0xff);
export const xattrFirst = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.xattr);
export const xattrLast = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.xattr, MAXF, MAXF, 0xff);

export const direntKey = (dir: number, hash: number, pos: number): Key =>
  makeKey(ZONE.fs, dir, FS_TYPE.dirent, hash, pos);
export const direntHashLast = (dir: number, hash: number): Key => makeKey(ZONE.fs, dir, FS_TYPE.dirent, hash, MAXF, 0xff);

export const readdirKey = (dir: number, pos: number): Key => makeKey(ZONE.fs, dir, FS_TYPE.readdir, pos);
export const readdirLast = (dir: number): Key => makeKey(ZONE.fs, dir, FS_TYPE.readdir, MAXF, MAXF, 0xff);

export const linkBackrefKey = (ino: number, dir: number, pos: number): Key =>
  makeKey(ZONE.fs, ino, FS_TYPE.linkBackref, dir, pos);
export const linkBackrefFirst = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.linkBackref);
export const linkBackrefLast = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.linkBackref, MAXF, MAXF, 0xff);

export const symlinkKey = (ino: number, part: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.symlink, 0, 0, part);
export const symlinkFirst = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.symlink);
export const symlinkLast = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.symlink, MAXF, MAXF, 0xff);

export const extentKey = (ino: number, start: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.dataExtent, start);
export const extentFirst = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.dataExtent);
export const extentLast = (ino: number): Key => makeKey(ZONE.fs, ino, FS_TYPE.dataExtent, MAXF, MAXF, 0xff);

/** the first and last key of every fs item of an inode */
export const inodeItemsFirst = (ino: number): Key => makeKey(ZONE.fs, ino, 0);
export const inodeItemsLast = (ino: number): Key => makeKey(ZONE.fs, ino, 0xff, MAXF, MAXF, 0xff);

export type InodeIndexType = (typeof INODE_INDEX_TYPE)[keyof typeof INODE_INDEX_TYPE];

export const inodeIndexKey = (type: InodeIndexType, seq: number, ino: number): Key =>
  makeKey(ZONE.inodeIndex, seq, type, ino);
/** the first and last key of every index item of one seq (of either type) */
export const inodeIndexSeqFirst = (seq: number): Key => makeKey(ZONE.inodeIndex, seq, 0);
export const inodeIndexSeqLast = (seq: number): Key => makeKey(ZONE.inodeIndex, seq, 0xff, MAXF, MAXF, 0xff);

export const orphanKey = (ino: number): Key => makeKey(ZONE.orphan, ino, ORPHAN_TYPE);
export const orphanFirst = (): Key => makeKey(ZONE.orphan, 0, 0);
export const orphanLast = (): Key => makeKey(ZONE.orphan, MAXF, 0xff, MAXF, MAXF, 0xff);
