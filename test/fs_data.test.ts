import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ROOT, assertConsistent, expectErrno, newFs } from "./support/fs_harness.js";
import { FALLOC_FL_KEEP_SIZE, SEEK_DATA, SEEK_HOLE } from "../src/fs/types.js";
import { listExtents } from "../src/fs/extents.js";
import { DATA_BLOCK_SIZE as BS, MAX_FILE_BYTES } from "../src/format/constants.js";
import { S_IFIFO } from "../src/format/fs_items.js";

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed * 13 + (i >> 12)) & 0xff;
  return b;
}

test("write and read back, short reads at EOF", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  assert.equal(await t.fs.write(f.ino, 0, Buffer.from("hello world")), 11);
  assert.equal((await t.fs.read(f.ino, 0, 100)).toString(), "hello world");
  assert.equal((await t.fs.read(f.ino, 6, 3)).toString(), "wor");
  assert.equal((await t.fs.read(f.ino, 11, 10)).length, 0);
  assert.equal((await t.fs.read(f.ino, 1000, 10)).length, 0);
  assert.equal(await t.fs.write(f.ino, 6, Buffer.from("there, world")), 12);
  assert.equal((await t.fs.read(f.ino, 0, 100)).toString(), "hello there, world");
  const a = await t.fs.getattr(f.ino);
  assert.equal(a.size, 18);
  assert.equal(a.blocks, 8);
  assert.equal(a.onlineBlocks, 1);
  assert.equal(await t.fs.write(f.ino, 0, Buffer.alloc(0)), 0);
  await assertConsistent(t);
});

test("large writes across blocks, sequential writes merge into one extent", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const data = pattern(300_000, 1);
  for (let off = 0; off < data.length; off += 10_000) await t.fs.write(f.ino, off, data.subarray(off, off + 10_000));
  assert.deepEqual(await t.fs.read(f.ino, 0, data.length), data);
  assert.deepEqual(await t.fs.read(f.ino, 4090, 20), data.subarray(4090, 4110));
  const exts = await listExtents(t.fs.ctx, f.ino);
  assert.equal(exts.length, 1);
  assert.equal(exts[0]!.len, Math.ceil(300_000 / BS));
  await assertConsistent(t);
});

test("committed blocks are copied on write, fresh ones overwritten in place", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const data = pattern(5 * BS, 2);
  await t.fs.write(f.ino, 0, data);
  const allocs = t.st.data.allocs;
  await t.fs.write(f.ino, 100, Buffer.from("in place"));
  assert.equal(t.st.data.allocs, allocs, "fresh blocks are rewritten in place");
  data.write("in place", 100);
  await t.fs.fsync(f.ino);
  const before = (await listExtents(t.fs.ctx, f.ino))[0]!;
  // a partial write into a committed block: the block is copied, the rest kept
  await t.fs.write(f.ino, BS + 10, Buffer.from("copied"));
  data.write("copied", BS + 10);
  assert.deepEqual(await t.fs.read(f.ino, 0, data.length), data);
  const after = await listExtents(t.fs.ctx, f.ino);
  assert.equal(after.length, 3);
  assert.equal(after[0]!.blkno, before.blkno);
  assert.notEqual(after[1]!.blkno, before.blkno + 1);
  assert.equal(t.st.data.pendingFree.size, 1, "the old block is freed after the commit");
  assert.equal((await t.fs.getattr(f.ino)).onlineBlocks, 5);
  await t.fs.fsync(f.ino);
  assert.equal(t.st.data.pendingFree.size, 0);
  await assertConsistent(t);
});

test("sparse files: holes read as zeros, SEEK_DATA and SEEK_HOLE", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.write(f.ino, 10 * BS + 5, Buffer.from("x"));
  await t.fs.write(f.ino, 20 * BS, Buffer.alloc(2 * BS, 1));
  const a = await t.fs.getattr(f.ino);
  assert.equal(a.size, 22 * BS);
  assert.equal(a.onlineBlocks, 3);
  const r = await t.fs.read(f.ino, 0, 11 * BS);
  assert.equal(r.length, 11 * BS);
  assert.ok(r.subarray(0, 10 * BS + 5).every((b) => b === 0));
  assert.equal(r[10 * BS + 5], 0x78);
  assert.equal(await t.fs.lseek(f.ino, 0, SEEK_DATA), 10 * BS);
  assert.equal(await t.fs.lseek(f.ino, 10 * BS + 7, SEEK_DATA), 10 * BS + 7);
  assert.equal(await t.fs.lseek(f.ino, 11 * BS, SEEK_DATA), 20 * BS);
  assert.equal(await t.fs.lseek(f.ino, 0, SEEK_HOLE), 0);
  assert.equal(await t.fs.lseek(f.ino, 10 * BS, SEEK_HOLE), 11 * BS);
  assert.equal(await t.fs.lseek(f.ino, 20 * BS, SEEK_HOLE), 22 * BS);
  await expectErrno(t.fs.lseek(f.ino, 22 * BS, SEEK_DATA), "ENXIO");
  await expectErrno(t.fs.lseek(f.ino, 22 * BS, SEEK_HOLE), "ENXIO");
  await expectErrno(t.fs.lseek(f.ino, 0, 0), "EINVAL");
  await t.fs.setattr(f.ino, { size: 30 * BS });
  await expectErrno(t.fs.lseek(f.ino, 22 * BS, SEEK_DATA), "ENXIO");
  assert.equal(await t.fs.lseek(f.ino, 22 * BS, SEEK_HOLE), 22 * BS);
  await assertConsistent(t);
});

