/*
 * The archive operations of the fs layer, in process: release, stage,
 * punch-offline, setattr-more, move-blocks, fiemap, and operations that
 * wait for offline blocks (listed, failed, interrupted, woken by staging),
 * with block counts, data_version and times checked after each, and a
 * property test of release/stage/punch/write against a model of the
 * file's bytes and block states.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ROOT, assertConsistent, expectErrno, newFs, type TestFs } from "./support/fs_harness.js";
import { DATA_BLOCK_SIZE as BS } from "../src/format/constants.js";
import { EXTENT_FLAG } from "../src/format/fs_items.js";
import { DATA_WAIT_OP, DataWaiters, FAILED_MARK_MS } from "../src/fs/data_waiting.js";
import type { Extent } from "../src/fs/extents.js";

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7 + (i >> 12) * 3) & 0xff;
  return b;
}

async function fileWith(t: TestFs, name: string, data: Buffer): Promise<number> {
  const a = await t.fs.create(ROOT, name, 0o644, 0, 0);
  if (data.length > 0) assert.equal(await t.fs.write(a.ino, 0, data), data.length);
  return a.ino;
}

/** "(logical phys len)" per extent, phys 0 when offline */
function extentsText(exts: Extent[]): string {
  return exts.map((e) => `(${e.start} ${e.blkno} ${e.len}${e.flags & EXTENT_FLAG.unwritten ? " U" : ""})`).join(" ");
}

/** let queued promise callbacks run, so waiters reach their wait */
const settle = () => new Promise<void>((r) => setImmediate(r));

test("release frees blocks and leaves offline extents; stage brings the same bytes back without changing the inode", async () => {
  const t = newFs();
  const data = pattern(10 * BS + 100, 1);
  const ino = await fileWith(t, "f", data);
  await t.fs.fsync(ino);
  const before = await t.fs.getattr(ino);
  assert.equal(before.onlineBlocks, 11);
  const freeBefore = t.st.data.freeBlocks();

  await t.fs.releaseBlocks(ino, 0, 11 * BS, before.dataVersion);
  const rel = await t.fs.getattr(ino);
  assert.equal(rel.onlineBlocks, 0);
  assert.equal(rel.offlineBlocks, 11);
  assert.equal(rel.blocks, 0);
  assert.equal(rel.size, before.size);
  assert.equal(rel.dataVersion, before.dataVersion);
  assert.deepEqual(rel.mtime, before.mtime);
  assert.deepEqual(rel.ctime, before.ctime);
  assert.equal(rel.dataSeq, before.dataSeq, "release does not move data_seq");
  assert.deepEqual(await t.fs.fiemap(ino), [{ start: 0, len: 11, blkno: 0, flags: EXTENT_FLAG.offline }]);
  await t.fs.fsync(ino);
  assert.equal(t.st.data.freeBlocks(), freeBefore + 11, "released blocks are free after the commit");
  await assertConsistent(t);

  // staged in two parts: the second ends at the size, not on a block boundary
  assert.equal(await t.fs.stage(ino, 0, data.subarray(0, 4 * BS), before.dataVersion), 4 * BS);
  assert.equal((await t.fs.getattr(ino)).offlineBlocks, 7);
  assert.equal(await t.fs.stage(ino, 4 * BS, data.subarray(4 * BS), before.dataVersion), data.length - 4 * BS);
  const st = await t.fs.getattr(ino);
  assert.equal(st.onlineBlocks, 11);
  assert.equal(st.offlineBlocks, 0);
  assert.equal(st.dataVersion, before.dataVersion);
  assert.deepEqual(st.mtime, before.mtime);
  assert.deepEqual(st.ctime, before.ctime);
  assert.equal(st.dataSeq, before.dataSeq);
  assert.deepEqual(await t.fs.read(ino, 0, data.length + 10), data);
  await assertConsistent(t);
});

