/*
 * The item cache: a mount's in-memory view of the items it reads and
 * writes, over the forest.
 *
 * It holds items (clean ones read from the forest, dirty ones written
 * by the open transaction, deletions as null values: dirty until
 * committed, then clean tombstones) and a set of
 * key ranges whose contents are completely cached: inside a cached range
 * a key that has no item does not exist; outside, only an item present
 * for that exact key is authoritative and anything else is read from the
 * forest first (populate), which then caches a whole range around it.
 *
 * Items of delta zones (xattr totals, srch entries) are only written:
 * delta() adds to the transaction's sum for the key, which the commit
 * adds into the log tree, and which then leaves the cache.
 *
 * Invariants:
 *  - a dirty item is newer than anything in the forest; populate never
 *    replaces an item that is already cached.
 *  - a populate that started before a commit cleaned the cache (gen
 *    changed) is thrown away, so committed deletions cannot come back
 *    from a read of older roots.
 *  - items (sorted) and byKey (hashed) hold the same items, the same
 *    objects: every insert and removal goes through insert()/remove().
 *  - byPrefix holds exactly the live items (value not null) whose keys
 *    have an indexed prefix (prefixOf > 0), under that prefix: insert(),
 *    remove() and put()'s changes between null and a value keep it.
 *  - clean items only live inside cached ranges; eviction drops whole
 *    ranges (least recently used first) with their clean items, never a
 *    dirty item, once the cache holds more than limitBytes; the range a
 *    populate just read is never the one evicted (else a cache full of
 *    dirty items could make a reader populate forever).
 *  - a clean tombstone (null value, not dirty) says its key is absent as
 *    surely as a cached range without the key does.  A commit leaves its
 *    deletions in place as tombstones rather than taking each out of the
 *    map; next() and prev() take out the ones they step over, so ranges
 *    that are walked do not fill up with them, and eviction drops them
 *    with their ranges.
 *
 * Speed.  Most calls are exact lookups (an inode, a dirent, whether a
 * key is already there to be changed in place): those go to a hash map of
 * the same items (byKey), one probe, where a walk of the sorted map costs
 * a binary search per level with a cache miss at most of its compares.
 * Ranges, next() and prev() walk the sorted maps, whose comparator is then
 * the hot path.  Both sorted maps file keys under their latin1 strings
 * (item/key_strings.ts: same order, and a string compare is one V8
 * builtin over one object); a key is converted once as a call enters.
 * An item keeps only that string: a Buffer of the key is made again when
 * one is handed out (next, prev, the commit's dirty items), because a
 * Buffer per cached item was a third of what each scavenge of the young
 * generation had to copy while the item was new.  The dirty items are an
 * unsorted list (an append per newly dirty item, not a tree insert) that
 * is put in key order once, when a commit asks for them; markClean walks
 * them in that order and asks the range map only when a key leaves the
 * range that held the previous one.  Lookups by name (a dirent's or an
 * xattr's name hash: format nameHashPrefixBytes) ask nextNow for a range
 * whose keys all share one prefix; when a cached range covers it, the
 * answer is the least of that prefix's live items in byPrefix (nearly
 * always none or one), one hash probe where a descent of the sorted map
 * misses the CPU's caches at most of its compares (measured through FUSE:
 * about 7 µs a descent for the dirents of a 20,000 entry directory).
 * lookupNow/nextNow answer from memory without a promise (NOT_CACHED
 * when a read is needed); lookup/next are
 * them plus the read.  scanNow walks a cached range with one iterator of
 * the sorted map for callers that only read (readdir), instead of a
 * descent per item.
 */
import { ITEM_FLAG_DELETION } from "../format/constants.js";
import { KEY_BYTES, KEY_MAX, type Key } from "../format/key.js";
import { combineDeltas, isDeltaKey } from "../format/tag_items.js";
import { NOT_CACHED, type FsItems, type ItemKV, type NotCached } from "../fs/storage.js";
import type { ForestRange } from "../forest/forest.js";
import { SortedMap } from "../util/sorted_map.js";
import { assert } from "../util/errors.js";
import { counters } from "../util/counters.js";
import { keyLatin1, latin1Key, stringCompare, stringDec, stringInc } from "./key_strings.js";
import { nameHashPrefixBytes } from "../format/fs_items.js";