test("truncate frees blocks and zeroes the tail", async () => {
  for (const syncFirst of [false, true]) {
    const t = newFs();
    const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
    await t.fs.write(f.ino, 0, Buffer.alloc(3 * BS, 0x61));
    if (syncFirst) await t.fs.fsync(f.ino);
    const dv = (await t.fs.getattr(f.ino)).dataVersion;
    let a = await t.fs.setattr(f.ino, { size: 5000 });
    assert.equal(a.size, 5000);
    assert.equal(a.onlineBlocks, 2);
    assert.equal(a.dataVersion, dv + 1);
    a = await t.fs.setattr(f.ino, { size: 3 * BS });
    const r = await t.fs.read(f.ino, 0, 3 * BS);
    assert.ok(r.subarray(0, 5000).every((b) => b === 0x61));
    assert.ok(r.subarray(5000).every((b) => b === 0), "bytes past the old EOF read as zeros");
    await t.fs.setattr(f.ino, { size: 0 });
    assert.equal((await t.fs.getattr(f.ino)).onlineBlocks, 0);
    assert.equal(t.st.data.allocated.size, 0);
    await assertConsistent(t);
  }
});

test("writes past EOF never expose old bytes", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.write(f.ino, 0, Buffer.alloc(BS, 0x62));
  await t.fs.setattr(f.ino, { size: 100 });
  await t.fs.write(f.ino, 200, Buffer.from("z"));
  const r = await t.fs.read(f.ino, 0, 300);
  assert.equal(r.length, 201);
  assert.ok(r.subarray(0, 100).every((b) => b === 0x62));
  assert.ok(r.subarray(100, 200).every((b) => b === 0));
});

test("fallocate allocates unwritten blocks that read as zeros", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.fallocate(f.ino, 0, 100, 3 * BS);
  let a = await t.fs.getattr(f.ino);
  assert.equal(a.size, 100 + 3 * BS);
  assert.equal(a.onlineBlocks, 4);
  assert.ok((await t.fs.read(f.ino, 0, a.size)).every((b) => b === 0));
  await expectErrno(t.fs.lseek(f.ino, 0, SEEK_DATA), "ENXIO");
  await t.fs.write(f.ino, BS + 1, Buffer.from("abc"));
  assert.equal((await t.fs.read(f.ino, BS, 5)).toString("hex"), "0061626300");
  assert.equal((await t.fs.getattr(f.ino)).onlineBlocks, 4);
  await t.fs.fsync(f.ino);
  await t.fs.write(f.ino, 2 * BS + 1, Buffer.from("def")); // committed unwritten block: copied
  assert.equal((await t.fs.read(f.ino, 2 * BS, 5)).toString("hex"), "0064656600");
  await assertConsistent(t);
  // keep size: blocks beyond EOF
  await t.fs.fallocate(f.ino, FALLOC_FL_KEEP_SIZE, 10 * BS, BS);
  a = await t.fs.getattr(f.ino);
  assert.equal(a.size, 100 + 3 * BS);
  assert.equal(a.onlineBlocks, 5);
  await assertConsistent(t);
  // truncating drops blocks beyond EOF too
  await t.fs.setattr(f.ino, { size: 2 * BS });
  assert.equal((await t.fs.getattr(f.ino)).onlineBlocks, 2);
  await assertConsistent(t);
});

