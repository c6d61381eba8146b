/*
 * A mount: one process's use of a filesystem, composed bottom up.
 *
 *   devices -> server (in-process, a quorum of one for now) -> greeting
 *   -> MetaStore + Forest -> MountLog (log tree, allocators) -> ItemCache
 *   -> Trans -> Filesystem
 *
 * Set up in that order and torn down in reverse: unmount commits, tells
 * the server goodbye (which finalizes and merges the mount's log tree),
 * stops the server and closes the devices.  At mount, inodes left as
 * orphans by a crash are deleted.
 */
import { randomBytes } from "node:crypto";
import type { BlockDevice } from "../block/device.js";
import { FileBlockDevice } from "../block/device.js";
import { MetaStore } from "../block/store.js";
import { checkDataSuper } from "../block/super.js";
import { Server, type ServerOptions } from "../server/server.js";
import { Forest, committedItems } from "../forest/forest.js";
import { ItemCache } from "../item/cache.js";
import { Trans } from "../trans/trans.js";
import { MountDataAlloc } from "../alloc/data_alloc.js";
import { MountLog } from "./mount_log.js";
import { Filesystem } from "../fs/filesystem.js";
import type { FsOptions } from "../fs/types.js";
import type { FsStorage } from "../fs/storage.js";
import { inodeItemsFirst, inodeItemsLast } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE } from "../format/constants.js";
import { RealClock, type Clock } from "../util/clock.js";

export interface MountOptions {
  clock?: Clock;
  server?: ServerOptions;
  /** item cache limit */
  itemCacheBytes?: number;
  /** block cache limit, bytes */
  blockCacheBytes?: number;
  commitIntervalMs?: number;
  dirtyBytesMax?: number;
  inoAllocPerLock?: number;
  /** options of the mount's Filesystem (atime, acl) */
  fs?: FsOptions;
  /** where problems that no request reports go (a failed commit); default none */
  log?: (msg: string) => void;
}

export class Mount {
  private constructor(
    readonly metaDev: BlockDevice,
    readonly dataDev: BlockDevice,
    readonly server: Server,
    readonly rid: bigint,
    readonly store: MetaStore,
    readonly cache: ItemCache,
    readonly trans: Trans,
    readonly log: MountLog,
    readonly fs: Filesystem,
    readonly forest: Forest,
  ) {}

  static async openPaths(metaPath: string, dataPath: string, opts: MountOptions = {}): Promise<Mount> {
    const meta = await FileBlockDevice.open(metaPath);
    const data = await FileBlockDevice.open(dataPath, undefined, true, { directWrites: true });
    opts.log?.(`scoutfs: data device ${dataPath}: ${data.directWrites ? "direct (O_DIRECT) writes" : "buffered writes, O_DIRECT refused"}`);
    return Mount.open(meta, data, opts);
  }

  static async open(metaDev: BlockDevice, dataDev: BlockDevice, opts: MountOptions = {}): Promise<Mount> {
    const clock = opts.clock ?? new RealClock();
    const server = await Server.start(metaDev, opts.server);
    await checkDataSuper(dataDev, server.fsid);
    const rid = randomBytes(8).readBigUInt64LE(0) || 1n;
    const { formatVersion } = await server.greeting(rid);
    const store = new MetaStore(metaDev, server.fsid, opts.blockCacheBytes ?? 256 * 1024 * 1024);
    const forest = new Forest(store, server);
    const dataAlloc = new MountDataAlloc(dataDev);
    const log = new MountLog(store, metaDev, server, dataAlloc, { dirtyBytesMax: opts.dirtyBytesMax ?? 32 * 1024 * 1024 }, clock);
    await log.adopt(await server.getLogTrees(rid));
    const trans = new Trans(log, log.seq, clock, opts.commitIntervalMs ?? 1000, (e) =>
      opts.log?.(`scoutfs: commit failed, every later change fails until remount: ${e.stack ?? e.message}`),
    );
    const cache = new ItemCache(forest, trans, opts.itemCacheBytes ?? 256 * 1024 * 1024);
    log.cache = cache;
    log.markOpenSeqEmpty();

    let inoNext = 0;
    let inoEnd = 0;
    const perLock = opts.inoAllocPerLock ?? 1024;
    let statfs = await server.statfs();
    const storage: FsStorage = {
      items: cache,
      trans,
      data: dataAlloc,
      clock: { now: () => clock.wall() },
      fsid: server.fsid,
      formatVersion,
      allocIno: async () => {
        if (inoNext >= inoEnd) {
          const r = await server.allocInodes(perLock);
          inoNext = r.first;
          inoEnd = r.first + r.count;
        }
        const ino = inoNext++;
        // a never-used inode number has no items anywhere: no forest read to learn that
        cache.markEmpty(inodeItemsFirst(ino), inodeItemsLast(ino));
        return ino;
      },
      metaBlocks: () => ({ total: statfs.totalMetaBlocks, free: statfs.freeMetaBlocks }),
      committed: committedItems(forest),
    };
    const refreshStatfs = async () => {
      statfs = await server.statfs();
      dataAlloc.total = statfs.totalDataBlocks;
      dataAlloc.free_ = statfs.freeDataBlocks;
    };
    await refreshStatfs();
    log.afterCommit = refreshStatfs;
    const fs = new Filesystem(storage, opts.log ? { log: opts.log, ...opts.fs } : opts.fs);
    const m = new Mount(metaDev, dataDev, server, rid, store, cache, trans, log, fs, forest);
    await fs.deleteOrphans();
    return m;
  }

  async sync(): Promise<void> {
    await this.trans.sync();
  }

  /** grow the devices in use (server.resizeDevices), then count the new space in statfs */
  async resizeDevices(metaBlocks: number, dataBlocks: number): Promise<void> {
    await this.server.resizeDevices(metaBlocks, dataBlocks, Math.floor(this.dataDev.sizeBytes() / DATA_BLOCK_SIZE));
    await this.log.afterCommit?.();
  }

  /** clean unmount: everything committed, log tree merged, devices closed */
  async unmount(): Promise<void> {
    await this.trans.sync();
    this.trans.stop();
    await this.server.farewell(this.rid);
    await this.server.stop();
    await this.metaDev.close();
    await this.dataDev.close();
  }

  /** stop without committing or saying goodbye: what a crash leaves (for tests) */
  abandon(): void {
    this.trans.stop();
  }
}