/**
 * a dirty item as the commit writes it into the log tree (a BtreeItem, and
 * the leaf entry the tree keeps: one object per item): a deletion is an
 * empty value flagged ITEM_FLAG_DELETION; delta: the value is this
 * transaction's delta, to add to what the tree holds (the commit replaces
 * value with the sum before it writes), not a version
 */
export interface DirtyItem {
  readonly key: Key;
  value: Buffer;
  readonly seq: number;
  readonly flags: number;
  readonly delta: true | undefined;
}

const EMPTY_VALUE = Buffer.alloc(0);

interface CItem {
  /** the key as a latin1 string, what `items` files it under (latin1Key makes its Buffer) */
  ks: string;
  value: Buffer | null;
  dirty: boolean;
  seq: number;
  /** an item of a delta zone: the sum of this transaction's deltas, always dirty, gone after the commit */
  delta?: true;
}

interface CRange {
  /** last key of the range, as a latin1 string */
  end: string;
  used: number;
}

/** how many leading characters of a key string byPrefix files it under (0: not indexed) */
export type PrefixRule = (ks: string) => number;

/** dirents and xattrs, by (zone, inode, type, name hash) */
const namePrefix: PrefixRule = (ks) => nameHashPrefixBytes(ks.charCodeAt(0), ks.charCodeAt(9));

export interface ItemSource {
  readRange(start: Key, end: Key, limit: number): Promise<ForestRange>;
}

export interface ItemTransView {
  readonly seq: number;
  /** true while some hold() is running */
  held(): boolean;
}

const POPULATE_BATCH = 512;
/** a step of a sort (a compare) costs about this many steps of a walk over the map, measured */
const SORT_COMPARE_COST = 2;
/** the JS objects of a cached item besides its key and value bytes: CItem and sorted map slot (64), hash map entry (40), key string (48), value Buffer (96) */
const ITEM_OVERHEAD_BYTES = 64 + 40 + 48 + 96;
const itemBytes = (v: Buffer | null) => KEY_BYTES + (v?.length ?? 0) + ITEM_OVERHEAD_BYTES;
/** what a live item's place in byPrefix adds: hash map entry (40) and the prefix string (32), counted in bytes */
const PREFIX_ENTRY_BYTES = 40 + 32;

const KEY_MAX_S = keyLatin1(KEY_MAX);
const maxS = (a: string, b: string) => (a >= b ? a : b);
const minS = (a: string, b: string) => (a <= b ? a : b);
const byKey = (a: CItem, b: CItem) => stringCompare(a.ks, b.ks);

/** the last key with the same zone and first field: the items of one inode */
function groupEnd(k: Key): Key {
  const e = Buffer.from(k);
  e.fill(0xff, 9);
  return e;
}

export class ItemCache implements FsItems {
  /** every cached item in key order: ranges, next and prev walk it */
  private items = new SortedMap<string, CItem>(undefined, stringCompare);
  /** the same items by key: exact lookups take one hash probe instead of a walk of items (see the file comment) */
  private byKey = new Map<string, CItem>();
  private ranges = new SortedMap<string, CRange>(undefined, stringCompare);
  /** the live items of indexed keys by prefix (see the invariants): one item, or several whose keys share it */
  private byPrefix = new Map<string, CItem | CItem[]>();
  /** the dirty items, in no order until dirtySorted (each once: an item is listed when it turns dirty) */
  private dirtyList: CItem[] = [];
  private dirtySorted = true;
  private gen = 0;
  private tick = 0;
  bytes = 0;
  /** FsItems.changes: bumped by put, delta, populate and invalidateAll (eviction and dropped tombstones change no answer) */
  changes = 0;
  dirtyBytes = 0;
  /** dirty deletion items: a transaction that is mostly deletions frees space */
  dirtyDeletes = 0;

  constructor(
    private readonly source: ItemSource,
    private readonly trans: ItemTransView,
    private readonly limitBytes = 256 * 1024 * 1024,
    private readonly prefixOf: PrefixRule = namePrefix,
  ) {}

  /** a key not cached yet: into both maps */
  private insert(it: CItem): void {
    this.items.set(it.ks, it);
    this.byKey.set(it.ks, it);
    if (it.value !== null) this.indexAdd(it);
  }

  private remove(ks: string): void {
    const it = this.byKey.get(ks);
    if (it && it.value !== null) this.indexDelete(it);
    this.items.delete(ks);
    this.byKey.delete(ks);
  }

