/*
 * The storage the fs layer is built on, as narrow interfaces.
 *
 * The fs layer never sees blocks, btrees or the server: it reads and
 * writes items through FsItems, groups its changes into atomic units with
 * FsTrans.hold, puts file contents on the data device through FsData, and
 * gets inode numbers through FsStorage.allocIno.  A mount composes the
 * real implementations (item cache over the forest, the mount's
 * transaction, the mount's data allocator); tests may compose simple
 * in-memory ones.
 *
 * Rules the fs layer relies on:
 *  - set/delete may only be called inside hold(); every change made in one
 *    hold() becomes durable together or not at all.
 *  - lookup/next/prev see the mount's own changes immediately; they are
 *    never used on delta zones, which are only written (delta) and read
 *    through `committed`.
 *  - trans.seq is the sequence number of the open transaction; it only
 *    grows, and is greater than the seq of every committed transaction
 *    (it is what meta_seq and data_seq record).
 *  - data blocks for which isFresh() is true were allocated in the open
 *    transaction and may be overwritten in place; any other block that a
 *    file references must never be overwritten (copy it to a fresh block
 *    and free the old one), so a crash leaves the last commit intact.
 *  - freeData() of a committed block only makes it reusable after the
 *    commit that stops referencing it.
 */
import type { Key } from "../format/key.js";

export interface ItemKV {
  key: Key;
  value: Buffer;
}

/** what lookupNow/nextNow answer when the answer needs a read first: call lookup/next */
export const NOT_CACHED: unique symbol = Symbol("not cached");
export type NotCached = typeof NOT_CACHED;

export interface FsItems {
  lookup(key: Key): Promise<Buffer | undefined>;
  /** the first item with first <= key <= last */
  next(first: Key, last: Key): Promise<ItemKV | undefined>;
  /**
   * lookup() and next() answered at once when no read is needed (the
   * usual case for a warm cache), NOT_CACHED otherwise.  They let the hot
   * paths skip a promise per call; the answer is the one the async call
   * would give.
   */
  lookupNow(key: Key): Buffer | undefined | NotCached;
  nextNow(first: Key, last: Key): ItemKV | undefined | NotCached;
  /**
   * Visit the items of [first, last] in key order, from memory, while
   * they need no read; visit returns false to stop and must not change
   * the items.  Returns undefined when the walk ended (the range's end
   * or visit's stop), else the key from which a read is needed: the
   * caller goes on with next() from there.
   */
  scanNow(first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Key | undefined;
  /** the last item with first <= key <= last */
  prev(last: Key, first: Key): Promise<ItemKV | undefined>;
  /** create or replace; inside hold() only */
  set(key: Key, value: Buffer): void;
  /** remove if present; inside hold() only */
  delete(key: Key): void;
  /** add a delta to an item of a delta zone (format/tag_items.ts), without reading it; inside hold() only */
  delta(key: Key, value: Buffer): void;
  /**
   * A count that grows with every change of what the items may say: a
   * set, delete or delta, items read in, cached items forgotten.  While it
   * stands still, an answer given from the items is still the answer.
   */
  readonly changes: number;
}

/**
 * The items of the last commit, of every mount: what the index readers
 * (xattr totals, index and search) answer from.  Deltas come summed,
 * null sums and deletions left out.  A range read returns up to about
 * limit items and `end`: the result is complete for keys <= end.
 */
export interface CommittedItems {
  readRange(start: Key, end: Key, limit: number): Promise<{ items: ItemKV[]; end: Key }>;
}

export interface FsTrans {
  /** run fn as part of the open transaction: a commit waits until it returns */
  hold<T>(fn: () => Promise<T>): Promise<T>;
  /** the seq of the open transaction */
  readonly seq: number;
  /** commit everything changed so far and wait until it is durable */
  sync(): Promise<void>;
}

export interface DataExtent {
  blkno: number;
  count: number;
}

export interface FsData {
  /** allocate up to count contiguous data blocks (at least 1); ENOSPC when none */
  alloc(count: number): Promise<DataExtent>;
  /** give blocks back (reusable once the commit that stops referencing them is durable) */
  free(blkno: number, count: number): void;
  /** blocks allocated in the open transaction: overwritable in place */
  isFresh(blkno: number): boolean;
  /** count blocks from blkno; into: a buffer lent for them, as BlockDevice.read takes it */
  read(blkno: number, count: number, into?: Buffer): Promise<Buffer>;
  write(blkno: number, data: Buffer): Promise<void>;
  totalBlocks(): number;
  freeBlocks(): number;
}

export interface FsClock {
  /** wall time for timestamps */
  now(): { sec: number; nsec: number };
}

export interface FsStorage {
  items: FsItems;
  trans: FsTrans;
  data: FsData;
  clock: FsClock;
  /** a new inode number, never used before on this filesystem */
  allocIno(): Promise<number>;
  /** metadata space for statfs */
  metaBlocks(): { total: number; free: number };
  fsid: bigint;
  /** the filesystem's format version: features of later versions answer EOPNOTSUPP below theirs */
  formatVersion: number;
  committed: CommittedItems;
}
