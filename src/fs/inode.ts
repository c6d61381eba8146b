/*
 * Inodes: the inode item, its attributes, and its inode index items.
 *
 * Every change of an inode goes through an OpInodes, the inode cache of
 * one operation: an operation loads each inode it touches once (so two
 * names for one inode, e.g. rename within one directory, share one
 * object), changes fields in memory, marks the inode dirty, and flush()
 * writes the dirty inodes inside the transaction.  flush() keeps the
 * index invariants:
 *
 *  - every changed inode gets meta_seq = trans.seq; a change of contents
 *    or size (dirty with data=true) also gets data_seq = trans.seq, except
 *    directories, which are never in the data_seq index;
 *  - each inode has exactly one META_SEQ index item (at its meta_seq) and,
 *    unless a directory, exactly one DATA_SEQ item (at its data_seq): when
 *    a seq moves, the item at the old seq is deleted in the same
 *    transaction as the new one is made;
 *  - version (i_version) grows with every write of the inode.
 *
 * The seqs an inode was loaded with are what its index items hold, since
 * only flush() changes seqs.
 */
import { NOT_CACHED, type ItemKV } from "./storage.js";
import type { FsCtx } from "./context.js";
import type { Attr } from "./types.js";
import {
  decodeInode,
  encodeInode,
  inodeIndexKey,
  inodeKey,
  isDirMode,
  INODE_FLAG,
  type InodeIndexType,
  type InodeVal,
  type Timespec,
} from "../format/fs_items.js";
import { DATA_BLOCK_SIZE, DIRENT_FIRST_POS, INODE_INDEX_TYPE, ROOT_INO } from "../format/constants.js";
import { FsError, assert } from "../util/errors.js";

/**
 * EPERM while an inode has the retention flag (set-attr-x -t 1): its
 * data, size, attributes, names and user. xattrs may not change.  The
 * one place every changing operation asks (the original's list: write,
 * fallocate, setattr, unlink/rmdir, rename of either inode, user. xattrs,
 * punch-offline, move-blocks into it unless staging).
 */
export function checkRetention(v: InodeVal, ino: number): void {
  if (v.flags & INODE_FLAG.retention) throw new FsError("EPERM", `inode ${ino} is under retention`);
}

/** the nextXattrId of a new inode: xattr ids are taken from it and it only grows */
export const FIRST_XATTR_ID = 1;

export function newInodeVal(mode: number, uid: number, gid: number, rdev: number, now: Timespec): InodeVal {
  return {
    size: 0,
    metaSeq: 0,
    dataSeq: 0,
    dataVersion: 0,
    onlineBlocks: 0,
    offlineBlocks: 0,
    nextReaddirPos: DIRENT_FIRST_POS,
    nextXattrId: FIRST_XATTR_ID,
    version: 0,
    nlink: isDirMode(mode) ? 2 : 1,
    uid,
    gid,
    mode,
    rdev,
    flags: 0,
    atime: { ...now },
    ctime: { ...now },
    mtime: { ...now },
    crtime: { ...now },
    proj: 0n,
  };
}

/** the index items an inode with these values has */
export function inodeIndexKeys(ino: number, v: Pick<InodeVal, "mode" | "metaSeq" | "dataSeq">): Buffer[] {
  const keys = [inodeIndexKey(INODE_INDEX_TYPE.metaSeq, v.metaSeq, ino)];
  if (!isDirMode(v.mode)) keys.push(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, v.dataSeq, ino));
  return keys;
}

/**
 * The items mkfs writes for the root directory: inode 1, a directory of
 * mode 0755 owned by root, with its meta_seq index item at seq.
 */
export function makeRootInodeItems(now: Timespec, seq = 1): ItemKV[] {
  const v = newInodeVal(0o040755, 0, 0, 0, now);
  v.metaSeq = seq;
  return [
    { key: inodeKey(ROOT_INO), value: encodeInode(v) },
    ...inodeIndexKeys(ROOT_INO, v).map((key) => ({ key, value: Buffer.alloc(0) })),
  ];
}

export function toAttr(ino: number, v: InodeVal): Attr {
  return {
    ino,
    mode: v.mode,
    nlink: v.nlink,
    uid: v.uid,
    gid: v.gid,
    rdev: v.rdev,
    size: v.size,
    blocks: v.onlineBlocks * (DATA_BLOCK_SIZE / 512),
    blksize: DATA_BLOCK_SIZE,
    atime: { ...v.atime },
    mtime: { ...v.mtime },
    ctime: { ...v.ctime },
    crtime: { ...v.crtime },
    metaSeq: v.metaSeq,
    dataSeq: v.dataSeq,
    dataVersion: v.dataVersion,
    onlineBlocks: v.onlineBlocks,
    offlineBlocks: v.offlineBlocks,
    flags: v.flags,
    proj: v.proj,
  };
}

/** the inode's value (undefined: none): at once when its item is in memory, else the promise of a read */
export function readInode(ctx: FsCtx, ino: number): InodeVal | undefined | Promise<InodeVal | undefined> {
  const key = inodeKey(ino);
  const b = ctx.items.lookupNow(key);
  if (b !== NOT_CACHED) return b ? decodeInode(b) : undefined;
  return ctx.items.lookup(key).then((read) => (read ? decodeInode(read) : undefined));
}