  /** a live item into byPrefix, if its key is indexed */
  private indexAdd(it: CItem): void {
    const n = this.prefixOf(it.ks);
    if (n === 0) return;
    const p = it.ks.slice(0, n);
    const had = this.byPrefix.get(p);
    this.bytes += PREFIX_ENTRY_BYTES;
    if (had === undefined) this.byPrefix.set(p, it);
    else if (Array.isArray(had)) had.push(it);
    else this.byPrefix.set(p, [had, it]);
  }

  /** an item out of byPrefix (it was live), if its key is indexed */
  private indexDelete(it: CItem): void {
    const n = this.prefixOf(it.ks);
    if (n === 0) return;
    const p = it.ks.slice(0, n);
    const had = this.byPrefix.get(p);
    this.bytes -= PREFIX_ENTRY_BYTES;
    if (had === it) this.byPrefix.delete(p);
    else if (Array.isArray(had)) {
      const i = had.indexOf(it);
      assert(i >= 0, "indexed item missing from its prefix");
      had.splice(i, 1);
      if (had.length === 1) this.byPrefix.set(p, had[0]!);
    } else assert(false, "indexed item missing from its prefix");
  }

  /**
   * nextNow from byPrefix: the least live item of [firstS, lastS] when
   * both share an indexed prefix (so every key between them does) and
   * one cached range covers them; null when the index cannot answer
   */
  private nextByPrefix(firstS: string, lastS: string): ItemKV | undefined | null {
    const n = this.prefixOf(firstS);
    if (n === 0 || this.prefixOf(lastS) !== n) return null;
    for (let i = 0; i < n; i++) if (firstS.charCodeAt(i) !== lastS.charCodeAt(i)) return null;
    const rng = this.rangeContaining(firstS);
    if (!rng || rng.end < lastS) return null;
    counters.inc("item_next_by_prefix");
    const had = this.byPrefix.get(firstS.slice(0, n));
    if (had === undefined) return undefined;
    const inRange = (it: CItem) => it.ks >= firstS && it.ks <= lastS;
    let best: CItem | undefined;
    if (!Array.isArray(had)) best = inRange(had) ? had : undefined;
    else for (const it of had) if (inRange(it) && (best === undefined || it.ks < best.ks)) best = it;
    return best ? { key: latin1Key(best.ks), value: best.value! } : undefined;
  }

  private rangeContaining(k: string): CRange | undefined {
    const p = this.ranges.getPairOrNextLower(k);
    if (p && p[1].end >= k) {
      p[1].used = ++this.tick;
      return p[1];
    }
    return undefined;
  }

  private rangeStartOf(k: string): string {
    return this.ranges.getPairOrNextLower(k)![0];
  }

  /** b starts right after a ends (or inside it) */
  private static touches(aEnd: string, bStart: string): boolean {
    return aEnd >= bStart || (aEnd !== KEY_MAX_S && stringInc(aEnd) === bStart);
  }

  /**
   * [start, end] is now cached: merged with every range it overlaps or
   * touches.  A range that it extends from below (the usual case: the
   * next inode number's items, the next key a commit leaves cached) keeps
   * its entry and grows in place, without a delete and an insert of the
   * same start in the sorted map.
   */
  private addRange(start: string, end: string): void {
    const lo = this.ranges.getPairOrNextLower(start);
    const grown: [string, CRange] = lo && ItemCache.touches(lo[1].end, start) ? lo : [start, { end, used: 0 }];
    const [s, r] = grown;
    let e = maxS(end, r.end);
    for (;;) {
      // strictly after s: s itself is the range being grown (or not in the map yet)
      const nx = this.ranges.nextHigherPair(s);
      if (!nx || !ItemCache.touches(e, nx[0])) break;
      e = maxS(e, nx[1].end);
      this.ranges.delete(nx[0]);
    }
    r.end = e;
    r.used = ++this.tick;
    if (grown !== lo) this.ranges.set(s, r);
  }

