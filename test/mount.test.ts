import { test } from "node:test";
import assert from "node:assert/strict";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { counters } from "../src/util/counters.js";
import { inodeIndexSeqFirst, inodeIndexSeqLast, inodeIndexKey } from "../src/format/fs_items.js";
import { INODE_INDEX_TYPE } from "../src/format/constants.js";
import { RealClock } from "../src/util/clock.js";
import { listExtents } from "../src/fs/extents.js";
import { DATA_BLOCK_SIZE } from "../src/format/constants.js";

test("a mount keeps files across commit, unmount and remount, and merges its log tree", async () => {
  const d = await simMkfs();
  let m = await simMount(d);
  const a = await m.fs.create(1, "a", 0o100644, 0, 0);
  await m.fs.write(a.ino, 0, Buffer.from("hello world"));
  const dir = await m.fs.mkdir(1, "d", 0o40755, 0, 0);
  for (let i = 0; i < 300; i++) await m.fs.create(dir.ino, `f${i}`, 0o100644, 0, 0);
  await m.sync();
  await m.fs.unlink(dir.ino, "f7");
  await m.unmount();
  assert.ok(counters.get("server_merge_done") >= 1);

  m = await simMount(d);
  const got = await m.fs.lookup(1, "a");
  assert.equal((await m.fs.read(got.ino, 0, 100)).toString(), "hello world");
  const ents = [];
  let pos = 0;
  for (;;) {
    const batch = await m.fs.readdir(dir.ino, pos, 100);
    if (batch.length === 0) break;
    ents.push(...batch);
    pos = batch[batch.length - 1]!.nextPos;
  }
  const names = ents.map((e) => e.name.toString()).filter((n) => n !== "." && n !== "..");
  assert.equal(names.length, 299);
  assert.ok(!names.includes("f7"));
  await m.unmount();
});

test("items written by a mount that never unmounted are recovered at the next mount", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const f = await m.fs.create(1, "kept", 0o100644, 0, 0);
  await m.fs.write(f.ino, 0, Buffer.alloc(10000, 7));
  await m.sync();
  await m.fs.create(1, "lost", 0o100644, 0, 0);
  m.abandon();
  const m2 = await simMount(d);
  const k = await m2.fs.lookup(1, "kept");
  assert.equal(k.size, 10000);
  assert.ok((await m2.fs.read(k.ino, 0, 10000)).equals(Buffer.alloc(10000, 7)));
  await m2.unmount();
});

test("an unlinked file still open at a crash is deleted, with its data, at the next mount", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const f = await m.fs.create(1, "doomed", 0o100644, 0, 0);
  await m.fs.open(f.ino);
  await m.fs.write(f.ino, 0, Buffer.alloc(4 << 20, 5));
  await m.sync();
  const freeWithFile = (await m.fs.statfs()).bfree;
  await m.fs.unlink(1, "doomed");
  assert.equal((await m.fs.read(f.ino, 0, 10)).length, 10, "still readable while open");
  await m.sync();
  m.abandon();

  const m2 = await simMount(d);
  await assert.rejects(m2.fs.getattr(f.ino), (e: unknown) => (e as { errno?: string }).errno === "ENOENT");
  await m2.sync();
  await m2.unmount();
  const m3 = await simMount(d);
  const free = (await m3.fs.statfs()).bfree;
  assert.ok(free >= freeWithFile + 1000, `data blocks came back: ${free} free now, ${freeWithFile} with the file`);
  await m3.unmount();
});

test("writes to many files at once never share data blocks", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const files = [];
  for (let i = 0; i < 16; i++) files.push(await m.fs.create(1, `c${i}`, 0o100644, 0, 0));
  await m.sync();
  // every write allocates (new blocks, then COW of committed ones), all in flight together
  for (let round = 0; round < 3; round++) {
    await Promise.all(files.map((f, i) => m.fs.write(f.ino, 0, Buffer.alloc(3 * 4096 + 100, i * 3 + round + 1))));
    if (round === 1) await m.sync();
  }
  for (const [i, f] of files.entries()) {
    assert.ok((await m.fs.read(f.ino, 0, 3 * 4096 + 100)).equals(Buffer.alloc(3 * 4096 + 100, i * 3 + 3)), `file ${i}`);
  }
  await m.unmount();
});

