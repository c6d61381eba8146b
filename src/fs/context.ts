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

/** delete every item in [first, last]; returns how many */
export async function deleteRange(items: FsItems, first: Key, last: Key): Promise<number> {
  let n = 0;
  await forEachItem(items, first, last, (kv) => {
    items.delete(kv.key);
    n++;
  });
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
