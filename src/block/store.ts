/*
 * MetaStore: reading, caching and writing the large (64 KiB) metadata
 * blocks of one device, on behalf of one process's view of it.
 *
 * Reads follow a BlockRef (blkno + seq).  Every block read from the
 * device is verified (magic, crc32c, fsid, blkno, and the seq of the
 * reference); a failure is a CorruptionError naming the block.  Blocks
 * are cached in their parsed form (the caller's parse function), so a
 * btree node is decoded once, not on every lookup.  The cache is bounded
 * by memory: each entry counts its block plus what its codec says the
 * parsed form costs, and beyond `cacheBytes` clean blocks are evicted
 * in about least-recently-used order: a hit only marks its entry used
 * (moving it in the Map on every hit cost 5% of the CPU of
 * bench/fuse_ops.ts, mostly under the server's log merge), and eviction
 * walks from the oldest entry, giving each marked one a second chance at
 * the young end (the CLOCK approximation of LRU).
 *
 * Writing is copy-on-write and goes through a BlockWriter: one per
 * transaction of one writer (a mount's commit, the server's commit).  A
 * writer allocates fresh block numbers from its MetaAllocator, tracks
 * the dirty parsed blocks it owns, and writes them all (sealed with the
 * writer's seq) at commit.  Dirty blocks are pinned in the cache until
 * written.  A block that a committed super block references is never
 * dirtied in place: only blocks allocated by the current writer are.
 *
 * A cached entry whose seq differs from the ref being followed is stale
 * (the block was freed and reused) and is dropped and reread.
 */
import { BLOCK_LG_SIZE } from "../format/constants.js";
import { sealBlock, verifyBlock } from "../format/block.js";
import type { BlockRef } from "../format/structs.js";
import type { BlockDevice } from "./device.js";
import { CorruptionError, StaleBlockError, assert } from "../util/errors.js";
import { counters } from "../util/counters.js";

export interface MetaAllocator {
  /** a block number that no committed structure references */
  alloc(): Promise<number>;
  /** a block that the coming commit stops referencing */
  free(blkno: number): void;
  /**
   * a block this transaction took (alloc or an owned list) and dropped
   * again before any commit referenced it: it may be given out again at
   * once.  Without it such a block waits in the freed list like any
   * other, and a transaction that keeps emptying and refilling a tree
   * (a free extent tree merging every free into its one extent) would
   * take a new block each time.
   */
  unalloc?(blkno: number): void;
}

/** How a kind of block turns into an object and back. */
export interface BlockCodec<T> {
  magic: number;
  parse(block: Buffer, blkno: number): T;
  /** fill the payload of block (after the header); block is zeroed */
  serialize(obj: T, block: Buffer): void;
  /** approximate memory of the parsed form beyond the block itself */
  extraBytes?(obj: T): number;
}

interface CacheEntry {
  seq: number;
  obj: unknown;
  magic: number;
  bytes: number;
  /** read or hit since eviction last passed it */
  used: boolean;
}

export class MetaStore {
  private cache = new Map<number, CacheEntry>(); // Map iteration order = LRU order
  private bytes = 0;
  /**
   * buffers commits serialize their block runs into, kept for the next
   * commit.  A new buffer per run is fresh memory from the kernel, and its
   * first touch (the serialize and checksum of each block) took page
   * faults: measured 100 µs per 64 KiB block in a commit's checksums,
   * against 12 µs over memory already touched.
   */
  private runBuffers: Buffer[] = [];
  constructor(
    readonly dev: BlockDevice,
    readonly fsid: bigint,
    private readonly cacheBytes = 256 * 1024 * 1024,
  ) {}

  private entry<T>(seq: number, obj: T, codec: BlockCodec<T>, extra = 0): CacheEntry {
    return { seq, obj, magic: codec.magic, bytes: BLOCK_LG_SIZE + extra + (codec.extraBytes?.(obj) ?? 0), used: true };
  }