test("release: ranges past the size, holes, offline blocks, and the errors of the original", async () => {
  const t = newFs();
  const ino = await fileWith(t, "f", pattern(2 * BS, 2));
  const v = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, BS, BS, v);
  await t.fs.releaseBlocks(ino, BS, BS, v); // already offline: fine
  await t.fs.releaseBlocks(ino, 100 * BS, 4 * BS, v); // past the size: nothing there
  assert.deepEqual(await t.fs.fiemap(ino), [
    { start: 0, len: 1, blkno: 100, flags: 0 },
    { start: 1, len: 1, blkno: 0, flags: EXTENT_FLAG.offline },
  ]);
  await expectErrno(t.fs.releaseBlocks(ino, 0, BS, v + 1), "ESTALE");
  await expectErrno(t.fs.releaseBlocks(ino, 100, BS, v), "EINVAL");
  await expectErrno(t.fs.releaseBlocks(ino, 0, 100, v), "EINVAL");
  const dir = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await expectErrno(t.fs.releaseBlocks(dir.ino, 0, BS, 0), "EINVAL");

  // a sparse file: holes stay holes
  const sparse = await t.fs.create(ROOT, "s", 0o644, 0, 0);
  await t.fs.write(sparse.ino, 3 * BS, Buffer.from("x"));
  const sv = (await t.fs.getattr(sparse.ino)).dataVersion;
  await t.fs.releaseBlocks(sparse.ino, 0, 8 * BS, sv);
  assert.deepEqual(await t.fs.fiemap(sparse.ino), [{ start: 3, len: 1, blkno: 0, flags: EXTENT_FLAG.offline }]);
  await assertConsistent(t);
});

test("a fully released file loses the extents past its size", async () => {
  const t = newFs();
  const ino = await fileWith(t, "f", pattern(BS, 3));
  await t.fs.fallocate(ino, 1 /* KEEP_SIZE */, 4 * BS, 2 * BS);
  const a = await t.fs.getattr(ino);
  assert.equal(a.onlineBlocks, 3);
  // release only the block inside the size: the unwritten ones past it still count as online
  await t.fs.releaseBlocks(ino, 0, BS, a.dataVersion);
  assert.equal((await t.fs.getattr(ino)).onlineBlocks, 2);
  // releasing them too leaves nothing online, so nothing past the size stays
  await t.fs.releaseBlocks(ino, 4 * BS, 2 * BS, a.dataVersion);
  const b = await t.fs.getattr(ino);
  assert.equal(b.onlineBlocks, 0);
  assert.equal(b.offlineBlocks, 1);
  assert.deepEqual(await t.fs.fiemap(ino), [{ start: 0, len: 1, blkno: 0, flags: EXTENT_FLAG.offline }]);
  await assertConsistent(t);
});

test("every combination of three one-block releases in a five-block file merges offline extents", async () => {
  for (let a = 0; a < 5; a++) {
    for (let b = 0; b < 5; b++) {
      for (let c = 0; c < 5; c++) {
        const t = newFs();
        const ino = await fileWith(t, "f", pattern(5 * BS, a + b + c));
        await t.fs.fsync(ino);
        const v = (await t.fs.getattr(ino)).dataVersion;
        const offline = new Set<number>();
        for (const blk of [a, b, c]) {
          await t.fs.releaseBlocks(ino, blk * BS, BS, v);
          offline.add(blk);
        }
        // the model: runs of blocks in one state; online blocks keep their place (100 + block)
        const want: Extent[] = [];
        for (let i = 0; i < 5; i++) {
          const off = offline.has(i);
          const last = want[want.length - 1];
          if (last && (last.flags === EXTENT_FLAG.offline) === off) last.len++;
          else want.push({ start: i, len: 1, blkno: off ? 0 : 100 + i, flags: off ? EXTENT_FLAG.offline : 0 });
        }
        assert.equal(extentsText(await t.fs.fiemap(ino)), extentsText(want), `releasing ${a} ${b} ${c}`);
        const st = await t.fs.getattr(ino);
        assert.equal(st.offlineBlocks, offline.size);
        assert.equal(st.onlineBlocks, 5 - offline.size);
        await assertConsistent(t);
      }
    }
  }
});

