/*
 * The server: the one process that writes the super block.
 *
 * It owns the server btrees (log trees, mounted clients), the free
 * extent trees of metadata and data blocks, the fs root, and inode
 * number allocation.  Mounts write their own log trees with blocks the
 * server handed them and then send the server the new roots; the
 * server records them and commits.  Every request runs as one server
 * transaction under a mutex:
 *
 *   begin: a BlockWriter with the next seq; the blocks the previous
 *          commit freed go back into the free meta tree; the server's
 *          own avail list is refilled.
 *   the request changes btrees copy-on-write.
 *   commit: allocator lists saved, dirty blocks written, device synced,
 *          then the super block copy for this seq written and synced.
 *
 * A crash anywhere before the super block write leaves the previous
 * commit intact, since nothing it references was overwritten and
 * nothing it freed was reused before it was durable.
 *
 * Log tree lifecycle: a mount's open log tree (rid, nr) grows with each
 * commit; when it holds more than mergeThresholdBlocks blocks, or when
 * the mount leaves or is found dead at server start, it is finalized.
 * When no open log tree remains, the finalized trees are merged into the
 * fs root (newest seq wins; deletions remove older versions and vanish;
 * items of delta zones add into the fs root's sum) in batches, each its own server transaction, and then freed.  While a
 * merge runs readers see the same items through the fs root and the
 * finalized trees, which stay in place until the merge is done.
 * (The original spreads merge work over clients; here the server does it.)
 */
import { BLOCK_LG_SIZE, ITEM_FLAG_DELETION, LENT_BLKNOS_PER_ITEM, MOUNTED_CLIENT_TYPE, ZONE } from "../format/constants.js";
import { KEY_MAX, KEY_MIN, makeKey } from "../format/key.js";
import {
  EMPTY_ALLOC_ROOT, EMPTY_LIST, EMPTY_ROOT, LOG_TREES_FLAG_FINALIZED, decodeLogTrees, encodeLogTrees,
  encodeMountedClient, type LogTrees, type SuperBlock,
} from "../format/structs.js";
import type { BlockDevice } from "../block/device.js";
import { BlockWriter, MetaStore } from "../block/store.js";
import { readSuper, writeSuper } from "../block/super.js";
import {
  type SortedDecision, btreeApplySorted, btreeCountBlocks, btreeDelete, btreeFreeAll, btreeLookup, btreeRange, btreeSet,
} from "../btree/btree.js";
import { ExtentTree } from "../alloc/extents.js";
import { ListAllocator, MetaList } from "../alloc/meta_list.js";
import { readAllLogTrees, readTreesRange } from "../forest/forest.js";
import { combineDeltas, isDeltaKey, isNullDelta } from "../format/tag_items.js";
import type { OpenLogTrees, Roots, ServerApi, ServerStatfs } from "../net/api.js";
import { Mutex } from "../util/mutex.js";
import { FsError, assert, isFsError } from "../util/errors.js";
import { counters } from "../util/counters.js";

export interface ServerOptions {
  /** metadata blocks a client's avail list is refilled to */
  clientMetaAvailBlocks?: number;
  /** data blocks a client's data avail tree is refilled to */
  clientDataAvailBlocks?: number;
  /** finalize and merge a log tree once it has this many blocks */
  mergeThresholdBlocks?: number;
  /** keys merged per server transaction */
  mergeBatchItems?: number;
  /** the server's block cache limit */
  blockCacheBytes?: number;
}

/** the server's own avail list is refilled to this when below a quarter of it (smaller on small devices) */
const SERVER_AVAIL_MAX = 1024;

const logTreesKey = (rid: bigint, nr: number) => makeKey(ZONE.logTrees, rid, 0, nr);
const mountedClientKey = (rid: bigint) => makeKey(ZONE.mountedClient, rid, MOUNTED_CLIENT_TYPE.client);
const lentKey = (rid: bigint, n: number) => makeKey(ZONE.mountedClient, rid, MOUNTED_CLIENT_TYPE.lentMeta, n);

export class Server implements ServerApi {
  private mutex = new Mutex();
  private lists!: ListAllocator;
  private metaAlloc!: ExtentTree;
  private dataAlloc!: ExtentTree;
  private committed!: SuperBlock;
  private merging: Promise<void> | undefined;
  /** the super block copy holding the last commit; the next commit writes the other */
  private superCopy = 0;
  readonly opts: Required<ServerOptions>;