  async read<T>(ref: BlockRef, codec: BlockCodec<T>): Promise<T> {
    const hit = this.cache.get(ref.blkno);
    if (hit) {
      if (hit.seq === ref.seq && hit.magic === codec.magic) {
        hit.used = true;
        counters.inc("block_cache_hit");
        return hit.obj as T;
      }
      this.forget(ref.blkno);
      counters.inc("block_cache_stale");
    }
    counters.inc("block_read");
    const buf = await this.dev.read(ref.blkno * BLOCK_LG_SIZE, BLOCK_LG_SIZE);
    const problem = verifyBlock(buf, { magic: codec.magic, fsid: this.fsid, blkno: ref.blkno, seq: ref.seq });
    if (problem) {
      if (problem.startsWith("stale")) {
        counters.inc("block_stale");
        throw new StaleBlockError(ref.blkno, problem);
      }
      counters.inc("block_corrupt");
      throw new CorruptionError(ref.blkno, problem);
    }
    const obj = codec.parse(buf, ref.blkno);
    this.insert(ref.blkno, this.entry(ref.seq, obj, codec));
    return obj;
  }

  /** put a block (dirty or just written) in the cache */
  insertObj<T>(blkno: number, seq: number, obj: T, codec: BlockCodec<T>, extraBytes = 0): void {
    this.insert(blkno, this.entry(seq, obj, codec, extraBytes));
  }

  private insert(blkno: number, e: CacheEntry): void {
    this.forget(blkno);
    this.cache.set(blkno, e);
    this.bytes += e.bytes;
    this.evict();
  }

  forget(blkno: number): void {
    const old = this.cache.get(blkno);
    if (old) {
      this.bytes -= old.bytes;
      this.cache.delete(blkno);
    }
  }

  /** drop everything: after a crash test or when another writer may have changed blocks */
  dropAll(): void {
    this.cache.clear();
    this.pinned.clear();
    this.bytes = 0;
  }

  private pinned = new Set<number>();
  pin(blkno: number): void {
    this.pinned.add(blkno);
  }
  unpin(blkno: number): void {
    this.pinned.delete(blkno);
  }

  /**
   * Down to 90% of the bound, oldest first.  A used entry is cleared and
   * moved to the young end instead; the second pass meets the entries
   * the first one moved, unmarked now, so two passes free what can be
   * freed (only pinned blocks stay).
   */
  private evict(): void {
    if (this.bytes <= this.cacheBytes) return;
    const target = this.cacheBytes * 0.9;
    for (let pass = 0; pass < 2 && this.bytes > target; pass++) {
      for (const [blkno, e] of [...this.cache]) {
        if (this.bytes <= target) break;
        if (this.pinned.has(blkno)) continue;
        if (e.used) {
          e.used = false;
          this.cache.delete(blkno);
          this.cache.set(blkno, e);
          continue;
        }
        this.forget(blkno);
        counters.inc("block_cache_evict");
      }
    }
  }

  cachedBytes(): number {
    return this.bytes;
  }

  cachedBlocks(): number {
    return this.cache.size;
  }

  /** a buffer for the longest run (BlockWriter.writeAll), contents undefined; give it back once written */
  takeRunBuffer(): Buffer {
    return this.runBuffers.pop() ?? Buffer.allocUnsafeSlow(WRITE_RUN_BLOCKS * BLOCK_LG_SIZE);
  }

  giveRunBuffer(buf: Buffer): void {
    if (this.runBuffers.length < RUN_BUFFERS_KEPT) this.runBuffers.push(buf);
  }
}

/** the most blocks one device write of a commit carries (1 MiB) */
const WRITE_RUN_BLOCKS = 16;
/** device writes of one commit in flight at once */
const WRITES_IN_FLIGHT = 8;
/** run buffers a store keeps between commits: one per write in flight, 8 MiB */
const RUN_BUFFERS_KEPT = WRITES_IN_FLIGHT;

interface DirtyBlock {
  obj: unknown;
  codec: BlockCodec<unknown>;
}

export class BlockWriter {
  private dirty = new Map<number, DirtyBlock>();
  constructor(
    readonly store: MetaStore,
    readonly alloc: MetaAllocator,
    /** the seq stamped on every block this writer writes */
    readonly seq: number,
  ) {}

