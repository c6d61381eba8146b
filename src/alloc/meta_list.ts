/*
 * Lists of metadata block numbers: the avail and freed lists of a writer.
 *
 * A writer (a mount's transaction, the server's commit) allocates the
 * blocks of its copy-on-write btrees from its avail list and puts every
 * block it stops referencing on its freed list.  Lists are what break the
 * recursion of allocation: allocating from a list changes no btree, so
 * the free extent btrees themselves can be changed copy-on-write.
 *
 * On disk a list is a chain of list blocks:
 *   header | next ref | nr u32 | pad u32 | blkno u64 * nr
 * In memory it is a plain array.  A list is rewritten whole at each
 * commit into blocks taken from the avail list itself, and the blocks
 * that held the old copy go onto the freed list (the committed super
 * still references them until this commit lands).
 *
 * Invariant: a block number is in at most one list or tree at a time;
 * freed blocks are only reused after the commit that stopped referencing
 * them (the server moves them into its free extent tree in a later
 * transaction).
 */
import { BLOCK_LG_SIZE, BLOCK_MAGIC } from "../format/constants.js";
import { ALLOC_LIST_BLOCK_HDR, BLOCK_REF_BYTES, NO_REF, getRef, putRef, type AllocListHead, type BlockRef } from "../format/structs.js";
import { BLOCK_HEADER_BYTES } from "../format/block.js";
import type { BlockCodec, BlockWriter, MetaAllocator, MetaStore } from "../block/store.js";
import { FsError, CorruptionError } from "../util/errors.js";
import { counters } from "../util/counters.js";

export const LIST_BLOCK_ENTRIES = (BLOCK_LG_SIZE - ALLOC_LIST_BLOCK_HDR) / 8;

interface ListBlock {
  next: BlockRef;
  blknos: number[];
}

export const listCodec: BlockCodec<ListBlock> = {
  magic: BLOCK_MAGIC.allocList,
  parse(buf, blkno) {
    const next = getRef(buf, BLOCK_HEADER_BYTES);
    const nr = buf.readUInt32LE(BLOCK_HEADER_BYTES + BLOCK_REF_BYTES);
    if (nr > LIST_BLOCK_ENTRIES) throw new CorruptionError(blkno, `alloc list block holds ${nr} entries`);
    const blknos: number[] = [];
    for (let i = 0; i < nr; i++) blknos.push(Number(buf.readBigUInt64LE(ALLOC_LIST_BLOCK_HDR + i * 8)));
    return { next, blknos };
  },
  serialize(lb, buf) {
    putRef(buf, BLOCK_HEADER_BYTES, lb.next);
    buf.writeUInt32LE(lb.blknos.length, BLOCK_HEADER_BYTES + BLOCK_REF_BYTES);
    lb.blknos.forEach((b, i) => buf.writeBigUInt64LE(BigInt(b), ALLOC_LIST_BLOCK_HDR + i * 8));
  },
};

export class MetaList {
  /** blocks that hold the committed copy of this list */
  storage: number[] = [];
  constructor(public blknos: number[] = []) {}

  get length(): number {
    return this.blknos.length;
  }

  static async load(store: MetaStore, head: AllocListHead): Promise<MetaList> {
    const list = new MetaList();
    let ref = head.ref;
    let guard = 0;
    while (ref.blkno !== 0) {
      const lb = await store.read(ref, listCodec);
      list.storage.push(ref.blkno);
      list.blknos.push(...lb.blknos);
      ref = lb.next;
      if (++guard > 1_000_000) throw new CorruptionError(ref.blkno, "alloc list chain loops");
    }
    if (list.blknos.length !== head.count) {
      throw new CorruptionError(head.ref.blkno, `alloc list holds ${list.blknos.length} blocks, head says ${head.count}`);
    }
    return list;
  }

}

/** A MetaAllocator over an avail and a freed list. */
export class ListAllocator implements MetaAllocator {
  constructor(
    public avail: MetaList,
    public freed: MetaList,
    /** asked for more blocks when avail runs dry; may throw ENOSPC */
    private readonly refill?: (want: number) => Promise<number[]>,
  ) {}

  async alloc(): Promise<number> {
    if (this.avail.length === 0) {
      if (this.refill) this.avail.blknos.push(...(await this.refill(64)));
      if (this.avail.length === 0) throw new FsError("ENOSPC", "no free metadata blocks");
      counters.inc("alloc_meta_refill");
    }
    counters.inc("alloc_meta_alloc");
    return this.avail.blknos.pop()!;
  }

  free(blkno: number): void {
    counters.inc("alloc_meta_free");
    this.freed.blknos.push(blkno);
  }

  unalloc(blkno: number): void {
    counters.inc("alloc_meta_unalloc");
    this.avail.blknos.push(blkno);
  }

  /**
   * Write both lists into blocks taken from avail, as the last step of a
   * commit (nothing may allocate or free after this), returning the heads
   * to record.
   */
  async saveLists(w: BlockWriter): Promise<{ avail: AllocListHead; freed: AllocListHead }> {
    const { avail, freed } = this;
    freed.blknos.push(...avail.storage, ...freed.storage);
    avail.storage = [];
    freed.storage = [];
    const take = async (n: number): Promise<number[]> => {
      if (avail.length < n && this.refill) avail.blknos.push(...(await this.refill(n - avail.length + 2)));
      if (avail.length < n) throw new FsError("ENOSPC", "no free metadata blocks to store allocator lists");
      return avail.blknos.splice(avail.length - n, n);
    };
    freed.storage = await take(Math.ceil(freed.length / LIST_BLOCK_ENTRIES));
    let n = 0;
    while (n * LIST_BLOCK_ENTRIES < avail.length - n) n++;
    avail.storage = await take(n);
    return { avail: writeList(w, avail), freed: writeList(w, freed) };
  }
}

function writeList(w: BlockWriter, list: MetaList): AllocListHead {
  let next: BlockRef = NO_REF;
  for (let i = list.storage.length - 1; i >= 0; i--) {
    const blknos = list.blknos.slice(i * LIST_BLOCK_ENTRIES, (i + 1) * LIST_BLOCK_ENTRIES);
    next = w.createAt(list.storage[i]!, { next, blknos }, listCodec);
  }
  return { ref: next, count: list.length };
}
