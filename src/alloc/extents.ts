/*
 * Free extent trees: a btree holding each free extent twice, once by
 * start block (to merge neighbours when blocks are freed) and once by
 * size order (to find a large enough extent without a scan).
 *
 *   (FREE_EXTENT_BLKNO zone, first = start)              value: len u64
 *   (FREE_EXTENT_ORDER zone, first = order, second = start) value: len u64
 *
 * where order = floor(log2(len)).  Allocation of n blocks looks for the
 * first extent in the order index at ceil(log2(n)) or above (every such
 * extent is long enough); if there is none it takes an extent of the
 * highest size order present (within 2x of the largest) and returns
 * fewer blocks.  Allocation takes from the start of the extent it picks,
 * so that allocations one after another from one extent (a file written
 * sequentially) ascend on the device and merge into one file extent:
 * taken from the end, they descended (a 1 GiB file written through FUSE
 * was 1024 extents), and a cold sequential read of such a file read the
 * device backwards, against its readahead.  The rest of the extent moves
 * to a record under its new start.
 *
 * Used for the free metadata blocks (server), free data blocks (server),
 * and each mount's data avail and data freed trees.  The btree blocks of
 * a tree come from its writer's MetaAllocator, never from the tree.
 *
 * Invariant: extents never overlap and never touch (touching ones are
 * merged); totalLen is the sum of all lengths.  Freeing a block that is
 * already free is corruption and refused.
 */
import { ZONE } from "../format/constants.js";
import { makeKey, keyFirst, keySecond } from "../format/key.js";
import type { AllocRoot } from "../format/structs.js";
import type { BlockWriter, MetaStore } from "../block/store.js";
import { btreeDelete, btreeNext, btreePrev, btreeSet, btreeWalk } from "../btree/btree.js";
import { CorruptionError } from "../util/errors.js";

const U53 = Number.MAX_SAFE_INTEGER;

export interface Extent {
  start: number;
  len: number;
}

const order = (len: number): number => Math.floor(Math.log2(len));
const blknoKey = (start: number) => makeKey(ZONE.freeExtentBlkno, start);
const orderKey = (ord: number, start: number) => makeKey(ZONE.freeExtentOrder, ord, 0, start);
const lenVal = (len: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(len));
  return b;
};
const valLen = (b: Buffer) => Number(b.readBigUInt64LE(0));

export class ExtentTree {
  constructor(public root: AllocRoot) {}

  get totalLen(): number {
    return this.root.totalLen;
  }

  private async addRecord(w: BlockWriter, start: number, len: number): Promise<void> {
    let r = await btreeSet(w, this.root.root, blknoKey(start), lenVal(len));
    r = await btreeSet(w, r, orderKey(order(len), start), lenVal(len));
    this.root = { root: r, totalLen: this.root.totalLen + len };
  }

  private async delRecord(w: BlockWriter, start: number, len: number): Promise<void> {
    let r = await btreeDelete(w, this.root.root, blknoKey(start));
    r = await btreeDelete(w, r, orderKey(order(len), start));
    this.root = { root: r, totalLen: this.root.totalLen - len };
  }

  /** add [start, start+len) to the free space, merging with neighbours */
  async free(w: BlockWriter, start: number, len: number): Promise<void> {
    if (len <= 0) return;
    const store = w.store;
    let s = start;
    let l = len;
    const prev = start > 0 ? await btreePrev(store, this.root.root, blknoKey(start), blknoKey(0)) : undefined;
    if (prev) {
      const ps = keyFirst(prev.key);
      const pl = valLen(prev.value);
      if (ps + pl > start) throw new CorruptionError(0, `freeing blocks ${start}+${len} that overlap free extent ${ps}+${pl}`);
      if (ps + pl === start) {
        await this.delRecord(w, ps, pl);
        s = ps;
        l += pl;
      }
    }
    const next = await btreeNext(store, this.root.root, blknoKey(start), blknoKey(U53));
    if (next) {
      const ns = keyFirst(next.key);
      const nl = valLen(next.value);
      if (ns < start + len) throw new CorruptionError(0, `freeing blocks ${start}+${len} that overlap free extent ${ns}+${nl}`);
      if (ns === start + len) {
        await this.delRecord(w, ns, nl);
        l += nl;
      }
    }
    await this.addRecord(w, s, l);
  }

  /** allocate up to count blocks, contiguous; undefined when the tree is empty */
  async alloc(w: BlockWriter, count: number): Promise<Extent | undefined> {
    if (count <= 0) throw new RangeError("alloc of no blocks");
    const store = w.store;
    const want = Math.ceil(Math.log2(count));
    let found = await btreeNext(store, this.root.root, orderKey(want, 0), makeKey(ZONE.freeExtentOrder, 64, 0xff, U53));
    if (!found) found = await btreePrev(store, this.root.root, makeKey(ZONE.freeExtentOrder, 64, 0xff, U53), orderKey(0, 0));
    if (!found) return undefined;
    const start = keySecond(found.key);
    const len = valLen(found.value);
    const take = Math.min(count, len);
    // from the start: the extent's rest is a record of its own (see the file comment)
    await this.delRecord(w, start, len);
    if (take < len) await this.addRecord(w, start + take, len - take);
    return { start, len: take };
  }

  /** every extent in block order */
  async list(store: MetaStore): Promise<Extent[]> {
    const out: Extent[] = [];
    await btreeWalk(store, this.root.root, blknoKey(0), blknoKey(U53), (it) => {
      out.push({ start: keyFirst(it.key), len: valLen(it.value) });
      return true;
    });
    return out;
  }
}
