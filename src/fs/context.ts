/*
 * What every fs module works with: the storage, and the name hash in use
 * (the format's nameHash, replaceable by tests to force collisions).
 * Iteration helpers over item ranges live here too: a range is walked
 * with next()/prev() one item at a time, so items may be changed while
 * a walk is under way.
 */
import { NOT_CACHED, type FsItems, type FsStorage, type ItemKV } from "./storage.js";
import { keyInc, keyDec, type Key } from "../format/key.js";

export interface FsCtx {
  st: FsStorage;
  items: FsItems;
  hash: (name: Buffer) => number;
  /** the last name findEntry found absent (dirent.ts), good while items.changes is still `changes` */
  lastAbsent?: { dir: number; name: Buffer; changes: number };
}

/** every item in [first, last], in key order, read lazily */
export async function* itemRange(items: FsItems, first: Key, last: Key): AsyncGenerator<ItemKV> {
  let from = first;
  for (;;) {
    const kv = await items.next(from, last);
    if (!kv) return;
    yield kv;
    if (kv.key.equals(last)) return;
    from = keyInc(kv.key);
  }
}

/** every item in [first, last], in reverse key order */
export async function* itemRangeReverse(items: FsItems, first: Key, last: Key): AsyncGenerator<ItemKV> {
  let to = last;
  for (;;) {
    const kv = await items.prev(to, first);
    if (!kv) return;
    yield kv;
    if (kv.key.equals(first)) return;
    to = keyDec(kv.key);
  }
}

/** how many keys deleteRange collects before deleting them */
export const DELETE_RANGE_BATCH = 256;

/**
 * delete every item in [first, last]; returns how many.  The keys are
 * collected by scanItems (one walk of the cache, which a visitor may not
 * change) a batch at a time, then deleted: an item-by-item walk costs a
 * descent of the sorted map per step, and the range of an inode being
 * deleted is mostly the tombstones its deletion just left.
 */
export async function deleteRange(items: FsItems, first: Key, last: Key, batchSize = DELETE_RANGE_BATCH): Promise<number> {
  let n = 0;
  for (let from: Key | undefined = first; from !== undefined; ) {
    const batch: Key[] = [];
    const reading = scanItems(items, from, last, (kv) => {
      batch.push(kv.key);
      return batch.length < batchSize;
    });
    if (reading) await reading;
    for (const k of batch) items.delete(k);
    n += batch.length;
    const end = batch[batch.length - 1];
    from = batch.length === batchSize && !end!.equals(last) ? keyInc(end!) : undefined;
  }
  return n;
}

/**
 * visit every item in [first, last] in key order until visit returns
 * false: itemRange without an async generator (whose every step costs
 * promises), for the hot paths: lookups by name, deleting an inode.
 * While the items are in memory it runs to the end before returning
 * (undefined, no promise); from the first item that needs a read on, it
 * goes on asynchronously and returns the promise of the rest.
 */
export function forEachItem(items: FsItems, first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Promise<void> | undefined {
  for (let from = first; ; ) {
    const kv = items.nextNow(from, last);
    if (kv === NOT_CACHED) return forEachItemRead(items, from, last, visit);
    if (!kv || visit(kv) === false || kv.key.equals(last)) return undefined;
    from = keyInc(kv.key);
  }
}

/**
 * visit every item in [first, last] in key order until visit returns
 * false, for visitors that change no items (a readdir, the names of an
 * inode): the cached part in one walk of the cache (FsItems.scanNow),
 * then item by item through reads.  Returns undefined when it needed no
 * read, else the promise of the rest.
 */
export function scanItems(items: FsItems, first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Promise<void> | undefined {
  const from = items.scanNow(first, last, visit);
  return from === undefined ? undefined : scanItemsRead(items, from, last, visit);
}

async function scanItemsRead(items: FsItems, first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Promise<void> {
  for (let from: Key | undefined = first; from !== undefined; ) {
    const kv = await items.next(from, last);
    if (!kv || visit(kv) === false || kv.key.equals(last)) return;
    // what the read brought in is walked from memory again
    from = items.scanNow(keyInc(kv.key), last, visit);
  }
}

async function forEachItemRead(items: FsItems, first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Promise<void> {
  for (let from = first; ; ) {
    const kv = await items.next(from, last);
    if (!kv || visit(kv) === false || kv.key.equals(last)) return;
    from = keyInc(kv.key);
  }
}

export function toBuf(name: string | Buffer): Buffer {
  return typeof name === "string" ? Buffer.from(name, "utf8") : name;
}