test("stage: the original's argument rules", async () => {
  const t = newFs();
  const data = pattern(3 * BS + 10, 4);
  const ino = await fileWith(t, "f", data);
  const v = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, 0, 4 * BS, v);
  await expectErrno(t.fs.stage(ino, 10, data.subarray(10, BS), v), "EINVAL"); // offset not on a block
  await expectErrno(t.fs.stage(ino, 0, Buffer.alloc(4 * BS), v), "EINVAL"); // past the size
  await expectErrno(t.fs.stage(ino, 0, data.subarray(0, 100), v), "EINVAL"); // ends inside a block, not at the size
  await expectErrno(t.fs.stage(ino, 0, data.subarray(0, BS), v + 1), "ESTALE");
  const dir = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await expectErrno(t.fs.stage(dir.ino, 0, Buffer.alloc(0), 0), "EINVAL");
  assert.equal(await t.fs.stage(ino, 0, Buffer.alloc(0), v), 0);
  // staging over online blocks overwrites them (still no inode change)
  await t.fs.stage(ino, 0, data, v);
  await t.fs.stage(ino, BS, Buffer.alloc(BS, 7), v);
  const want = Buffer.from(data);
  want.fill(7, BS, 2 * BS);
  assert.deepEqual(await t.fs.read(ino, 0, data.length), want);
  assert.equal((await t.fs.getattr(ino)).dataVersion, v);
  await assertConsistent(t);
});

test("reads wait for offline blocks: listed once per block, woken by staging, failed by data-wait-err, interrupted", async () => {
  const t = newFs();
  const data = pattern(8 * BS, 5);
  const ino = await fileWith(t, "f", data);
  const v = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, 0, 8 * BS, v);

  let done1 = false;
  const r1 = t.fs.read(ino, 0, 8 * BS).then((b) => {
    done1 = true;
    return b;
  });
  const r2 = t.fs.read(ino, 0, BS);
  const r3 = t.fs.read(ino, 2 * BS + 5, 10);
  await settle();
  assert.deepEqual(t.fs.waiters.list(0, 0, 16), [
    { ino, iblock: 0, op: DATA_WAIT_OP.read },
    { ino, iblock: 2, op: DATA_WAIT_OP.read },
  ]);
  assert.deepEqual(t.fs.waiters.list(ino, 0, 16), [{ ino, iblock: 2, op: DATA_WAIT_OP.read }], "listing starts after the position given");
  assert.deepEqual(t.fs.waiters.list(0, 0, 1), [{ ino, iblock: 0, op: DATA_WAIT_OP.read }]);

  // staging the first block wakes everyone: r2 completes, r1 waits again at block 1
  await t.fs.stage(ino, 0, data.subarray(0, BS), v);
  assert.deepEqual(await r2, data.subarray(0, BS));
  await settle();
  assert.equal(done1, false);
  assert.deepEqual(t.fs.waiters.list(0, 0, 16), [
    { ino, iblock: 1, op: DATA_WAIT_OP.read },
    { ino, iblock: 2, op: DATA_WAIT_OP.read },
  ]);

  // fail the waiters of block 2 with EIO (read only): r3 fails, r1 is unaffected
  assert.equal(t.fs.waiters.fail(ino, 2, 2, DATA_WAIT_OP.write, "EIO"), 0, "the op must match");
  assert.equal(t.fs.waiters.fail(ino, 2, 2, DATA_WAIT_OP.read, "EIO"), 1);
  await expectErrno(r3, "EIO");

  // an aborted wait ends with EINTR and leaves the registry
  const ac = new AbortController();
  const r4 = t.fs.read(ino, 5 * BS, BS, { signal: ac.signal });
  await settle();
  assert.equal(t.fs.waiters.size, 2);
  ac.abort();
  await expectErrno(r4, "EINTR");
  assert.equal(t.fs.waiters.size, 1);

  await t.fs.stage(ino, BS, data.subarray(BS), v);
  assert.deepEqual(await r1, data);
  assert.equal(t.fs.waiters.size, 0);
  await assertConsistent(t);
});

