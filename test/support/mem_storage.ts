/*
 * An in-memory FsStorage for tests of the fs layer.
 *
 * Items live in a sorted map in key (Buffer.compare) order; values are
 * copied in and out so callers cannot alias stored bytes.  set/delete
 * outside trans.hold() are bugs and throw.  The data device is a Map of
 * 4 KiB blocks with a bump allocator and a free set; it enforces the
 * copy-on-write rule of storage.ts: writing a block that is not fresh
 * (allocated since the last sync) throws, as do reading or freeing a
 * block that is not allocated.  A committed block that is freed becomes
 * reusable only at the next sync().
 *
 * With jitter, every item read yields to the event loop a pseudo-random
 * number of times, so concurrent operations interleave at their awaits.
 */
import { SortedMap } from "../../src/util/sorted_map.js";
import { NOT_CACHED, type CommittedItems, type DataExtent, type FsClock, type FsData, type FsItems, type FsStorage, type FsTrans, type ItemKV, type NotCached } from "../../src/fs/storage.js";
import { KEY_BYTES, keyInc, type Key } from "../../src/format/key.js";
import { BTREE_MAX_VAL_LEN, DATA_BLOCK_SIZE, FORMAT_VERSION_MAX, ROOT_INO } from "../../src/format/constants.js";
import { makeRootInodeItems } from "../../src/fs/inode.js";
import { AssertionFailure, FsError } from "../../src/util/errors.js";
import { combineDeltas, isDeltaKey, isNullDelta } from "../../src/format/tag_items.js";

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new AssertionFailure(what);
}

export class MemClock implements FsClock {
  /** nanoseconds since the epoch; every now() advances it by step */
  ns = 1_700_000_000n * 1_000_000_000n;
  step = 1000n;
  now(): { sec: number; nsec: number } {
    this.ns += this.step;
    return { sec: Number(this.ns / 1_000_000_000n), nsec: Number(this.ns % 1_000_000_000n) };
  }
}

export class MemTrans implements FsTrans {
  seq = 2;
  holders = 0;
  syncs = 0;
  onSync: (() => void)[] = [];
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.holders++;
    try {
      return await fn();
    } finally {
      this.holders--;
    }
  }
  async sync(): Promise<void> {
    this.seq++;
    this.syncs++;
    for (const f of this.onSync) f();
  }
}

export class MemItems implements FsItems {
  readonly map = new SortedMap<Buffer, Buffer>(undefined, Buffer.compare);
  private rng = 12345;
  changes = 0;

  constructor(
    private readonly trans: MemTrans,
    public jitter = false,
  ) {}

  private async maybeYield(): Promise<void> {
    if (!this.jitter) return;
    this.rng = (this.rng * 1103515245 + 12345) & 0x7fffffff;
    const n = this.rng % 3;
    for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
  }

  private found(key: Key): Buffer | undefined {
    const v = this.map.get(key);
    return v ? Buffer.from(v) : undefined;
  }

  private foundNext(first: Key, last: Key): ItemKV | undefined {
    const p = this.map.getPairOrNextHigher(first);
    if (!p || Buffer.compare(p[0], last) > 0) return undefined;
    return { key: Buffer.from(p[0]), value: Buffer.from(p[1]) };
  }

  async lookup(key: Key): Promise<Buffer | undefined> {
    await this.maybeYield();
    return this.found(key);
  }

  async next(first: Key, last: Key): Promise<ItemKV | undefined> {
    await this.maybeYield();
    return this.foundNext(first, last);
  }

  // with jitter every read must go through the async calls, whose yields let other operations in
  lookupNow(key: Key): Buffer | undefined | NotCached {
    return this.jitter ? NOT_CACHED : this.found(key);
  }

  nextNow(first: Key, last: Key): ItemKV | undefined | NotCached {
    return this.jitter ? NOT_CACHED : this.foundNext(first, last);
  }

  scanNow(first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Key | undefined {
    if (this.jitter) return first;
    for (let kv = this.foundNext(first, last); kv; kv = this.foundNext(keyInc(kv.key), last)) {
      if (visit(kv) === false || kv.key.equals(last)) return undefined;
    }
    return undefined;
  }

  async prev(last: Key, first: Key): Promise<ItemKV | undefined> {
    await this.maybeYield();
    const p = this.map.getPairOrNextLower(last);
    if (!p || Buffer.compare(p[0], first) < 0) return undefined;
    return { key: Buffer.from(p[0]), value: Buffer.from(p[1]) };
  }

  set(key: Key, value: Buffer): void {
    check(this.trans.holders > 0, "item set outside hold()");
    check(key.length === KEY_BYTES, "bad key length");
    check(value.length <= BTREE_MAX_VAL_LEN, `item value of ${value.length} bytes`);
    this.changes++;
    this.map.set(Buffer.from(key), Buffer.from(value));
  }

  delete(key: Key): void {
    check(this.trans.holders > 0, "item delete outside hold()");
    this.changes++;
    this.map.delete(key);
  }

  delta(key: Key, value: Buffer): void {
    check(this.trans.holders > 0, "item delta outside hold()");
    check(isDeltaKey(key), "delta of a key outside the delta zones");
    this.changes++;
    const old = this.map.get(key);
    const sum = old ? combineDeltas(key, old, value) : Buffer.from(value);
    if (isNullDelta(sum)) this.map.delete(key);
    else this.map.set(Buffer.from(key), sum);
  }

  /** every item, in order (for checks) */
  all(): ItemKV[] {
    return this.map.toArray().map(([key, value]) => ({ key, value }));
  }
}

export class MemData implements FsData {
  readonly blocks = new Map<number, Buffer>();
  readonly allocated = new Set<number>();
  readonly fresh = new Set<number>();
  readonly pendingFree = new Set<number>();
  readonly freeSet = new Set<number>();
  private bump: number;
  readonly first: number;
  allocs = 0;