interface Entry {
  val: InodeVal;
  /**
   * the seqs its stored index items are keyed by (undefined for a new
   * inode): the keys are made only when a flush moves them, not for
   * every inode read
   */
  stored: { metaSeq: number; dataSeq: number } | undefined;
  dirty: boolean;
  data: boolean;
}

const EMPTY = Buffer.alloc(0);

function mustExist(ino: number, v: InodeVal | undefined): InodeVal {
  if (!v) throw new FsError("ENOENT", `inode ${ino} does not exist`);
  return v;
}

function mustBeLiveDir(ino: number, v: InodeVal): InodeVal {
  if (!isDirMode(v.mode)) throw new FsError("ENOTDIR", `inode ${ino} is not a directory`);
  if (v.nlink === 0) throw new FsError("ENOENT", `directory ${ino} was removed`);
  return v;
}

export class OpInodes {
  private readonly map = new Map<number, Entry>();

  constructor(private readonly ctx: FsCtx) {}

  /*
   * find, get and getLiveDir answer at once (a value, no promise) when the
   * inode is loaded or its item is in memory, else with a promise; callers
   * await either.  Their errors are thrown, not returned as rejections.
   */

  /** the inode if it exists (items of deleted inodes are gone) */
  find(ino: number): InodeVal | undefined | Promise<InodeVal | undefined> {
    const e = this.map.get(ino);
    if (e) return e.val;
    const v = readInode(this.ctx, ino);
    return v instanceof Promise ? v.then((x) => this.loaded(ino, x)) : this.loaded(ino, v);
  }

  private loaded(ino: number, val: InodeVal | undefined): InodeVal | undefined {
    if (!val) return undefined;
    // loaded meanwhile (two finds of one inode in flight): the first load is the op's object
    const e = this.map.get(ino);
    if (e) return e.val;
    this.map.set(ino, { val, stored: { metaSeq: val.metaSeq, dataSeq: val.dataSeq }, dirty: false, data: false });
    return val;
  }

  get(ino: number): InodeVal | Promise<InodeVal> {
    const v = this.find(ino);
    return v instanceof Promise ? v.then((x) => mustExist(ino, x)) : mustExist(ino, v);
  }

  /** a directory that still has a name: ENOENT, ENOTDIR otherwise */
  getLiveDir(ino: number): InodeVal | Promise<InodeVal> {
    const v = this.get(ino);
    return v instanceof Promise ? v.then((x) => mustBeLiveDir(ino, x)) : mustBeLiveDir(ino, v);
  }

  /** a new inode, written by the next flush() */
  add(ino: number, val: InodeVal): void {
    assert(!this.map.has(ino), `inode ${ino} added twice`);
    this.map.set(ino, { val, stored: undefined, dirty: true, data: !isDirMode(val.mode) });
  }

  /** mark a loaded inode changed; data=true for contents or size */
  dirty(ino: number, data = false): void {
    const e = this.map.get(ino);
    assert(e, `inode ${ino} marked dirty without being loaded`);
    e.dirty = true;
    e.data ||= data;
  }

  /** delete the inode item and its index items (the caller deletes the rest); inside hold() */
  remove(ino: number): void {
    const e = this.map.get(ino);
    assert(e && e.stored, `inode ${ino} removed without being loaded`);
    for (const k of inodeIndexKeys(ino, { mode: e.val.mode, ...e.stored })) this.ctx.items.delete(k);
    this.ctx.items.delete(inodeKey(ino));
    this.map.delete(ino);
  }

  /** an index item moves when its seq changed (once per inode per transaction); from undefined: a new inode */
  private moveIndexItem(ino: number, type: InodeIndexType, from: number | undefined, to: number): void {
    if (from === to) return;
    if (from !== undefined) this.ctx.items.delete(inodeIndexKey(type, from, ino));
    this.ctx.items.set(inodeIndexKey(type, to, ino), EMPTY);
  }

  /** the attributes a loaded inode will have once flush() wrote it (seqs, version): an answer given before the flush; inside hold() */
  attrAfterFlush(ino: number): Attr {
    const e = this.map.get(ino);
    assert(e, `inode ${ino} asked for without being loaded`);
    const v = e.val;
    if (!e.dirty) return toAttr(ino, v);
    const seq = this.ctx.st.trans.seq;
    const dataSeq = e.data && !isDirMode(v.mode) ? seq : v.dataSeq;
    return toAttr(ino, { ...v, metaSeq: seq, dataSeq, version: v.version + 1 });
  }

  /** write every dirty inode and move its index items; inside hold() */
  flush(): void {
    const seq = this.ctx.st.trans.seq;
    const items = this.ctx.items;
    for (const [ino, e] of this.map) {
      if (!e.dirty) continue;
      const v = e.val;
      v.metaSeq = seq;
      if (e.data && !isDirMode(v.mode)) v.dataSeq = seq;
      v.version++;
      this.moveIndexItem(ino, INODE_INDEX_TYPE.metaSeq, e.stored?.metaSeq, v.metaSeq);
      if (!isDirMode(v.mode)) this.moveIndexItem(ino, INODE_INDEX_TYPE.dataSeq, e.stored?.dataSeq, v.dataSeq);
      items.set(inodeKey(ino), encodeInode(v));
      e.stored = { metaSeq: v.metaSeq, dataSeq: v.dataSeq };
      e.dirty = false;
      e.data = false;
    }
  }
}

export const timeCmp = (a: Timespec, b: Timespec): number => a.sec - b.sec || a.nsec - b.nsec;