test("a task whose wait was failed gets the errno at once on its retry (the kernel re-reads a failed page); other tasks wait", async () => {
  let now = 1000;
  const t = newFs();
  const waiters = new DataWaiters(() => now);
  const data = pattern(2 * BS, 9);
  const ino = await fileWith(t, "f", data);
  const v = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, 0, 2 * BS, v);
  // the registry's own rules, with a clock: a mark is per pid, block and op, used once, and expires
  const w = waiters.add(ino, 0, DATA_WAIT_OP.read, 42);
  const failed = waiters.wait(w);
  assert.equal(waiters.fail(ino, 0, 0, DATA_WAIT_OP.read, "EIO"), 1);
  await expectErrno(failed, "EIO");
  assert.equal(waiters.takeFailure(ino, 0, DATA_WAIT_OP.read, 43), undefined, "another task");
  assert.equal(waiters.takeFailure(ino, 1, DATA_WAIT_OP.read, 42), undefined, "another block");
  assert.equal(waiters.takeFailure(ino, 0, DATA_WAIT_OP.write, 42), undefined, "another op");
  assert.equal(waiters.takeFailure(ino, 0, DATA_WAIT_OP.read, 42), "EIO");
  assert.equal(waiters.takeFailure(ino, 0, DATA_WAIT_OP.read, 42), undefined, "used once");
  const w2 = waiters.add(ino, 0, DATA_WAIT_OP.read, 42);
  const failed2 = waiters.wait(w2);
  waiters.fail(ino, 0, 0, DATA_WAIT_OP.read, "EIO");
  await expectErrno(failed2, "EIO");
  now += FAILED_MARK_MS;
  assert.equal(waiters.takeFailure(ino, 0, DATA_WAIT_OP.read, 42), undefined, "expired");

  // through the filesystem: pid 7's read is failed, its retry fails at once, pid 8's read still waits
  const r1 = t.fs.read(ino, 0, BS, { pid: 7 });
  await settle();
  assert.equal(t.fs.waiters.fail(ino, 0, 0, DATA_WAIT_OP.read, "EIO"), 1);
  await expectErrno(r1, "EIO");
  await expectErrno(t.fs.read(ino, 0, BS, { pid: 7 }), "EIO");
  let done8 = false;
  const r8 = t.fs.read(ino, 0, BS, { pid: 8 }).then((b) => ((done8 = true), b));
  const r7again = t.fs.read(ino, 0, BS, { pid: 7 });
  await settle();
  assert.equal(done8, false);
  assert.deepEqual(t.fs.waiters.list(0, 0, 4), [{ ino, iblock: 0, op: DATA_WAIT_OP.read }], "pid 7 waits again after its one retry");
  await t.fs.stage(ino, 0, data, v);
  assert.deepEqual(await r8, data.subarray(0, BS));
  assert.deepEqual(await r7again, data.subarray(0, BS));
});

test("writes wait until the whole file is online, size changes until the blocks below the new size are", async () => {
  const t = newFs();
  const data = pattern(4 * BS, 6);
  const ino = await fileWith(t, "f", data);
  const v = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, 2 * BS, 2 * BS, v);

  // a write anywhere waits, for the first offline block of the file
  const w = t.fs.write(ino, 0, Buffer.from("new"));
  // a truncate to the same size does not wait; one that changes it does
  await t.fs.setattr(ino, { size: 4 * BS });
  const tr = t.fs.setattr(ino, { size: 3 * BS });
  // a truncate below the offline blocks does not need them
  await settle();
  assert.deepEqual(t.fs.waiters.list(0, 0, 16), [{ ino, iblock: 2, op: DATA_WAIT_OP.write | DATA_WAIT_OP.changeSize }]);
  assert.equal((await t.fs.getattr(ino)).dataVersion, v, "nothing changed yet");

  await t.fs.stage(ino, 2 * BS, data.subarray(2 * BS), v);
  assert.equal(await w, 3);
  assert.equal((await tr).size, 3 * BS);
  const want = Buffer.from(data.subarray(0, 3 * BS));
  want.write("new", 0);
  assert.deepEqual(await t.fs.read(ino, 0, 10 * BS), want);

  // truncating to a size whose blocks are online does not wait, and drops the offline blocks past it
  const v2 = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, BS, 2 * BS, v2);
  await t.fs.setattr(ino, { size: BS });
  const a = await t.fs.getattr(ino);
  assert.equal(a.offlineBlocks, 0);
  assert.equal(a.onlineBlocks, 1);
  // truncating to 0 never waits
  await t.fs.releaseBlocks(ino, 0, BS, a.dataVersion);
  await t.fs.setattr(ino, { size: 0 });
  assert.equal((await t.fs.getattr(ino)).offlineBlocks, 0);
  await assertConsistent(t);
});