test("a commit that frees 1000 adjacent data extents joins them into one free and needs no metadata from the server", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const dir = await m.fs.mkdir(1, "d", 0o40755, 0, 0);
  const inos: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const f = await m.fs.create(dir.ino, `f${i}`, 0o100644, 0, 0);
    await m.fs.write(f.ino, 0, Buffer.alloc(5000, i & 0xff));
    inos.push(f.ino);
  }
  await m.sync();
  const metaFreeBefore = (await m.server.statfs()).freeMetaBlocks;
  const dataFreeBefore = (await m.server.statfs()).freeDataBlocks;
  const lentBefore = counters.get("server_lent_meta_blocks");
  const runsBefore = counters.get("data_free_runs");
  // the files' blocks are adjacent: the 1000 queued frees reach the freed tree as one extent
  for (const ino of inos) await m.fs.setattr(ino, { size: 0 });
  await m.sync();
  assert.equal(counters.get("data_free_runs") - runsBefore, 1, "adjacent frees joined");
  assert.equal(counters.get("server_lent_meta_blocks"), lentBefore, "the commit fits the mount's own avail list");
  const metaFreeAfter = (await m.server.statfs()).freeMetaBlocks;
  assert.ok(metaFreeBefore - metaFreeAfter < 64, `metadata used by the commit: ${metaFreeBefore - metaFreeAfter} blocks`);
  // every block came back: the server reclaims the freed tree after the commit
  await m.sync();
  assert.equal((await m.server.statfs()).freeDataBlocks - dataFreeBefore, 2000, "2 blocks of each file freed");
  // and they are allocatable again, with no free block handed out twice
  const f = await m.fs.create(dir.ino, "again", 0o100644, 0, 0);
  await m.fs.write(f.ino, 0, Buffer.alloc(2000 * 4096, 7));
  await m.sync();
  assert.ok((await m.fs.read(f.ino, 2000 * 4096 - 10, 10)).equals(Buffer.alloc(10, 7)));
  await m.unmount();
});

test("the index items of the open transaction are known absent until written: no forest read, and commits add no cached range for each", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const dir = await m.fs.mkdir(1, "d", 0o40755, 0, 0);
  const made: number[] = [];
  const rangesAfterCommit: number[] = [];
  for (let c = 0; c < 8; c++) {
    // new inodes, and changes to older ones: each moves index items to the open transaction's seq
    for (let i = 0; i < 40; i++) made.push((await m.fs.create(dir.ino, `c${c}-${i}`, 0o100644, 0, 0)).ino);
    for (const ino of made.slice(0, 40)) await m.fs.setattr(ino, { mode: 0o600 });
    await m.sync();
    rangesAfterCommit.push(m.cache.cachedRanges());
  }
  // each commit wrote 80 or more index items outside the ranges of inodes and directories;
  // only the seq ranges (one per transaction) may be added for them
  assert.ok(rangesAfterCommit[7]! - rangesAfterCommit[0]! <= 7 + 2, `cached ranges grew ${rangesAfterCommit.join(" ")}`);

  // the open transaction: its index items are read from the cache alone
  const seq = m.trans.seq;
  const ino = (await m.fs.create(dir.ino, "last", 0o100644, 0, 0)).ino;
  await m.fs.settled();
  const populates = counters.get("item_populate");
  const first = await m.cache.next(inodeIndexSeqFirst(seq), inodeIndexSeqLast(seq));
  assert.ok(first?.key.equals(inodeIndexKey(INODE_INDEX_TYPE.metaSeq, seq, dir.ino)), "the directory's index item comes first");
  assert.equal(await m.cache.lookup(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, seq, ino)) !== undefined, true);
  assert.equal(await m.cache.lookup(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, seq, ino + 1)), undefined);
  assert.equal(counters.get("item_populate"), populates, "nothing read from the forest");
  await m.unmount();
});

test("each commit adds the time of its phases to the commit_ms counters", async () => {
  // a clock that moves 1 ms each time it is read: each phase of a commit then takes exactly 1 ms
  class SteppingClock extends RealClock {
    private t = 0;
    override nowMs(): number {
      return ++this.t;
    }
  }
  const phases = ["items", "write", "sync", "server", "clean"];
  const d = await simMkfs();
  const m = await simMount(d, { clock: new SteppingClock() });
  const before = phases.map((p) => counters.get(`commit_ms_${p}`));
  const commitsBefore = counters.get("trans_commit");
  for (let i = 0; i < 20; i++) await m.fs.create(1, `f${i}`, 0o100644, 0, 0);
  await m.sync();
  await m.fs.mkdir(1, "d", 0o40755, 0, 0);
  await m.sync();
  const commits = counters.get("trans_commit") - commitsBefore;
  assert.ok(commits >= 2);
  assert.deepEqual(phases.map((p, i) => counters.get(`commit_ms_${p}`) - before[i]!), phases.map(() => commits));
  await m.unmount();
});

test("1 MiB writes one after another take ascending data blocks: one extent, read forward on the device", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const f = await m.fs.create(1, "seq", 0o100644, 0, 0);
  const MiB = 1 << 20;
  const chunk = (i: number) => Buffer.alloc(MiB, i + 1);
  for (let i = 0; i < 8; i++) await m.fs.write(f.ino, i * MiB, chunk(i));
  // each write allocates its own 256 blocks from the mount's free extents; taken from the end of an extent they
  // descended on the device, never merged, and a cold sequential read went backwards
  const exts = await listExtents(m.fs.ctx, f.ino);
  assert.deepEqual(exts.map((e) => [e.start, e.len]), [[0, (8 * MiB) / DATA_BLOCK_SIZE]]);
  for (let i = 0; i < 8; i++) assert.ok((await m.fs.read(f.ino, i * MiB, MiB)).equals(chunk(i)), `chunk ${i}`);
  await m.unmount();
});