  private async populate(start: Key, end: Key): Promise<void> {
    const gen = this.gen;
    counters.inc("item_populate");
    const r = await this.source.readRange(start, end, POPULATE_BATCH);
    if (gen !== this.gen) {
      counters.inc("item_populate_raced");
      return;
    }
    this.changes++;
    for (const it of r.items) {
      if (it.flags & ITEM_FLAG_DELETION) continue;
      // copies: forest items are views into cached blocks, which must not be kept alive by the item cache
      const ks = keyLatin1(it.key);
      if (this.byKey.has(ks)) continue;
      this.insert({ ks, value: Buffer.from(it.value), dirty: false, seq: it.seq });
      this.bytes += itemBytes(it.value);
    }
    const s = keyLatin1(start);
    this.addRange(s, keyLatin1(r.end));
    // never evict what was just read: the caller is about to use it
    this.evict(this.ranges.getPairOrNextLower(s)![0]);
  }

  lookupNow(key: Key): Buffer | undefined | NotCached {
    const ks = keyLatin1(key);
    const it = this.byKey.get(ks);
    if (it) {
      counters.inc("item_lookup_hit");
      return it.value ?? undefined;
    }
    if (this.rangeContaining(ks)) {
      counters.inc("item_lookup_negative");
      return undefined;
    }
    return NOT_CACHED;
  }

  async lookup(key: Key): Promise<Buffer | undefined> {
    for (;;) {
      const v = this.lookupNow(key);
      if (v !== NOT_CACHED) return v;
      await this.populate(key, groupEnd(key));
    }
  }

  nextNow(first: Key, last: Key): ItemKV | undefined | NotCached {
    const firstS = keyLatin1(first);
    const lastS = keyLatin1(last);
    const indexed = this.nextByPrefix(firstS, lastS);
    if (indexed !== null) return indexed;
    const r = this.nextFrom(firstS, lastS);
    return typeof r === "string" ? NOT_CACHED : r;
  }