test("punch-offline turns offline extents into holes and stops at a mapped block", async () => {
  const t = newFs();
  const ino = await fileWith(t, "f", pattern(6 * BS, 7));
  const v = (await t.fs.getattr(ino)).dataVersion;
  await t.fs.releaseBlocks(ino, 0, 3 * BS, v);
  const r = t.fs.read(ino, BS, 10);
  await settle();
  await t.fs.punchOffline(ino, 0, 2 * BS, v);
  assert.deepEqual(await r, Buffer.alloc(10), "a punched block reads as zeros");
  assert.deepEqual(await t.fs.fiemap(ino), [
    { start: 2, len: 1, blkno: 0, flags: EXTENT_FLAG.offline },
    { start: 3, len: 3, blkno: 103, flags: 0 },
  ]);
  // the offline block before the mapped ones is converted, then EINVAL
  await expectErrno(t.fs.punchOffline(ino, 0, 6 * BS, v), "EINVAL");
  const a = await t.fs.getattr(ino);
  assert.equal(a.offlineBlocks, 0);
  assert.equal(a.onlineBlocks, 3);
  assert.equal(a.dataVersion, v);
  await expectErrno(t.fs.punchOffline(ino, 0, BS, v + 1), "ESTALE");
  await expectErrno(t.fs.punchOffline(ino, 10, BS, v), "EOVERFLOW");
  await assertConsistent(t);
});

test("setattr-more makes offline files, with the original's rules", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const ctime = { sec: 67305985, nsec: 999999999 };
  const crtime = { sec: 1725670311, nsec: 5 };
  const a = await t.fs.setattrMore(f.ino, { dataVersion: 9, size: 10007 * BS - 5, offline: true, ctime, crtime });
  assert.equal(a.size, 10007 * BS - 5);
  assert.equal(a.dataVersion, 9);
  assert.equal(a.offlineBlocks, 10007);
  assert.equal(a.onlineBlocks, 0);
  assert.deepEqual(a.ctime, ctime);
  assert.deepEqual(a.crtime, crtime);
  assert.ok(a.dataSeq > 0);
  assert.deepEqual(await t.fs.fiemap(f.ino), [{ start: 0, len: 10007, blkno: 0, flags: EXTENT_FLAG.offline }]);
  // the data_version is set: a second setattr fails
  await expectErrno(t.fs.setattrMore(f.ino, { dataVersion: 1, size: 1, offline: false }), "EINVAL");

  const g = await t.fs.create(ROOT, "g", 0o644, 0, 0);
  await expectErrno(t.fs.setattrMore(g.ino, { dataVersion: 0, size: 1, offline: false }), "EINVAL");
  await expectErrno(t.fs.setattrMore(g.ino, { dataVersion: 1, size: 0, offline: true }), "EINVAL");
  const sparse = await t.fs.setattrMore(g.ino, { dataVersion: 1, size: 5 * BS, offline: false });
  assert.equal(sparse.offlineBlocks, 0);
  assert.deepEqual(await t.fs.read(g.ino, 0, 10), Buffer.alloc(10));
  const h = await fileWith(t, "h", Buffer.from("contents"));
  await expectErrno(t.fs.setattrMore(h, { dataVersion: 1, size: 1, offline: false }), "EINVAL");
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await expectErrno(t.fs.setattrMore(d.ino, { dataVersion: 1, size: 1, offline: false }), "EINVAL");
  // without a size nor a data_version only the times change
  const e = await t.fs.create(ROOT, "e", 0o644, 0, 0);
  const ea = await t.fs.setattrMore(e.ino, { dataVersion: 0, size: 0, offline: false, ctime, crtime });
  assert.deepEqual([ea.ctime, ea.crtime, ea.dataVersion], [ctime, crtime, 0]);
  await assertConsistent(t);
});