  constructor(readonly total: number, first = 100) {
    this.first = first;
    this.bump = first;
  }

  async alloc(count: number): Promise<DataExtent> {
    check(Number.isSafeInteger(count) && count >= 1, `alloc of ${count}`);
    let start: number;
    let n = 0;
    if (this.bump < this.first + this.total) {
      start = this.bump;
      n = Math.min(count, this.first + this.total - this.bump);
      this.bump += n;
    } else {
      if (this.freeSet.size === 0) throw new FsError("ENOSPC", "data device full");
      start = Infinity;
      for (const b of this.freeSet) if (b < start) start = b;
      while (n < count && this.freeSet.has(start + n)) {
        this.freeSet.delete(start + n);
        n++;
      }
    }
    for (let i = 0; i < n; i++) {
      this.allocated.add(start + i);
      this.fresh.add(start + i);
    }
    this.allocs++;
    return { blkno: start, count: n };
  }

  free(blkno: number, count: number): void {
    for (let b = blkno; b < blkno + count; b++) {
      check(this.allocated.has(b), `free of unallocated data block ${b}`);
      this.allocated.delete(b);
      this.blocks.delete(b);
      if (this.fresh.delete(b)) this.freeSet.add(b);
      else this.pendingFree.add(b);
    }
  }

  isFresh(blkno: number): boolean {
    return this.fresh.has(blkno);
  }

  async read(blkno: number, count: number, into?: Buffer): Promise<Buffer> {
    const len = count * DATA_BLOCK_SIZE;
    const out = into && into.length >= len ? into.subarray(0, len).fill(0) : Buffer.alloc(len);
    for (let i = 0; i < count; i++) {
      check(this.allocated.has(blkno + i), `read of unallocated data block ${blkno + i}`);
      this.blocks.get(blkno + i)?.copy(out, i * DATA_BLOCK_SIZE);
    }
    return out;
  }

  async write(blkno: number, data: Buffer): Promise<void> {
    check(data.length > 0 && data.length % DATA_BLOCK_SIZE === 0, `data write of ${data.length} bytes`);
    for (let i = 0; i < data.length / DATA_BLOCK_SIZE; i++) {
      const b = blkno + i;
      check(this.allocated.has(b), `write of unallocated data block ${b}`);
      check(this.fresh.has(b), `write of committed data block ${b} (copy-on-write violated)`);
      this.blocks.set(b, Buffer.from(data.subarray(i * DATA_BLOCK_SIZE, (i + 1) * DATA_BLOCK_SIZE)));
    }
  }

  totalBlocks(): number {
    return this.total;
  }

  freeBlocks(): number {
    return this.total - this.allocated.size - this.pendingFree.size;
  }

  /** the commit: nothing is fresh any more; blocks freed since become reusable */
  commit(): void {
    this.fresh.clear();
    for (const b of this.pendingFree) this.freeSet.add(b);
    this.pendingFree.clear();
  }
}

export interface MemStorageOptions {
  dataBlocks?: number;
  jitter?: boolean;
}

export class MemStorage implements FsStorage {
  readonly trans = new MemTrans();
  readonly clock = new MemClock();
  readonly items: MemItems;
  readonly data: MemData;
  readonly fsid = 0x1234_5678_9abc_def0n;
  formatVersion = FORMAT_VERSION_MAX;
  nextIno = ROOT_INO + 1;

  constructor(opts: MemStorageOptions = {}) {
    this.items = new MemItems(this.trans, opts.jitter ?? false);
    this.data = new MemData(opts.dataBlocks ?? 1 << 20);
    this.trans.onSync.push(() => this.data.commit());
    // what mkfs does: the root directory, committed at seq 1
    this.trans.holders++;
    for (const { key, value } of makeRootInodeItems(this.clock.now(), 1)) this.items.set(key, value);
    this.trans.holders--;
  }

  async allocIno(): Promise<number> {
    return this.nextIno++;
  }

  metaBlocks(): { total: number; free: number } {
    return { total: 1024, free: 1024 - Math.ceil(this.items.map.size / 200) };
  }

  /** here everything written counts as committed: the one map holds every item, deltas summed */
  readonly committed: CommittedItems = {
    readRange: async (start, end, limit) => {
      const items: ItemKV[] = [];
      for (const [key, value] of this.items.map.entries(start)) {
        if (Buffer.compare(key, end) > 0) break;
        if (items.length === limit) return { items, end: items[items.length - 1]!.key };
        items.push({ key: Buffer.from(key), value: Buffer.from(value) });
      }
      return { items, end };
    },
  };
}