  private constructor(
    readonly metaDev: BlockDevice,
    readonly store: MetaStore,
    private sb: SuperBlock,
    opts: ServerOptions,
  ) {
    const total = sb.totalMetaBlocks;
    this.opts = {
      clientMetaAvailBlocks: opts.clientMetaAvailBlocks ?? Math.max(32, Math.min(8192, Math.floor(total / 8))),
      clientDataAvailBlocks: opts.clientDataAvailBlocks ?? Math.max(16, Math.min(65536, Math.floor(sb.totalDataBlocks / 16))),
      mergeThresholdBlocks: opts.mergeThresholdBlocks ?? Math.max(32, Math.min(4096, Math.floor(total / 16))),
      mergeBatchItems: opts.mergeBatchItems ?? 4000,
      blockCacheBytes: opts.blockCacheBytes ?? 128 * 1024 * 1024,
    };
  }

  static async start(metaDev: BlockDevice, opts: ServerOptions = {}): Promise<Server> {
    const { super: sb, copy } = await readSuper(metaDev);
    const store = new MetaStore(metaDev, sb.fsid, opts.blockCacheBytes ?? 128 * 1024 * 1024);
    const s = new Server(metaDev, store, sb, opts);
    s.superCopy = copy;
    s.committed = structuredClone(sb);
    s.lists = new ListAllocator(await MetaList.load(store, sb.serverMetaAvail), await MetaList.load(store, sb.serverMetaFreed));
    s.metaAlloc = new ExtentTree(sb.metaAlloc);
    s.dataAlloc = new ExtentTree(sb.dataAlloc);
    await s.recoverDeadClients();
    return s;
  }

  get fsid(): bigint {
    return this.sb.fsid;
  }

  /** the last committed super block (a copy) */
  committedSuper(): SuperBlock {
    return structuredClone(this.committed);
  }

  /* ---- transactions ---- */

