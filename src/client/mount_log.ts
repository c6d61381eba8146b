/*
 * The client side of commits: a mount's open log tree and the writer of
 * its current transaction.
 *
 * commit(): the dirty items of the item cache go into the mount's log
 * btree in key order, a leaf at a time (each with the seq it was written
 * under; deletions as deletion items; a delta added to the tree's own
 * value of its key), queued data frees are applied, the allocator lists
 * are saved, the metadata blocks written and synced (the data device's
 * sync runs from the start of the commit alongside; most of the data is
 * already written back, as MountDataAlloc syncs in the background while
 * the transaction writes), and only once both devices are synced does the
 * new log tree root go to the server, which records it and commits the
 * super block.  The server answers with the next transaction
 * (refilled allocators, new seq), which this adopts.  Every operation
 * waits while a commit runs, so the time of each of its phases is added
 * to a counter (commit_ms_*, on the mount's clock) for `scoutfs counters`.
 *
 * A transaction's seq is new to the whole filesystem (the server hands
 * out each once), so no committed item is keyed by it: the index items of
 * that seq (inode index keys start with the seq) are known absent, and
 * the item cache is told so as the transaction opens.  Otherwise every
 * index item an inode change writes would be outside any cached range,
 * and the commit would give each one a range of its own (ItemCache
 * markClean): a range map growing by one or two entries per changed
 * inode, walked by every later lookup.
 */
import type { LogTrees } from "../format/structs.js";
import type { BlockDevice } from "../block/device.js";
import { BlockWriter, type MetaStore } from "../block/store.js";
import { btreeCountBlocks, btreeLookup, btreeSetSorted } from "../btree/btree.js";
import { combineDeltas } from "../format/tag_items.js";
import { inodeIndexSeqFirst, inodeIndexSeqLast } from "../format/fs_items.js";
import { NODE_CAPACITY } from "../btree/node.js";
import { ListAllocator, MetaList } from "../alloc/meta_list.js";
import type { MountDataAlloc } from "../alloc/data_alloc.js";
import type { ItemCache } from "../item/cache.js";
import type { Clock } from "../util/clock.js";
import { counters } from "../util/counters.js";
import type { Committer } from "../trans/trans.js";
import type { OpenLogTrees, ServerApi } from "../net/api.js";

export interface MountLogLimits {
  /** commit once this many bytes of items are dirty */
  dirtyBytesMax: number;
}

export class MountLog implements Committer {
  private lt!: LogTrees;
  private lists!: ListAllocator;
  private w!: BlockWriter;
  seq = 0;
  cache!: ItemCache;
  /** called after each commit is durable (the mount refreshes what statfs reports) */
  afterCommit: (() => Promise<void>) | undefined;
  /** avail blocks at the start of the transaction: the level early commits are measured against */
  private availAtOpen = 0;
  /** blocks in the committed log tree, counted at each commit from its parent blocks */
  private treeBlocks = 0;

  constructor(
    private readonly store: MetaStore,
    private readonly metaDev: BlockDevice,
    private readonly server: ServerApi,
    readonly data: MountDataAlloc,
    private readonly limits: MountLogLimits,
    private readonly clock: Clock,
  ) {}

  async adopt(open: OpenLogTrees): Promise<void> {
    this.lt = open.lt;
    this.seq = open.seq;
    this.lists = new ListAllocator(
      await MetaList.load(this.store, open.lt.metaAvail),
      await MetaList.load(this.store, open.lt.metaFreed),
      (want) => this.server.lendMeta(open.lt.rid, want, this.cache.dirtyDeletes * 2 > this.cache.dirtyCount),
    );
    this.availAtOpen = this.lists.avail.length;
    this.treeBlocks = await btreeCountBlocks(this.store, open.lt.itemRoot);
    this.w = new BlockWriter(this.store, this.lists, open.seq);
    this.data.open(this.w, open.lt.dataAvail, open.lt.dataFreed);
  }

  /** the open transaction's index items are all in the cache: none is committed (see the file comment) */
  markOpenSeqEmpty(): void {
    this.cache.markEmpty(inodeIndexSeqFirst(this.seq), inodeIndexSeqLast(this.seq));
  }

  hasDirty(): boolean {
    return this.cache.dirtyCount > 0 || this.w.dirtyCount() > 0;
  }

  /*
   * Items take metadata blocks only when a commit writes them: each dirty
   * item may copy one existing block of the log tree (never more than the
   * tree has), and new items fill new leaves at worst a third full.  Commit
   * before that could need more blocks than avail holds.  (A commit that
   * still runs dry borrows from the server: lendMeta.)
   */
  commitBlocksEstimate(): number {
    const copied = Math.min(this.cache.dirtyCount, this.treeBlocks) * 1.05;
    return copied + this.cache.dirtyBytes / (NODE_CAPACITY / 3) + 32;
  }

  needsCommit(): boolean {
    return (
      this.cache.dirtyBytes >= this.limits.dirtyBytesMax ||
      this.commitBlocksEstimate() > this.lists.avail.length ||
      this.lists.avail.length < Math.max(16, this.availAtOpen / 4) ||
      (this.hasDirty() && this.data.availBlocks() < 256)
    );
  }

  async commit(): Promise<number> {
    let phaseStart = this.clock.nowMs();
    const phaseDone = (name: string) => {
      const now = this.clock.nowMs();
      counters.inc(`commit_ms_${name}`, now - phaseStart);
      phaseStart = now;
    };
    const w = this.w;
    // every data write of the transaction is done (holds write their data before they end): its sync runs
    // while the items go into the tree; metadata blocks may reach the device first, since nothing refers
    // to them until the server commits the new root, after both syncs
    const dataSynced = this.data.sync();
    dataSynced.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    // the tree keeps these objects as its leaf entries: no copy per item
    const items = this.cache.dirtyItems();
    for (const it of items) {
      if (it.delta) {
        // the log tree keeps the sum of this mount's deltas for the key
        const had = await btreeLookup(this.store, this.lt.itemRoot, it.key);
        if (had) it.value = combineDeltas(it.key, had.value, it.value);
      }
    }
    const root = await btreeSetSorted(w, this.lt.itemRoot, items);
    phaseDone("items");
    const data = await this.data.flush();
    const heads = await this.lists.saveLists(w);
    await w.writeAll();
    phaseDone("write");
    await Promise.all([dataSynced, this.metaDev.sync()]);
    phaseDone("sync");
    const lt: LogTrees = {
      ...this.lt,
      itemRoot: root,
      metaAvail: heads.avail,
      metaFreed: heads.freed,
      dataAvail: data.avail,
      dataFreed: data.freed,
      maxItemSeq: Math.max(this.lt.maxItemSeq, this.seq),
    };
    const next = await this.server.commitLogTrees(lt);
    phaseDone("server");
    this.cache.markClean();
    await this.adopt(next);
    this.markOpenSeqEmpty();
    await this.afterCommit?.();
    phaseDone("clean");
    return next.seq;
  }
}