test("fallocate errors", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const p = await t.fs.mknod(ROOT, "p", S_IFIFO | 0o644, 0, 0);
  await expectErrno(t.fs.fallocate(f.ino, 2, 0, BS), "EOPNOTSUPP");
  await expectErrno(t.fs.fallocate(f.ino, 0x10, 0, BS), "EOPNOTSUPP");
  await expectErrno(t.fs.fallocate(f.ino, 0, 0, 0), "EINVAL");
  await expectErrno(t.fs.fallocate(f.ino, 0, -1, 10), "EINVAL");
  await expectErrno(t.fs.fallocate(ROOT, 0, 0, BS), "EISDIR");
  await expectErrno(t.fs.fallocate(p.ino, 0, 0, BS), "ENODEV");
  await expectErrno(t.fs.fallocate(f.ino, 0, MAX_FILE_BYTES, 1), "EFBIG");
});

test("read and write errors and limits", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const s = await t.fs.symlink(ROOT, "s", "f", 0, 0);
  await expectErrno(t.fs.write(ROOT, 0, Buffer.from("x")), "EISDIR");
  await expectErrno(t.fs.read(ROOT, 0, 1), "EISDIR");
  await expectErrno(t.fs.write(s.ino, 0, Buffer.from("x")), "EINVAL");
  await expectErrno(t.fs.write(f.ino, -1, Buffer.from("x")), "EINVAL");
  await expectErrno(t.fs.write(9999, 0, Buffer.from("x")), "ENOENT");
  await expectErrno(t.fs.write(f.ino, MAX_FILE_BYTES, Buffer.from("x")), "EFBIG");
  assert.equal(await t.fs.write(f.ino, MAX_FILE_BYTES - 2, Buffer.from("xyz")), 2, "short write at the size limit");
  assert.equal((await t.fs.getattr(f.ino)).size, MAX_FILE_BYTES);
  assert.equal((await t.fs.read(f.ino, MAX_FILE_BYTES - 2, 10)).toString(), "xy");
  await expectErrno(t.fs.setattr(f.ino, { size: MAX_FILE_BYTES + 1 }), "EFBIG");
  await expectErrno(t.fs.setattr(ROOT, { size: 0 }), "EISDIR");
  await expectErrno(t.fs.setattr(s.ino, { size: 0 }), "EINVAL");
  await expectErrno(t.fs.setattr(f.ino, { size: -1 }), "EINVAL");
  await t.fs.setattr(f.ino, { size: 0 });
  await assertConsistent(t);
});

test("ENOSPC: partial writes and no leaks", async () => {
  const t = newFs({ dataBlocks: 10 });
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  assert.equal(await t.fs.write(f.ino, 0, Buffer.alloc(12 * BS, 1)), 10 * BS);
  await expectErrno(t.fs.write(f.ino, 10 * BS, Buffer.alloc(BS, 1)), "ENOSPC");
  assert.equal((await t.fs.getattr(f.ino)).size, 10 * BS);
  await t.fs.fsync(f.ino);
  await expectErrno(t.fs.write(f.ino, 0, Buffer.from("cow needs a block")), "ENOSPC");
  await expectErrno(t.fs.setattr(f.ino, { size: 100 }), "ENOSPC");
  await t.fs.setattr(f.ino, { size: 8 * BS });
  await expectErrno(t.fs.write(f.ino, 0, Buffer.from("freed blocks wait for the commit")), "ENOSPC");
  await t.fs.fsync(f.ino);
  assert.equal(await t.fs.write(f.ino, 0, Buffer.from("now")), 3);
  const g = await t.fs.create(ROOT, "g", 0o644, 0, 0);
  await expectErrno(t.fs.fallocate(g.ino, 0, 0, 5 * BS), "ENOSPC");
  const a = await t.fs.getattr(g.ino);
  assert.equal(a.onlineBlocks, 1, "what was allocated before ENOSPC stays");
  assert.equal(a.size, BS);
  await assertConsistent(t);
  const sf = await t.fs.statfs();
  assert.equal(sf.type, 0x554f4353);
  assert.equal(sf.namelen, 255);
  assert.equal(sf.bsize, 4096);
});

test("seqs and data_version follow changes", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  assert.equal(f.metaSeq, t.st.trans.seq);
  assert.equal(f.dataSeq, t.st.trans.seq);
  assert.equal(f.dataVersion, 0);
  const root = await t.fs.getattr(ROOT);
  assert.equal(root.metaSeq, t.st.trans.seq, "the parent changed too");
  assert.equal(root.dataSeq, 0, "directories are not in the data_seq index");
  await t.fs.fsync(f.ino);
  await t.fs.setxattr(f.ino, "user.a", "1");
  let a = await t.fs.getattr(f.ino);
  assert.equal(a.metaSeq, f.metaSeq + 1);
  assert.equal(a.dataSeq, f.dataSeq, "metadata changes leave data_seq");
  await t.fs.fsync(f.ino);
  await t.fs.write(f.ino, 0, Buffer.from("x"));
  a = await t.fs.getattr(f.ino);
  assert.equal(a.metaSeq, f.metaSeq + 2);
  assert.equal(a.dataSeq, f.metaSeq + 2);
  assert.equal(a.dataVersion, 1);
  assert.ok(a.mtime.sec * 1e9 + a.mtime.nsec > f.mtime.sec * 1e9 + f.mtime.nsec);
  assert.deepEqual(a.mtime, a.ctime);
  await t.fs.write(f.ino, 1, Buffer.from("y"));
  assert.equal((await t.fs.getattr(f.ino)).dataVersion, 2);
  await assertConsistent(t); // exactly one index item per inode per index
});