  private txn<T>(fn: (w: BlockWriter) => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const seq = this.sb.nextSeq++;
      const w = new BlockWriter(this.store, this.lists, seq);
      const copy = this.superCopy;
      try {
        await this.refillOwnAvail(w);
        await this.reclaimOwnFreed(w);
        const result = await fn(w);
        // top up again so the next transaction starts with its avail list full
        await this.refillOwnAvail(w);
        await this.commit(w);
        return result;
      } catch (e) {
        await this.rollback(copy);
        throw e;
      }
    });
  }

  /**
   * A transaction failed (ENOSPC, EIO): none of it reached a super block,
   * so go back to the last commit.  Seqs already handed out are not
   * reused; its dirty blocks are dropped from the cache.
   */
  private async rollback(copy: number): Promise<void> {
    const nextSeq = this.sb.nextSeq;
    this.store.dropAll();
    this.sb = structuredClone(this.committed);
    this.sb.nextSeq = Math.max(nextSeq, this.sb.nextSeq);
    this.superCopy = copy;
    this.lists = new ListAllocator(await MetaList.load(this.store, this.sb.serverMetaAvail), await MetaList.load(this.store, this.sb.serverMetaFreed));
    this.metaAlloc = new ExtentTree(this.sb.metaAlloc);
    this.dataAlloc = new ExtentTree(this.sb.dataAlloc);
    counters.inc("server_txn_rollback");
  }

  private async reclaimOwnFreed(w: BlockWriter): Promise<void> {
    const prev = this.lists.freed.blknos;
    this.lists.freed.blknos = [];
    await freeRuns(w, this.metaAlloc, prev);
  }

  /** how many blocks the server keeps in its own avail list */
  private serverAvailTarget(): number {
    return Math.max(32, Math.min(SERVER_AVAIL_MAX, Math.floor(this.sb.totalMetaBlocks / 16)));
  }

  private async refillOwnAvail(w: BlockWriter): Promise<void> {
    const target = this.serverAvailTarget();
    if (this.lists.avail.length >= target / 2) return;
    // each alloc may itself use a few avail blocks to copy tree blocks: ask for some slack, and bound the loop
    for (let tries = 0; tries < 8 && this.lists.avail.length < target; tries++) {
      const ext = await this.metaAlloc.alloc(w, target + 16 - this.lists.avail.length);
      if (!ext) break;
      for (let b = ext.start; b < ext.start + ext.len; b++) this.lists.avail.blknos.push(b);
    }
  }

  private async commit(w: BlockWriter): Promise<void> {
    const heads = await this.lists.saveLists(w);
    this.sb.serverMetaAvail = heads.avail;
    this.sb.serverMetaFreed = heads.freed;
    this.sb.metaAlloc = this.metaAlloc.root;
    this.sb.dataAlloc = this.dataAlloc.root;
    this.sb.seq = w.seq;
    await w.writeAll();
    await this.metaDev.sync();
    this.superCopy ^= 1;
    await writeSuper(this.metaDev, this.sb, this.superCopy);
    await this.metaDev.sync();
    this.committed = structuredClone(this.sb);
    counters.inc("server_commit");
  }

  /* ---- client log trees ---- */

  private async findOpenLogTrees(rid: bigint): Promise<LogTrees | undefined> {
    const all = await readAllLogTrees(this.store, this.sb.logsRoot);
    return all.find((lt) => lt.rid === rid && !(lt.flags & LOG_TREES_FLAG_FINALIZED));
  }

  private async putLogTrees(w: BlockWriter, lt: LogTrees): Promise<void> {
    this.sb.logsRoot = await btreeSet(w, this.sb.logsRoot, logTreesKey(lt.rid, lt.nr), encodeLogTrees(lt));
  }

  /**
   * Metadata blocks for clients never come from the last reserveMetaBlocks
   * of the free tree: those stay for the server's own commits and for
   * transactions that mostly delete, so that recovery, log merges and
   * removing files (which free space) can always run, even on a device
   * that clients have filled.
   */
  private async allocForClient(w: BlockWriter, want: number, useReserve = false): Promise<{ start: number; len: number } | undefined> {
    // leave the reserve, and what the server's own avail list may still need
    const reserve = useReserve ? 0 : this.reserveMetaBlocks();
    const spare = this.metaAlloc.totalLen - reserve - Math.max(0, this.serverAvailTarget() - this.lists.avail.length);
    if (spare <= 0) return undefined;
    return this.metaAlloc.alloc(w, Math.min(want, spare));
  }

  reserveMetaBlocks(): number {
    return Math.max(16, Math.floor(this.sb.totalMetaBlocks / 64));
  }

  /**
   * Blocks the last committed super block may still reach (a client's
   * freed tree and list blocks, which this transaction stops referencing)
   * go into the server's own freed list, which its next transaction
   * empties into the free tree.  Freed into the free tree now, the top-up
   * of the server's avail list at the end of this transaction could hand
   * them to this very commit's block writes, which land before its super
   * block: a crash in between would leave the last commit reading
   * overwritten blocks.
   */
  private stageReplaced(blknos: readonly number[]): void {
    for (const b of blknos) this.lists.free(b);
  }

  /**
   * Move a client's freed blocks and extents towards the free trees and
   * refill its avail.  Its freed metadata blocks are staged
   * (stageReplaced).  Freed data extents go straight back: the server
   * writes no data blocks, and a client writes the ones it is given only
   * after this transaction is durable.
   */
  private async refreshAllocators(w: BlockWriter, lt: LogTrees): Promise<void> {
    const avail = await MetaList.load(this.store, lt.metaAvail);
    const freed = await MetaList.load(this.store, lt.metaFreed);
    this.stageReplaced(freed.blknos);
    freed.blknos = [];
    for (let tries = 0; tries < 8 && avail.length < this.opts.clientMetaAvailBlocks; tries++) {
      const ext = await this.allocForClient(w, this.opts.clientMetaAvailBlocks - avail.length);
      if (!ext) break;
      for (let b = ext.start; b < ext.start + ext.len; b++) avail.blknos.push(b);
    }
    const heads = await new ListAllocator(avail, freed).saveLists(w);
    lt.metaAvail = heads.avail;
    lt.metaFreed = heads.freed;

    const dataFreed = new ExtentTree(lt.dataFreed);
    for (const ext of await dataFreed.list(this.store)) await this.dataAlloc.free(w, ext.start, ext.len);
    await btreeFreeAll(w, lt.dataFreed.root);
    lt.dataFreed = { ...EMPTY_ALLOC_ROOT };
    const dataAvail = new ExtentTree(lt.dataAvail);
    for (let tries = 0; tries < 8 && dataAvail.totalLen < this.opts.clientDataAvailBlocks; tries++) {
      const ext = await this.dataAlloc.alloc(w, this.opts.clientDataAvailBlocks - dataAvail.totalLen);
      if (!ext) break;
      await dataAvail.free(w, ext.start, ext.len);
    }
    lt.dataAvail = dataAvail.root;
  }

  /**
   * The client's open log tree, or a new one, ready for its next
   * transaction.  known: what the caller knows is open (undefined: none),
   * without a lookup; without it, looked up.
   */
  private async openLogTrees(w: BlockWriter, rid: bigint, known?: { open: LogTrees | undefined }): Promise<OpenLogTrees> {
    let lt = known ? known.open : await this.findOpenLogTrees(rid);
    if (!lt) {
      lt = {
        metaAvail: { ...EMPTY_LIST }, metaFreed: { ...EMPTY_LIST }, itemRoot: { ...EMPTY_ROOT },
        dataAvail: { ...EMPTY_ALLOC_ROOT }, dataFreed: { ...EMPTY_ALLOC_ROOT }, maxItemSeq: 0,
        rid, nr: this.sb.nextLogTreesNr++, flags: 0, openSeq: this.sb.nextSeq,
      };
      counters.inc("server_log_trees_open");
    }
    await this.refreshAllocators(w, lt);
    await this.putLogTrees(w, lt);
    // the client's transaction takes the seq after this commit's
    return { lt, seq: this.sb.nextSeq++ };
  }

  async greeting(rid: bigint): Promise<{ fsid: bigint; formatVersion: number }> {
    await this.txn(async (w) => {
      this.sb.mountedClients = await btreeSet(w, this.sb.mountedClients, mountedClientKey(rid), encodeMountedClient({ rid, flags: 0, addr: 0 }));
    });
    return { fsid: this.sb.fsid, formatVersion: this.sb.formatVersion };
  }

  async getLogTrees(rid: bigint): Promise<OpenLogTrees> {
    return this.txn((w) => this.openLogTrees(w, rid));
  }

  /**
   * Record a client's committed log tree and open its next transaction,
   * in one server transaction (one super block write per client commit):
   * the tree is finalized if it outgrew the merge threshold, and the
   * client then gets a new one.
   */
  async commitLogTrees(lt: LogTrees): Promise<OpenLogTrees> {
    let finalize = false;
    const next = await this.txn(async (w) => {
      const cur = await btreeLookup(this.store, this.sb.logsRoot, logTreesKey(lt.rid, lt.nr));
      if (!cur || decodeLogTrees(cur.value).flags & LOG_TREES_FLAG_FINALIZED) {
        throw new FsError("ESTALE", `log tree ${lt.rid.toString(16)}.${lt.nr} is not open`);
      }
      if (lt.maxItemSeq > this.sb.committedSeq) this.sb.committedSeq = lt.maxItemSeq;
      await this.settleLent(w, lt.rid, false);
      finalize = (await btreeCountBlocks(this.store, lt.itemRoot)) >= this.opts.mergeThresholdBlocks;
      if (finalize) {
        await this.returnAllocators(w, lt);
        lt.flags |= LOG_TREES_FLAG_FINALIZED;
        counters.inc("server_log_trees_finalize");
        await this.putLogTrees(w, lt);
      }
      // finalized: the client has no open tree left and gets a new one; else it keeps this one (a copy: refreshed here)
      return this.openLogTrees(w, lt.rid, { open: finalize ? undefined : { ...lt } });
    });
    if (finalize) this.startMerge();
    return next;
  }

  /**
   * A leaving or dead client's avail and freed space goes back to the free
   * trees.  Its avail blocks hold nothing the last commit refers to and
   * are free at once; its freed blocks (the tree blocks it replaced since
   * its last commit) and both lists' own blocks are reached from the last
   * committed super block through the log tree being finalized, so they
   * are staged (stageReplaced).
   */
  private async returnAllocators(w: BlockWriter, lt: LogTrees): Promise<void> {
    const avail = await MetaList.load(this.store, lt.metaAvail);
    const freed = await MetaList.load(this.store, lt.metaFreed);
    await freeRuns(w, this.metaAlloc, avail.blknos);
    this.stageReplaced([...freed.blknos, ...avail.storage, ...freed.storage]);
    for (const a of [lt.dataAvail, lt.dataFreed]) {
      for (const ext of await new ExtentTree(a).list(this.store)) await this.dataAlloc.free(w, ext.start, ext.len);
      await btreeFreeAll(w, a.root);
    }
    lt.metaAvail = { ...EMPTY_LIST };
    lt.metaFreed = { ...EMPTY_LIST };
    lt.dataAvail = { ...EMPTY_ALLOC_ROOT };
    lt.dataFreed = { ...EMPTY_ALLOC_ROOT };
  }

  private async retireClient(w: BlockWriter, rid: bigint): Promise<void> {
    await this.settleLent(w, rid, true);
    const lt = await this.findOpenLogTrees(rid);
    if (lt) {
      await this.returnAllocators(w, lt);
      lt.flags |= LOG_TREES_FLAG_FINALIZED;
      await this.putLogTrees(w, lt);
    }
    this.sb.mountedClients = await btreeDelete(w, this.sb.mountedClients, mountedClientKey(rid));
  }

  /*
   * A client whose avail list ran dry in the middle of a transaction
   * borrows blocks.  They are recorded in lent items under the client
   * until the client's next commit (which lists them in its own
   * allocators) deletes the items in the same server transaction; if the
   * client dies first, recovery frees them.  So no block is ever outside
   * every committed structure: nothing leaks at a crash.
   */
  async lendMeta(rid: bigint, want: number, freesSpace = false): Promise<number[]> {
    return this.txn(async (w) => {
      const got: number[] = [];
      while (got.length < want) {
        const ext = await this.allocForClient(w, want - got.length, freesSpace);
        if (!ext) break;
        for (let b = ext.start; b < ext.start + ext.len; b++) got.push(b);
      }
      if (got.length === 0) throw new FsError("ENOSPC", "no free metadata blocks");
      const base = (await this.lentItems(rid)).length;
      for (let i = 0; i < got.length; i += LENT_BLKNOS_PER_ITEM) {
        const part = got.slice(i, i + LENT_BLKNOS_PER_ITEM);
        const v = Buffer.alloc(part.length * 8);
        part.forEach((b, j) => v.writeBigUInt64LE(BigInt(b), j * 8));
        this.sb.mountedClients = await btreeSet(w, this.sb.mountedClients, lentKey(rid, base + i), v);
      }
      counters.inc("server_lent_meta_blocks", got.length);
      return got;
    });
  }

  private async lentItems(rid: bigint): Promise<{ key: Buffer; blknos: number[] }[]> {
    const r = await btreeRange(this.store, this.sb.mountedClients, lentKey(rid, 0), lentKey(rid, Number.MAX_SAFE_INTEGER));
    return r.items.map((it) => {
      const blknos: number[] = [];
      for (let o = 0; o < it.value.length; o += 8) blknos.push(Number(it.value.readBigUInt64LE(o)));
      return { key: it.key, blknos };
    });
  }

  /** drop lent items; with free=true their blocks go back to the free tree (client gone) */
  private async settleLent(w: BlockWriter, rid: bigint, free: boolean): Promise<void> {
    for (const it of await this.lentItems(rid)) {
      if (free) await freeRuns(w, this.metaAlloc, it.blknos);
      this.sb.mountedClients = await btreeDelete(w, this.sb.mountedClients, it.key);
    }
  }

  async farewell(rid: bigint): Promise<void> {
    await this.txn((w) => this.retireClient(w, rid));
    this.startMerge();
    await this.idle();
  }

  /** with a quorum of one, every client recorded at start died with the previous server */
  private async recoverDeadClients(): Promise<void> {
    const rids: bigint[] = [];
    const lts = await readAllLogTrees(this.store, this.sb.logsRoot);
    for (const lt of lts) if (!(lt.flags & LOG_TREES_FLAG_FINALIZED)) rids.push(lt.rid);
    const mc = await btreeRange(this.store, this.sb.mountedClients, makeKey(ZONE.mountedClient), makeKey(ZONE.mountedClient + 1));
    for (const it of mc.items) {
      if (it.key[9] !== MOUNTED_CLIENT_TYPE.client) continue;
      const rid = it.key.readBigUInt64BE(1);
      if (!rids.includes(rid)) rids.push(rid);
    }
    if (rids.length === 0 && !lts.some((lt) => lt.flags & LOG_TREES_FLAG_FINALIZED)) return;
    await this.txn(async (w) => {
      for (const rid of rids) await this.retireClient(w, rid);
    });
    counters.inc("server_recovered_clients", rids.length);
    this.startMerge();
    await this.idle();
  }

  /* ---- log merge ---- */

  private startMerge(): void {
    if (!this.merging) {
      this.merging = this.mergeFinalized().finally(() => {
        this.merging = undefined;
      });
    }
  }

  /** wait for background work (merges) to finish */
  async idle(): Promise<void> {
    while (this.merging) await this.merging;
  }

  /*
   * Merge every finalized log tree into the fs root.  Safe only when no
   * open tree could hold an older version of a key that a finalized tree
   * deletes: every open tree must have been opened after the newest item
   * of the finalized trees (openSeq > their maxItemSeq).
   *
   * Each batch is one server transaction that moves items: they are
   * written to the fs root and deleted from the input trees together, so
   * blocks of the inputs are freed as the merge goes and a merge needs
   * little free space.  A batch that runs out of space is retried smaller.
   * Both sides change in key order, one descent per leaf changed
   * (btreeApplySorted): the fs root decides each key against its own
   * item, found in the leaf the descent reached, not by a lookup per key.
   */
  private async mergeFinalized(): Promise<void> {
    const lts = await this.mutex.run(() => readAllLogTrees(this.store, this.sb.logsRoot));
    const inputs = lts.filter((lt) => lt.flags & LOG_TREES_FLAG_FINALIZED);
    if (inputs.length === 0) return;
    const newest = Math.max(...inputs.map((lt) => lt.maxItemSeq));
    if (lts.some((lt) => !(lt.flags & LOG_TREES_FLAG_FINALIZED) && lt.openSeq <= newest)) return;
    counters.inc("server_merge_start");
    let batch = this.opts.mergeBatchItems;
    for (;;) {
      let done: boolean;
      try {
        done = await this.txn((w) => this.mergeBatch(w, batch));
      } catch (e) {
        if (isFsError(e, "ENOSPC") && batch > 1) {
          batch = Math.ceil(batch / 4);
          counters.inc("server_merge_shrink");
          continue;
        }
        throw e;
      }
      if (done) break;
    }
    counters.inc("server_merge_done");
  }

  private async mergeBatch(w: BlockWriter, batch: number): Promise<boolean> {
    const inputs = (await readAllLogTrees(this.store, this.sb.logsRoot)).filter((lt) => lt.flags & LOG_TREES_FLAG_FINALIZED);
    const r = await readTreesRange(this.store, inputs.map((lt) => lt.itemRoot), KEY_MIN, KEY_MAX, batch);
    // each key decided against the fs root's version of it, found in the leaf the sorted apply reached
    // the fs root keeps the key of an item it gains: a copy, not a view that would pin the input's block
    const changes = r.items.map((it) => ({ ...it, key: Buffer.from(it.key) }));
    this.sb.fsRoot = await btreeApplySorted(w, this.sb.fsRoot, changes, (it, cur): SortedDecision => {
      if (isDeltaKey(it.key)) {
        // deltas add into the fs root's sum; a null sum is no item
        const sum = cur ? combineDeltas(it.key, cur.value, it.value) : Buffer.from(it.value);
        return isNullDelta(sum) ? null : { seq: Math.max(it.seq, cur?.seq ?? 0), flags: 0, value: sum };
      }
      if (cur && cur.seq > it.seq) return undefined;
      return it.flags & ITEM_FLAG_DELETION ? null : { seq: it.seq, flags: 0, value: Buffer.from(it.value) };
    });
    let deltas = 0;
    for (const it of r.items) if (isDeltaKey(it.key)) deltas++;
    counters.inc("server_merge_delta", deltas);
    counters.inc("server_merge_item", r.items.length - deltas);
    const done = r.end.equals(KEY_MAX);
    for (const lt of inputs) {
      if (done) {
        await btreeFreeAll(w, lt.itemRoot);
        this.sb.logsRoot = await btreeDelete(w, this.sb.logsRoot, logTreesKey(lt.rid, lt.nr));
        continue;
      }
      const { items } = await btreeRange(this.store, lt.itemRoot, KEY_MIN, r.end);
      lt.itemRoot = await btreeApplySorted(w, lt.itemRoot, items, () => null);
      await this.putLogTrees(w, lt);
    }
    return done;
  }

  /* ---- growing the devices ---- */

  /**
   * Grow the metadata and data devices the filesystem uses to the given
   * totals, in one server transaction: the added blocks become free
   * extents and the super block's totals move.  A total of 0 or the
   * current one leaves that device alone; a smaller one, or one beyond
   * the device (dataDevBlocks: the data device's size in blocks, which
   * only the mount knows), is EINVAL and changes nothing.
   */
  async resizeDevices(newMetaBlocks: number, newDataBlocks: number, dataDevBlocks: number): Promise<void> {
    await this.txn(async (w) => {
      const meta = newMetaBlocks === this.sb.totalMetaBlocks ? 0 : newMetaBlocks;
      const data = newDataBlocks === this.sb.totalDataBlocks ? 0 : newDataBlocks;
      if ((meta && meta < this.sb.totalMetaBlocks) || (data && data < this.sb.totalDataBlocks)) {
        throw new FsError("EINVAL", "resize: shrinking a device is not supported");
      }
      const metaDevBlocks = Math.floor(this.metaDev.sizeBytes() / BLOCK_LG_SIZE);
      if (meta > metaDevBlocks) throw new FsError("EINVAL", `resize: ${meta} metadata blocks do not fit the metadata device (${metaDevBlocks})`);
      if (data > dataDevBlocks) throw new FsError("EINVAL", `resize: ${data} data blocks do not fit the data device (${dataDevBlocks})`);
      if (meta) {
        await this.metaAlloc.free(w, this.sb.totalMetaBlocks, meta - this.sb.totalMetaBlocks);
        this.sb.totalMetaBlocks = meta;
      }
      if (data) {
        await this.dataAlloc.free(w, this.sb.totalDataBlocks, data - this.sb.totalDataBlocks);
        this.sb.totalDataBlocks = data;
      }
      if (meta || data) counters.inc("server_resize");
    });
  }

  /* ---- the rest ---- */

  async getRoots(): Promise<Roots> {
    return { fsRoot: this.committed.fsRoot, logsRoot: this.committed.logsRoot, seq: this.committed.seq };
  }

  async allocInodes(count: number): Promise<{ first: number; count: number }> {
    return this.txn(async () => {
      const first = this.sb.nextIno;
      this.sb.nextIno += count;
      return { first, count };
    });
  }

  async statfs(): Promise<ServerStatfs> {
    const s = this.committed;
    let clientMeta = 0;
    let clientData = 0;
    for (const lt of await readAllLogTrees(this.store, s.logsRoot)) {
      clientMeta += lt.metaAvail.count + lt.metaFreed.count;
      clientData += lt.dataAvail.totalLen + lt.dataFreed.totalLen;
    }
    return {
      totalMetaBlocks: s.totalMetaBlocks,
      freeMetaBlocks: s.metaAlloc.totalLen + s.serverMetaAvail.count + s.serverMetaFreed.count + clientMeta,
      reservedMetaBlocks: this.reserveMetaBlocks(),
      totalDataBlocks: s.totalDataBlocks,
      freeDataBlocks: s.dataAlloc.totalLen + clientData,
      committedSeq: s.committedSeq,
      nextIno: s.nextIno,
    };
  }

  async stop(): Promise<void> {
    await this.idle();
    await this.mutex.run(async () => undefined);
  }
}

/** free a set of block numbers into an extent tree as runs of consecutive numbers */
export async function freeRuns(w: BlockWriter, tree: ExtentTree, blknos: number[]): Promise<void> {
  if (blknos.length === 0) return;
  const sorted = [...blknos].sort((a, b) => a - b);
  let start = sorted[0]!;
  let len = 1;
  for (let i = 1; i <= sorted.length; i++) {
    const b = sorted[i];
    if (b === start + len) {
      len++;
      continue;
    }
    assert(b === undefined || b > start + len - 1, `block ${b} freed twice`);
    await tree.free(w, start, len);
    if (b !== undefined) {
      start = b;
      len = 1;
    }
  }
}

