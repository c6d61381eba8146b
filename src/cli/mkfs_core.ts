/*
 * Writing a new filesystem onto two devices.
 *
 * Everything mkfs writes is built with the same copy-on-write btree and
 * allocator code the server uses, from a list allocator seeded with a
 * small reserved run of metadata blocks: the free extent trees (all of
 * the metadata device after the reserve, all of the data device after
 * its header), the fs root holding the root directory, the quorum
 * blocks, and last the super blocks.  What is left of the reserve
 * becomes the server's avail list.  The super block copies are zeroed
 * first and written after everything else is synced, so an interrupted
 * mkfs leaves no valid super block behind.
 */
import { randomBytes } from "node:crypto";
import {
  BLOCK_LG_SIZE, BLOCK_MAGIC, BLOCK_SM_SIZE, DATA_BLOCK_SIZE, DATA_FIRST_BLKNO, FORMAT_VERSION_MAX,
  META_FIRST_LG_BLKNO, QUORUM_MAX_SLOTS, QUORUM_SM_BLKNO, ROOT_INO, SUPER_SM_BLKNOS,
} from "../format/constants.js";
import { sealBlock } from "../format/block.js";
import {
  EMPTY_ALLOC_ROOT, EMPTY_ROOT, encodeQuorumBlock, type QuorumSlot, type SuperBlock,
} from "../format/structs.js";
import type { BlockDevice } from "../block/device.js";
import { BlockWriter, MetaStore } from "../block/store.js";
import { writeDataSuper, writeSuper } from "../block/super.js";
import { btreeSet } from "../btree/btree.js";
import { ExtentTree } from "../alloc/extents.js";
import { ListAllocator, MetaList } from "../alloc/meta_list.js";
import { makeRootInodeItems } from "../fs/index.js";
import { FsError } from "../util/errors.js";

/** metadata blocks set aside for what mkfs writes; the rest seeds the server's avail list */
export const MKFS_RESERVED_META_BLOCKS = 64;

export interface MkfsParams {
  meta: BlockDevice;
  data: BlockDevice;
  quorumSlots: QuorumSlot[];
  formatVersion?: number;
  dataAllocZoneBlocks?: number;
  fsid?: bigint;
  /** wall time for the root inode */
  now?: { sec: number; nsec: number };
}

export async function writeNewFilesystem(p: MkfsParams): Promise<SuperBlock> {
  const totalMeta = Math.floor(p.meta.sizeBytes() / BLOCK_LG_SIZE);
  const totalData = Math.floor(p.data.sizeBytes() / DATA_BLOCK_SIZE);
  const firstFreeMeta = META_FIRST_LG_BLKNO + MKFS_RESERVED_META_BLOCKS;
  if (totalMeta <= firstFreeMeta + 16) throw new FsError("ENOSPC", `metadata device too small: ${totalMeta} 64KB blocks`);
  if (totalData <= DATA_FIRST_BLKNO + 16) throw new FsError("ENOSPC", `data device too small: ${totalData} 4KB blocks`);
  const fsid = p.fsid ?? (randomBytes(8).readBigUInt64LE(0) | 1n);

  // no valid super block may survive from before while the new trees are written
  const zero = Buffer.alloc(BLOCK_SM_SIZE);
  for (const b of SUPER_SM_BLKNOS) await p.meta.write(b * BLOCK_SM_SIZE, zero);
  await p.meta.sync();

  const store = new MetaStore(p.meta, fsid);
  const reserve: number[] = [];
  for (let b = firstFreeMeta - 1; b >= META_FIRST_LG_BLKNO; b--) reserve.push(b); // pop() yields low blocks first
  const lists = new ListAllocator(new MetaList(reserve), new MetaList());
  const seq = 1;
  const w = new BlockWriter(store, lists, seq);

  const metaAlloc = new ExtentTree({ ...EMPTY_ALLOC_ROOT });
  await metaAlloc.free(w, firstFreeMeta, totalMeta - firstFreeMeta);
  const dataAlloc = new ExtentTree({ ...EMPTY_ALLOC_ROOT });
  await dataAlloc.free(w, DATA_FIRST_BLKNO, totalData - DATA_FIRST_BLKNO);
  let fsRoot = { ...EMPTY_ROOT };
  for (const it of makeRootInodeItems(p.now ?? wallNow(), seq)) fsRoot = await btreeSet(w, fsRoot, it.key, it.value, seq, 0);
  const heads = await lists.saveLists(w);
  await w.writeAll();

  for (let slot = 0; slot < QUORUM_MAX_SLOTS; slot++) {
    const buf = Buffer.alloc(BLOCK_SM_SIZE);
    encodeQuorumBlock({ term: 0, voteTerm: 0, leaderTerm: 0, fencedTerm: 0 }, buf);
    sealBlock(buf, BLOCK_MAGIC.quorum, fsid, QUORUM_SM_BLKNO + slot, 0);
    await p.meta.write((QUORUM_SM_BLKNO + slot) * BLOCK_SM_SIZE, buf);
  }
  await p.meta.sync();

  const sb: SuperBlock = {
    formatVersion: p.formatVersion ?? FORMAT_VERSION_MAX,
    fsid,
    seq,
    nextSeq: seq + 1,
    nextIno: ROOT_INO + 1,
    totalMetaBlocks: totalMeta,
    totalDataBlocks: totalData,
    firstMetaBlkno: META_FIRST_LG_BLKNO,
    firstDataBlkno: DATA_FIRST_BLKNO,
    flags: 0,
    dataAllocZoneBlocks: p.dataAllocZoneBlocks ?? 0,
    quorumSlots: p.quorumSlots,
    fsRoot,
    logsRoot: { ...EMPTY_ROOT },
    mountedClients: { ...EMPTY_ROOT },
    srchRoot: { ...EMPTY_ROOT },
    metaAlloc: metaAlloc.root,
    dataAlloc: dataAlloc.root,
    serverMetaAvail: heads.avail,
    serverMetaFreed: heads.freed,
    committedSeq: seq,
    nextLogTreesNr: 1,
  };
  await writeDataSuper(p.data, sb);
  await p.data.sync();
  await writeSuper(p.meta, sb, 0);
  await p.meta.sync();
  return sb;
}

function wallNow(): { sec: number; nsec: number } {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}
