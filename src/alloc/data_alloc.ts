/*
 * A mount's data block allocator: the FsData the fs layer writes file
 * contents through.
 *
 * Blocks come from the mount's data avail tree (refilled by the server
 * at each commit).  Blocks allocated in the open transaction are "fresh"
 * and may be overwritten in place; no other block is ever overwritten.
 * Frees are queued in memory (the fs frees synchronously) and applied at
 * commit: fresh blocks go straight back to avail, committed blocks to the
 * freed tree, which the server reclaims after the commit is durable.
 *
 * Allocations come from many requests at once (writes to different files
 * hold the transaction together), and a tree allocation awaits block
 * reads and COW in the middle: they are run one at a time (allocLock),
 * or two could take the same free extent.
 *
 * Writeback: the commit must have every data write of its transaction
 * durable before the new root reaches the server, and it keeps all holds
 * out while it waits.  Left to the end, that sync writes the whole
 * transaction's data at once (up to the refill of the avail tree, 256
 * MiB) while every writer stalls.  So once WRITEBACK_BYTES have been
 * written since the last sync, a sync of the device starts in the
 * background, and the commit's sync() only waits for it and flushes the
 * rest.  A background sync that fails is latched and fails every later
 * sync(): the kernel reports a writeback error to one fsync only, so the
 * commit's own sync could succeed without the lost writes.  A data
 * device writing through O_DIRECT (device.ts) has its data on the device
 * when each write returns, so its syncs only flush the image file's new
 * allocations and the device's cache; the background sync matters most
 * where writes are buffered.
 */
import { DATA_BLOCK_SIZE } from "../format/constants.js";
import type { AllocRoot } from "../format/structs.js";
import type { BlockDevice } from "../block/device.js";
import type { BlockWriter } from "../block/store.js";
import type { DataExtent, FsData } from "../fs/storage.js";
import { ExtentTree, type Extent } from "./extents.js";
import { SortedMap } from "../util/sorted_map.js";
import { FsError } from "../util/errors.js";
import { counters } from "../util/counters.js";
import { Mutex } from "../util/mutex.js";

/** bytes written since the last sync that start a background sync of the data device */
export const WRITEBACK_BYTES = 32 << 20;

export class MountDataAlloc implements FsData {
  private avail!: ExtentTree;
  private freed!: ExtentTree;
  private w!: BlockWriter;
  private fresh = new SortedMap<number, number>();
  private pendingFree: Extent[] = [];
  private readonly allocLock = new Mutex();
  /** bytes written since the last sync started */
  private unsynced = 0;
  private writeback: Promise<void> | undefined;
  private writebackError: Error | undefined;
  total = 0;
  free_ = 0;

  constructor(private readonly dev: BlockDevice) {}

  /** a new transaction: its writer and the allocator trees the server gave */
  open(w: BlockWriter, avail: AllocRoot, freed: AllocRoot): void {
    this.w = w;
    this.avail = new ExtentTree(avail);
    this.freed = new ExtentTree(freed);
    this.fresh.clear();
    this.pendingFree = [];
  }

  availBlocks(): number {
    return this.avail.totalLen;
  }

  alloc(count: number): Promise<DataExtent> {
    return this.allocLock.run(async () => {
      const ext = await this.avail.alloc(this.w, count);
      if (!ext) throw new FsError("ENOSPC", "no free data blocks");
      this.fresh.set(ext.start, ext.len);
      counters.inc("data_alloc_blocks", ext.len);
      return { blkno: ext.start, count: ext.len };
    });
  }

  free(blkno: number, count: number): void {
    this.pendingFree.push({ start: blkno, len: count });
    counters.inc("data_free_blocks", count);
  }

  isFresh(blkno: number): boolean {
    const p = this.fresh.getPairOrNextLower(blkno);
    return p !== undefined && blkno < p[0] + p[1];
  }

  /**
   * at commit: apply queued frees; returns the trees to record.  Frees
   * of neighbouring blocks (the files of a directory deleted together
   * were often written together) are joined first, so the trees see one
   * free per run instead of one per file; a run never mixes fresh and
   * committed blocks, which go to different trees (overlapping frees are
   * not joined: the tree refuses them as it would one at a time).
   */
  async flush(): Promise<{ avail: AllocRoot; freed: AllocRoot }> {
    const pending = this.pendingFree.sort((a, b) => a.start - b.start);
    this.pendingFree = [];
    let run: (Extent & { fresh: boolean }) | undefined;
    const apply = async (e: Extent & { fresh: boolean }) => {
      counters.inc("data_free_runs");
      if (e.fresh) await this.avail.free(this.w, e.start, e.len);
      else await this.freed.free(this.w, e.start, e.len);
    };
    for (const e of pending) {
      const fresh = this.isFresh(e.start);
      if (run && run.fresh === fresh && run.start + run.len === e.start) {
        run.len += e.len;
        continue;
      }
      if (run) await apply(run);
      run = { start: e.start, len: e.len, fresh };
    }
    if (run) await apply(run);
    return { avail: this.avail.root, freed: this.freed.root };
  }

  async read(blkno: number, count: number, into?: Buffer): Promise<Buffer> {
    return this.dev.read(blkno * DATA_BLOCK_SIZE, count * DATA_BLOCK_SIZE, into);
  }

  async write(blkno: number, data: Buffer): Promise<void> {
    await this.dev.write(blkno * DATA_BLOCK_SIZE, data);
    this.unsynced += data.length;
    if (this.unsynced >= WRITEBACK_BYTES && !this.writeback) {
      this.unsynced = 0;
      counters.inc("data_writeback_syncs");
      this.writeback = this.dev
        .sync()
        .catch((e: unknown) => {
          this.writebackError ??= e instanceof Error ? e : new Error(String(e));
        })
        .finally(() => (this.writeback = undefined));
    }
  }

  /** every data write completed so far is durable when this resolves (see the file comment) */
  async sync(): Promise<void> {
    this.unsynced = 0;
    if (this.writeback) await this.writeback;
    await this.dev.sync();
    if (this.writebackError) throw this.writebackError;
  }

  totalBlocks(): number {
    return this.total;
  }

  freeBlocks(): number {
    return this.free_;
  }
}