test("move-blocks: extents change files, sizes keep the source's partial block, the errors of the original", async () => {
  const t = newFs();
  const data = pattern(5 * BS + 123, 8);
  const from = await fileWith(t, "from", data);
  const to = await fileWith(t, "to", pattern(BS, 9));
  const fv = (await t.fs.getattr(from)).dataVersion;
  const tv = (await t.fs.getattr(to)).dataVersion;
  // the length ends at the source's size: its partial last block moves
  await t.fs.moveBlocks(from, to, { fromOff: 3 * BS, len: 2 * BS + 123, toOff: 2 * BS, stage: false, dataVersion: 0 });
  const fa = await t.fs.getattr(from);
  const ta = await t.fs.getattr(to);
  assert.equal(ta.size, 4 * BS + 123);
  assert.equal(fa.size, data.length, "the source keeps its size");
  assert.equal(fa.onlineBlocks, 3);
  assert.equal(ta.onlineBlocks, 4);
  assert.equal(fa.dataVersion, fv + 1);
  assert.equal(ta.dataVersion, tv + 1);
  assert.deepEqual(await t.fs.read(to, 2 * BS, 3 * BS), data.subarray(3 * BS));
  assert.deepEqual(await t.fs.read(to, BS, BS), Buffer.alloc(BS), "the hole between stays a hole");
  assert.deepEqual(await t.fs.read(from, 3 * BS, 3 * BS), Buffer.alloc(2 * BS + 123), "the source has holes now");
  await assertConsistent(t);

  await expectErrno(t.fs.moveBlocks(from, to, { fromOff: 0, len: BS, toOff: 2 * BS, stage: false, dataVersion: 0 }), "EINVAL"); // overlaps
  await expectErrno(t.fs.moveBlocks(from, from, { fromOff: 0, len: BS, toOff: 9 * BS, stage: false, dataVersion: 0 }), "EINVAL");
  await expectErrno(t.fs.moveBlocks(from, to, { fromOff: 1, len: BS, toOff: 9 * BS, stage: false, dataVersion: 0 }), "EINVAL");
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await expectErrno(t.fs.moveBlocks(from, d.ino, { fromOff: 0, len: BS, toOff: 0, stage: false, dataVersion: 0 }), "EISDIR");
  // a source range past its size moves nothing and succeeds
  await t.fs.moveBlocks(from, to, { fromOff: 100 * BS, len: BS, toOff: 0, stage: false, dataVersion: 0 });

  // offline blocks: ENODATA, except when staging into them
  const off = await t.fs.create(ROOT, "off", 0o644, 0, 0);
  await t.fs.setattrMore(off.ino, { dataVersion: 5, size: 2 * BS, offline: true });
  await expectErrno(t.fs.moveBlocks(from, off.ino, { fromOff: 0, len: BS, toOff: 0, stage: false, dataVersion: 0 }), "ENODATA");
  await expectErrno(t.fs.moveBlocks(from, off.ino, { fromOff: 0, len: BS, toOff: 0, stage: true, dataVersion: 4 }), "ESTALE");
  await expectErrno(t.fs.moveBlocks(from, off.ino, { fromOff: 0, len: BS, toOff: 2 * BS, stage: true, dataVersion: 5 }), "EINVAL");
  const waiting = t.fs.read(off.ino, 0, BS);
  await settle();
  await t.fs.moveBlocks(from, off.ino, { fromOff: 0, len: BS, toOff: 0, stage: true, dataVersion: 5 });
  assert.deepEqual(await waiting, data.subarray(0, BS), "staging by moving wakes the reader");
  const oa = await t.fs.getattr(off.ino);
  assert.deepEqual([oa.dataVersion, oa.onlineBlocks, oa.offlineBlocks, oa.size], [5, 1, 1, 2 * BS]);
  await assertConsistent(t);
});