  scanNow(first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Key | undefined {
    const lastS = keyLatin1(last);
    const pair: (string | CItem)[] = [];
    for (let cur = keyLatin1(first); cur <= lastS; ) {
      const rng = this.rangeContaining(cur);
      if (!rng) return latin1Key(cur);
      const stop = minS(rng.end, lastS);
      // one walk of the sorted map per cached range, not a descent per item; deletions are
      // skipped and left in place (visit may not change the map, so no tombstone is dropped)
      for (const [ks, it] of this.items.entries(cur, pair)) {
        if (ks > stop) break;
        if (it.value && visit({ key: latin1Key(ks), value: it.value }) === false) return undefined;
      }
      if (stop >= lastS) return undefined;
      cur = stringInc(stop);
    }
    return undefined;
  }

  async next(first: Key, last: Key): Promise<ItemKV | undefined> {
    const lastS = keyLatin1(last);
    let cur = keyLatin1(first);
    for (;;) {
      const r = this.nextFrom(cur, lastS);
      if (typeof r !== "string") return r;
      // read from where the cached part ended, and go on from there (not from first: what was
      // walked may be evicted by this read, and walking it again could read forever)
      cur = r;
      await this.populate(latin1Key(cur), last);
    }
  }

  /** next() as far as cached ranges answer: the item or undefined, or the key string where a read is needed */
  private nextFrom(cur: string, lastS: string): ItemKV | undefined | string {
    for (;;) {
      if (cur > lastS) return undefined;
      const rng = this.rangeContaining(cur);
      if (!rng) return cur;
      const stop = minS(rng.end, lastS);
      // pair by pair (deletions are skipped): the first is usually the answer, so no iterator
      for (let p = this.items.getPairOrNextHigher(cur); p && p[0] <= stop; p = this.items.nextHigherPair(p[0])) {
        if (p[1].value) return { key: latin1Key(p[0]), value: p[1].value };
        if (!p[1].dirty) this.dropTombstone(p[1]);
      }
      if (stop >= lastS) return undefined;
      cur = stringInc(stop);
    }
  }

  async prev(last: Key, first: Key): Promise<ItemKV | undefined> {
    const firstS = keyLatin1(first);
    let cur = keyLatin1(last);
    for (;;) {
      if (cur < firstS) return undefined;
      const rng = this.rangeContaining(cur);
      if (!rng) {
        const lo = this.ranges.getPairOrNextLower(cur);
        let s = firstS;
        if (lo && lo[1].end >= s) s = stringInc(lo[1].end);
        await this.populate(latin1Key(s), latin1Key(cur));
        continue;
      }
      const stop = maxS(this.rangeStartOf(cur), firstS);
      for (let p = this.items.getPairOrNextLower(cur); p && p[0] >= stop; p = this.items.nextLowerPair(p[0])) {
        if (p[1].value) return { key: latin1Key(p[0]), value: p[1].value };
        if (!p[1].dirty) this.dropTombstone(p[1]);
      }
      if (stop <= firstS) return undefined;
      cur = stringDec(stop);
    }
  }

  /** a clean tombstone inside a cached range: absence says the same */
  private dropTombstone(it: CItem): void {
    this.remove(it.ks);
    this.bytes -= itemBytes(null);
    counters.inc("item_tombstone_dropped");
  }

  /** old: what items holds for key (looked up by the caller) */
  private put(ks: string, value: Buffer | null, old: CItem | undefined): void {
    assert(this.trans.held(), "item changed outside a transaction hold");
    this.changes++;
    if (!old) {
      const it: CItem = { ks, value, dirty: true, seq: this.trans.seq };
      this.insert(it);
      this.addedDirty(it);
      return;
    }
    // change the entry in place: one tree walk, not a get and a set
    const wasLive = old.value !== null;
    this.bytes += itemBytes(value) - itemBytes(old.value);
    if (old.dirty) {
      this.dirtyBytes -= itemBytes(old.value);
      if (old.value === null) this.dirtyDeletes--;
    } else {
      old.dirty = true;
      this.listDirty(old);
    }
    old.value = value;
    old.seq = this.trans.seq;
    this.dirtyBytes += itemBytes(value);
    if (value === null) this.dirtyDeletes++;
    if (wasLive && value === null) this.indexDelete(old);
    else if (!wasLive && value !== null) this.indexAdd(old);
  }

  /** the accounting of a dirty item just inserted into items */
  private addedDirty(it: CItem): void {
    this.listDirty(it);
    this.bytes += itemBytes(it.value);
    this.dirtyBytes += itemBytes(it.value);
    if (it.value === null) this.dirtyDeletes++;
  }

  set(key: Key, value: Buffer): void {
    counters.inc("item_set");
    const ks = keyLatin1(key);
    this.put(ks, value, this.byKey.get(ks));
  }

  /**
   * Add to the transaction's delta of a delta-zone key (format/tag_items.ts).
   * Nothing is read: the log tree write at commit adds it to what this
   * mount's tree already holds, and readers of committed items add up
   * every tree.
   */
  delta(key: Key, value: Buffer): void {
    assert(this.trans.held(), "item changed outside a transaction hold");
    assert(isDeltaKey(key), "delta of a key outside the delta zones");
    counters.inc("item_delta");
    this.changes++;
    const ks = keyLatin1(key);
    const old = this.byKey.get(ks);
    if (old) {
      assert(old.delta === true && old.value !== null, "delta item mixed with a versioned item");
      const sum = combineDeltas(key, old.value, value);
      this.bytes += itemBytes(sum) - itemBytes(old.value);
      this.dirtyBytes += itemBytes(sum) - itemBytes(old.value);
      old.value = sum;
      old.seq = this.trans.seq;
      return;
    }
    const it: CItem = { ks, value: Buffer.from(value), dirty: true, seq: this.trans.seq, delta: true };
    this.insert(it);
    this.addedDirty(it);
  }

  delete(key: Key): void {
    counters.inc("item_delete");
    const ks = keyLatin1(key);
    const old = this.byKey.get(ks);
    // known absent everywhere: a clean tombstone, or no item inside a cached range
    if (old ? old.value === null && !old.dirty : this.rangeContaining(ks)) return;
    this.put(ks, null, old);
  }

  private listDirty(it: CItem): void {
    const n = this.dirtyList.length;
    if (n > 0 && this.dirtySorted && this.dirtyList[n - 1]!.ks > it.ks) this.dirtySorted = false;
    this.dirtyList.push(it);
  }

  /**
   * the dirty list in key order (sorted once per commit; callers must not
   * change items meanwhile).  Every dirty item is in the map, which is in
   * key order already: when the dirty items are a large part of the
   * cache, collecting them by a walk of the map costs less than a sort's
   * n log n compares.
   */
  private sortedDirty(): CItem[] {
    if (!this.dirtySorted) {
      const n = this.dirtyList.length;
      if (n * Math.log2(n) * SORT_COMPARE_COST > this.items.size) {
        const out: CItem[] = [];
        for (const it of this.items.values()) if (it.dirty) out.push(it);
        assert(out.length === n, "dirty list and dirty items disagree");
        this.dirtyList = out;
      } else {
        this.dirtyList.sort(byKey);
      }
      this.dirtySorted = true;
    }
    return this.dirtyList;
  }

  get dirtyCount(): number {
    return this.dirtyList.length;
  }

  /** the dirty items in key order, fresh objects the commit may keep (see DirtyItem) */
  dirtyItems(): DirtyItem[] {
    const list = this.sortedDirty();
    const out: DirtyItem[] = new Array(list.length);
    // one shape for all (delta present, maybe undefined): the commit's and the tree's loops over them stay monomorphic
    for (let i = 0; i < list.length; i++) {
      const it = list[i]!;
      const v = it.value;
      out[i] = { key: latin1Key(it.ks), value: v ?? EMPTY_VALUE, seq: it.seq, flags: v ? 0 : ITEM_FLAG_DELETION, delta: it.delta };
    }
    return out;
  }

  /**
   * After a commit: everything dirty is now in the forest.  Deletions
   * stay as clean tombstones (no map delete for each: see the invariants)
   * and deltas leave; an item outside any cached range gets a range of
   * its own key, so it stays cached (and evictable) instead of being read
   * back.
   */
  markClean(): void {
    // in key order, a key up to the end of the range that held the previous key is in that range
    // (ranges only grow here: addRange merges)
    let inRangeTo: string | null = null;
    for (const it of this.sortedDirty()) {
      const k = it.ks;
      if (it.delta) {
        this.remove(k);
        this.bytes -= itemBytes(it.value);
        continue;
      }
      it.dirty = false;
      if (inRangeTo !== null && k <= inRangeTo) continue;
      const r = this.rangeContaining(k);
      if (r) inRangeTo = r.end;
      else {
        this.addRange(k, k);
        inRangeTo = k;
      }
    }
    this.dirtyList = [];
    this.dirtySorted = true;
    this.dirtyBytes = 0;
    this.dirtyDeletes = 0;
    this.gen++;
    this.evict();
  }

  /** a range the caller knows holds no items anywhere (the items of a never-used inode number) */
  markEmpty(first: Key, last: Key): void {
    this.addRange(keyLatin1(first), keyLatin1(last));
  }

  /** forget every clean item and range (lock lost, or tests) */
  invalidateAll(): void {
    for (const [k, it] of [...this.items.entries()]) {
      if (!it.dirty) {
        this.remove(k);
        this.bytes -= itemBytes(it.value);
      }
    }
    this.ranges.clear();
    this.gen++;
    this.changes++;
  }

  private evict(keep?: string): void {
    if (this.bytes <= this.limitBytes) return;
    const byAge = [...this.ranges.entries()].sort((a, b) => a[1].used - b[1].used);
    for (const [start, r] of byAge) {
      if (this.bytes <= this.limitBytes * 0.75) break;
      if (keep !== undefined && start === keep) continue;
      const drop: CItem[] = [];
      for (const it of this.items.values(start)) {
        if (it.ks > r.end) break;
        if (!it.dirty) drop.push(it);
      }
      for (const it of drop) {
        this.bytes -= itemBytes(it.value);
        this.remove(it.ks);
      }
      this.ranges.delete(start);
      counters.inc("item_evict_range");
    }
  }

  cachedItems(): number {
    assert(this.byKey.size === this.items.size, "item maps disagree");
    return this.items.size;
  }

  /** check byPrefix against the items, a walk of all of them (for tests): see the invariants */
  checkPrefixIndex(): void {
    let live = 0;
    for (const it of this.items.values()) {
      const n = this.prefixOf(it.ks);
      if (n === 0 || it.value === null) continue;
      live++;
      const had = this.byPrefix.get(it.ks.slice(0, n));
      assert(had === it || (Array.isArray(had) && had.includes(it)), `live item ${it.ks} not indexed`);
    }
    let indexed = 0;
    for (const had of this.byPrefix.values()) {
      assert(!Array.isArray(had) || had.length > 1, "a prefix of one item kept as a list");
      indexed += Array.isArray(had) ? had.length : 1;
    }
    assert(indexed === live, `${indexed} items indexed, ${live} live indexed items`);
  }

  /** the number of key ranges known to be completely cached */
  cachedRanges(): number {
    return this.ranges.size;
  }
}
