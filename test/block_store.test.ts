/*
 * MetaStore's block cache: bounded by bytes, evicting in about
 * least-recently-used order (a hit gives its block a second chance over
 * blocks nobody asked for since), never evicting a pinned block.  A
 * block that is no longer cached is read from the device again, which
 * here holds only zeros, so a read of it fails: that is how these tests
 * see what was evicted.  Commits serialize into run buffers the store
 * keeps: a later commit's blocks must hold nothing of an earlier one's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemBlockDevice } from "../src/block/sim_device.js";
import { BlockWriter, MetaStore, type BlockCodec } from "../src/block/store.js";
import { BLOCK_HEADER_BYTES } from "../src/format/constants.js";
import { verifyBlock } from "../src/format/block.js";
import { BLOCK_LG_SIZE } from "../src/format/constants.js";
import { CorruptionError } from "../src/util/errors.js";

const codec: BlockCodec<{ n: number }> = {
  magic: 0x51ce,
  parse: () => ({ n: -1 }),
  serialize: () => {},
};
const SEQ = 7;
const ref = (blkno: number) => ({ blkno, seq: SEQ });

function storeOf(blocks: number) {
  const dev = new MemBlockDevice("meta", 64 * BLOCK_LG_SIZE);
  return new MetaStore(dev, 1n, blocks * BLOCK_LG_SIZE);
}

async function cached(store: MetaStore, blkno: number): Promise<boolean> {
  try {
    const o = await store.read(ref(blkno), codec);
    assert.equal(o.n, blkno);
    return true;
  } catch (e) {
    if (e instanceof CorruptionError) return false;
    throw e;
  }
}

test("the cache stays within its bound, evicting the oldest blocks first", async () => {
  const store = storeOf(10);
  for (let b = 0; b < 20; b++) {
    store.insertObj(b, SEQ, { n: b }, codec);
    assert.ok(store.cachedBytes() <= 10 * BLOCK_LG_SIZE, `bytes after block ${b}`);
  }
  assert.equal(await cached(store, 0), false);
  assert.equal(await cached(store, 19), true);
  assert.equal(await cached(store, 18), true);
});

test("a block hit since the last eviction outlives older blocks that were not", async () => {
  const store = storeOf(10);
  for (let b = 0; b < 11; b++) store.insertObj(b, SEQ, { n: b }, codec); // the 11th evicts 0 and 1
  assert.equal(store.cachedBlocks(), 9);
  // 2..10 are unmarked now; hit 2 and 3, the oldest
  assert.equal(await cached(store, 2), true);
  assert.equal(await cached(store, 3), true);
  store.insertObj(11, SEQ, { n: 11 }, codec);
  store.insertObj(12, SEQ, { n: 12 }, codec); // over the bound again: two go
  assert.equal(store.cachedBlocks(), 9);
  // with plain insertion order 2 and 3 would have gone; the hits moved them behind 4 and 5
  assert.deepEqual(
    await Promise.all([2, 3, 4, 5, 6].map((b) => cached(store, b))),
    [true, true, false, false, true],
  );
});

test("pinned blocks are never evicted; eviction frees what it can around them", async () => {
  const store = storeOf(4);
  for (let b = 0; b < 4; b++) {
    store.insertObj(b, SEQ, { n: b }, codec);
    store.pin(b);
  }
  // the pinned blocks fill the cache: each new block goes again at once
  for (let b = 4; b < 8; b++) store.insertObj(b, SEQ, { n: b }, codec);
  assert.equal(store.cachedBlocks(), 4);
  for (let b = 0; b < 4; b++) assert.equal(await cached(store, b), true, `pinned block ${b}`);
  assert.equal(await cached(store, 7), false);
  // unpinned, block 0 can go (though just hit) to bring the cache back under its bound
  store.unpin(0);
  store.insertObj(8, SEQ, { n: 8 }, codec);
  assert.equal(await cached(store, 0), false);
  assert.equal(store.cachedBlocks(), 3);
  assert.equal(store.cachedBytes(), 3 * BLOCK_LG_SIZE);
});

test("a commit's blocks hold only what it serialized, though its run buffers held an earlier commit's", async () => {
  const dev = new MemBlockDevice("meta", 64 * BLOCK_LG_SIZE);
  const store = new MetaStore(dev, 1n);
  /** fills the first `len` payload bytes with `fill` */
  const bytesCodec: BlockCodec<{ len: number; fill: number }> = {
    magic: 0xb10c,
    parse: () => ({ len: -1, fill: -1 }),
    serialize: (o, block) => void block.fill(o.fill, BLOCK_HEADER_BYTES, BLOCK_HEADER_BYTES + o.len),
  };
  let next = 0;
  const alloc = { alloc: async () => next++, free: () => {} };
  const commit = async (seq: number, len: number, fill: number, blocks: number) => {
    const w = new BlockWriter(store, alloc, seq);
    for (let i = 0; i < blocks; i++) await w.create({ len, fill }, bytesCodec);
    await w.writeAll();
  };
  await commit(1, BLOCK_LG_SIZE - BLOCK_HEADER_BYTES, 0xee, 8); // blocks 0-7, full of 0xee
  next = 0;
  await commit(2, 100, 0x11, 3); // blocks 0-2 again, 100 bytes each, written from the reused buffer
  for (let b = 0; b < 3; b++) {
    const raw = await dev.read(b * BLOCK_LG_SIZE, BLOCK_LG_SIZE);
    assert.equal(verifyBlock(raw, { magic: 0xb10c, fsid: 1n, blkno: b, seq: 2 }), undefined, `block ${b} verifies`);
    const payload = raw.subarray(BLOCK_HEADER_BYTES);
    assert.ok(payload.subarray(0, 100).every((x) => x === 0x11), `block ${b} holds its bytes`);
    assert.ok(payload.subarray(100).every((x) => x === 0), `block ${b} is zero after them`);
  }
});