  isDirty(ref: BlockRef): boolean {
    return ref.seq === this.seq && this.dirty.has(ref.blkno);
  }

  /** the dirty object of a block this writer owns */
  getDirty<T>(ref: BlockRef): T | undefined {
    if (ref.seq !== this.seq) return undefined;
    return this.dirty.get(ref.blkno)?.obj as T | undefined;
  }

  /** allocate a new block holding obj; returns its ref */
  async create<T>(obj: T, codec: BlockCodec<T>): Promise<BlockRef> {
    const blkno = await this.alloc.alloc();
    counters.inc("block_dirty");
    return this.createAt(blkno, obj, codec);
  }

  /** make a block the caller already owns (e.g. taken from an alloc list) dirty with obj */
  createAt<T>(blkno: number, obj: T, codec: BlockCodec<T>): BlockRef {
    assert(!this.dirty.has(blkno), `block ${blkno} dirtied twice in one transaction`);
    this.dirty.set(blkno, { obj, codec: codec as BlockCodec<unknown> });
    this.store.pin(blkno);
    this.store.insertObj(blkno, this.seq, obj, codec);
    return { blkno, seq: this.seq };
  }

  /**
   * Make a block writable: if this writer already owns it dirty, the same
   * object; else a copy in a fresh block, the old one freed.
   */
  async cow<T>(ref: BlockRef, obj: T, codec: BlockCodec<T>, clone: (o: T) => T): Promise<{ ref: BlockRef; obj: T }> {
    if (this.isDirty(ref)) return { ref, obj: this.dirty.get(ref.blkno)!.obj as T };
    const copy = clone(obj);
    const nref = await this.create(copy, codec);
    this.alloc.free(ref.blkno);
    counters.inc("block_cow");
    return { ref: nref, obj: copy };
  }

  /** a dirty block that is no longer referenced: drop it and free its number */
  discard(ref: BlockRef): void {
    if (this.isDirty(ref)) {
      this.dirty.delete(ref.blkno);
      this.store.unpin(ref.blkno);
      this.store.forget(ref.blkno);
      // never part of a committed structure: reusable in this transaction
      if (this.alloc.unalloc) {
        this.alloc.unalloc(ref.blkno);
        return;
      }
    }
    this.alloc.free(ref.blkno);
  }

  dirtyCount(): number {
    return this.dirty.size;
  }

  /**
   * write every dirty block (no sync: the caller orders syncs); blocks
   * with consecutive numbers go out in one write of up to
   * WRITE_RUN_BLOCKS, a few writes in flight at once
   */
  async writeAll(): Promise<void> {
    const writes: Promise<void>[] = [];
    const sorted = [...this.dirty.keys()].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; ) {
      let end = i + 1;
      while (end < sorted.length && end - i < WRITE_RUN_BLOCKS && sorted[end] === sorted[end - 1]! + 1) end++;
      const whole = this.store.takeRunBuffer();
      const run = whole.subarray(0, (end - i) * BLOCK_LG_SIZE).fill(0); // serialize writes into zeroed blocks
      for (let j = i; j < end; j++) {
        const blkno = sorted[j]!;
        const d = this.dirty.get(blkno)!;
        const buf = run.subarray((j - i) * BLOCK_LG_SIZE, (j - i + 1) * BLOCK_LG_SIZE);
        d.codec.serialize(d.obj, buf);
        sealBlock(buf, d.codec.magic, this.store.fsid, blkno, this.seq);
        // the written object stays cached; it may hold views into the buffer of the block it was
        // copied from, so it is charged a second block
        this.store.insertObj(blkno, this.seq, d.obj, d.codec, BLOCK_LG_SIZE);
        counters.inc("block_write");
      }
      writes.push(this.store.dev.write(sorted[i]! * BLOCK_LG_SIZE, run).then(() => this.store.giveRunBuffer(whole)));
      if (writes.length >= WRITES_IN_FLIGHT) await Promise.all(writes.splice(0));
      i = end;
    }
    await Promise.all(writes);
    this.dirty.clear();
    for (const blkno of sorted) this.store.unpin(blkno);
  }
}