test("a read into a lent buffer uses it when it fits, and a new buffer when it does not", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const data = pattern(64 * BS, 3);
  await t.fs.write(f.ino, 0, data);
  const into = Buffer.alloc(16 * BS + BS, 0xaa);
  // one extent, unaligned: whole blocks are read into the buffer, the result is the asked part of it
  const got = await t.fs.read(f.ino, 100, 16 * BS, undefined, into);
  assert.deepEqual(got, data.subarray(100, 100 + 16 * BS));
  assert.equal(got.buffer, into.buffer);
  // too small for the blocks the range touches: the lent buffer is left alone
  const small = Buffer.alloc(16 * BS, 0xaa);
  const got2 = await t.fs.read(f.ino, 100, 16 * BS, undefined, small);
  assert.deepEqual(got2, data.subarray(100, 100 + 16 * BS));
  assert.notEqual(got2.buffer, small.buffer);
  assert.ok(small.every((b) => b === 0xaa));
  // a hole in the range: zeros, not the junk the lent buffer held
  await t.fs.setattr(f.ino, { size: 80 * BS });
  into.fill(0xaa);
  const tail = await t.fs.read(f.ino, 60 * BS, 16 * BS, undefined, into);
  assert.deepEqual(tail, Buffer.concat([data.subarray(60 * BS), Buffer.alloc(12 * BS)]));
  await assertConsistent(t);
});

test("random writes, truncates and commits match a buffer", async () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant("w" as const), off: fc.integer({ min: 0, max: 40_000 }), len: fc.integer({ min: 1, max: 12_000 }), seed: fc.nat(255) }),
    fc.record({ k: fc.constant("t" as const), size: fc.integer({ min: 0, max: 50_000 }) }),
    fc.record({ k: fc.constant("f" as const), off: fc.integer({ min: 0, max: 40_000 }), len: fc.integer({ min: 1, max: 12_000 }), keep: fc.boolean() }),
    fc.record({ k: fc.constant("s" as const) }),
    fc.record({ k: fc.constant("r" as const), off: fc.integer({ min: 0, max: 50_000 }), len: fc.integer({ min: 1, max: 20_000 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
      const t = newFs();
      const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
      let model = Buffer.alloc(0);
      for (const o of ops) {
        if (o.k === "w") {
          const d = pattern(o.len, o.seed);
          await t.fs.write(f.ino, o.off, d);
          if (o.off + o.len > model.length) model = Buffer.concat([model, Buffer.alloc(o.off + o.len - model.length)]);
          d.copy(model, o.off);
          d.fill(0xee); // the caller may reuse its buffer once the write returned (FUSE does)
        } else if (o.k === "r") {
          const want = model.subarray(Math.min(o.off, model.length), Math.min(o.off + o.len, model.length));
          assert.deepEqual(await t.fs.read(f.ino, o.off, o.len), want);
          // into a lent buffer holding junk (as FUSE READs are served), which its lender then reuses
          const into = Buffer.alloc(o.len + BS, 0xaa);
          assert.deepEqual(await t.fs.read(f.ino, o.off, o.len, undefined, into), want);
          into.fill(0x55);
        } else if (o.k === "t") {
          await t.fs.setattr(f.ino, { size: o.size });
          model = o.size <= model.length ? Buffer.from(model.subarray(0, o.size)) : Buffer.concat([model, Buffer.alloc(o.size - model.length)]);
        } else if (o.k === "f") {
          await t.fs.fallocate(f.ino, o.keep ? FALLOC_FL_KEEP_SIZE : 0, o.off, o.len);
          if (!o.keep && o.off + o.len > model.length) model = Buffer.concat([model, Buffer.alloc(o.off + o.len - model.length)]);
        } else {
          await t.fs.fsync(f.ino);
        }
        assert.equal((await t.fs.getattr(f.ino)).size, model.length);
      }
      assert.deepEqual(await t.fs.read(f.ino, 0, model.length + 10), model);
      await assertConsistent(t);
    }),
    { numRuns: 150 },
  );
});