test("release, stage, punch-offline and writes in any order match a model of bytes and block states", async () => {
  const NB = 12;
  type Op = { kind: number; a: number; b: number; seed: number };
  const opArb = fc.record({ kind: fc.integer({ min: 0, max: 5 }), a: fc.integer({ min: 0, max: NB }), b: fc.integer({ min: 0, max: NB }), seed: fc.nat(255) });
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops: Op[]) => {
      const t = newFs();
      let archive = pattern(NB * BS - 77, 11); // what the archive holds (the contents at the last release's data_version)
      const ino = await fileWith(t, "f", archive);
      let bytes = Buffer.from(archive); // the file's contents as readers must see them
      const state: ("online" | "offline" | "hole")[] = Array.from({ length: NB }, () => "online");
      for (const op of ops) {
        const v = (await t.fs.getattr(ino)).dataVersion;
        const [lo, hi] = [Math.min(op.a, op.b), Math.max(op.a, op.b)];
        if (op.kind === 0 || op.kind === 1) {
          // release [lo, hi): the archive now holds the current contents
          archive = Buffer.from(bytes);
          await t.fs.releaseBlocks(ino, lo * BS, (hi - lo) * BS, v);
          for (let i = lo; i < hi; i++) if (state[i] === "online") state[i] = "offline";
          if (!state.includes("online")) for (let i = Math.ceil(bytes.length / BS); i < NB; i++) state[i] = "hole";
        } else if (op.kind === 2) {
          const end = Math.min(hi * BS, bytes.length);
          if (lo * BS >= end) continue;
          assert.equal(await t.fs.stage(ino, lo * BS, archive.subarray(lo * BS, end), v), end - lo * BS);
          for (let i = lo; i * BS < end; i++) state[i] = "online";
          archive.copy(bytes, lo * BS, lo * BS, end);
        } else if (op.kind === 3) {
          const punch = t.fs.punchOffline(ino, lo * BS, (hi - lo) * BS, v);
          let i = lo;
          for (; i < hi && state[i] !== "online"; i++) {
            if (state[i] === "offline") {
              state[i] = "hole";
              bytes.fill(0, i * BS, Math.min((i + 1) * BS, bytes.length));
            }
          }
          if (i < hi) await expectErrno(punch, "EINVAL");
          else await punch;
        } else if (op.kind === 4) {
          // a write: only when everything is online (it would wait otherwise)
          if (state.includes("offline")) continue;
          const off = lo * BS + op.seed;
          const w = pattern(BS + op.seed, op.seed);
          if (off + w.length > NB * BS) continue;
          await t.fs.write(ino, off, w);
          if (off + w.length > bytes.length) bytes = Buffer.concat([bytes, Buffer.alloc(off + w.length - bytes.length)]);
          w.copy(bytes, off);
          for (let i = Math.floor(off / BS); i * BS < off + w.length; i++) state[i] = "online";
        } else {
          await t.fs.fsync(ino);
        }
        const a = await t.fs.getattr(ino);
        assert.equal(a.size, bytes.length);
        assert.equal(a.onlineBlocks, state.filter((s) => s === "online").length, "online blocks");
        assert.equal(a.offlineBlocks, state.filter((s) => s === "offline").length, "offline blocks");
        // every block that is not offline reads as the model says
        for (let i = 0; i * BS < bytes.length; i++) {
          if (state[i] === "offline") continue;
          assert.deepEqual(await t.fs.read(ino, i * BS, BS), bytes.subarray(i * BS, (i + 1) * BS), `block ${i}`);
        }
      }
      await assertConsistent(t);
    }),
    { numRuns: 150, seed: 4242 },
  );
});
