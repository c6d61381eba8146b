import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, assertConsistent, expectErrno, listNames, newFs } from "./support/fs_harness.js";
import { Filesystem } from "../src/fs/filesystem.js";
import { S_IFREG } from "../src/format/fs_items.js";
import { inodeIndexKey } from "../src/format/fs_items.js";
import { INODE_INDEX_TYPE } from "../src/format/constants.js";
import { isFsError } from "../src/util/errors.js";

const ns = (t: { sec: number; nsec: number }) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);

test("setattr: mode, owner, times", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  let a = await t.fs.setattr(f.ino, { mode: 0o4755 });
  assert.equal(a.mode, S_IFREG | 0o4755, "type bits kept");
  assert.ok(ns(a.ctime) > ns(f.ctime));
  assert.deepEqual(a.mtime, f.mtime);
  a = await t.fs.setattr(f.ino, { uid: 7, gid: 8 });
  assert.equal(a.uid, 7);
  assert.equal(a.gid, 8);
  a = await t.fs.setattr(f.ino, { atime: { sec: 100, nsec: 5 }, mtime: { sec: 200, nsec: 999_999_999 } });
  assert.deepEqual(a.atime, { sec: 100, nsec: 5 });
  assert.deepEqual(a.mtime, { sec: 200, nsec: 999_999_999 });
  const c = a.ctime;
  a = await t.fs.setattr(f.ino, { mtime: "now" });
  assert.deepEqual(a.atime, { sec: 100, nsec: 5 }, "omitted atime is left alone");
  assert.ok(ns(a.mtime) > ns(c));
  assert.deepEqual(a.mtime, a.ctime);
  a = await t.fs.setattr(f.ino, { ctime: { sec: 1, nsec: 2 } });
  assert.deepEqual(a.ctime, { sec: 1, nsec: 2 });
  a = await t.fs.setattr(f.ino, { atime: { sec: -5, nsec: 0 } });
  assert.deepEqual(a.atime, { sec: -5, nsec: 0 }, "times before the epoch");
  await expectErrno(t.fs.setattr(f.ino, { atime: { sec: 0, nsec: 1e9 } }), "EINVAL");
  await expectErrno(t.fs.setattr(f.ino, { uid: -1 }), "EINVAL");
  await expectErrno(t.fs.setattr(9999, { uid: 1 }), "ENOENT");
  assert.deepEqual(await t.fs.getattr(f.ino), a);
  assert.equal(a.crtime.sec, f.crtime.sec, "crtime never changes");
  await assertConsistent(t);
});

test("truncate sets mtime and ctime and moves data_seq", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.fsync(f.ino);
  const a = await t.fs.setattr(f.ino, { size: 0 });
  assert.ok(ns(a.mtime) > ns(f.mtime));
  assert.equal(a.dataSeq, t.st.trans.seq);
  assert.equal(a.dataVersion, 0, "same size: data_version stays");
  await assertConsistent(t);
});

test("every inode has exactly one index item per index", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const seq0 = t.st.trans.seq;
  await t.fs.fsync(f.ino);
  await t.fs.write(f.ino, 0, Buffer.from("x"));
  const seq1 = t.st.trans.seq;
  const items = t.st.items;
  assert.equal(await items.lookup(inodeIndexKey(INODE_INDEX_TYPE.metaSeq, seq0, f.ino)), undefined);
  assert.equal(await items.lookup(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, seq0, f.ino)), undefined);
  assert.ok(await items.lookup(inodeIndexKey(INODE_INDEX_TYPE.metaSeq, seq1, f.ino)));
  assert.ok(await items.lookup(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, seq1, f.ino)));
  assert.equal(await items.lookup(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, seq1, ROOT)), undefined);
  await assertConsistent(t);
});

test("unlinked open files are orphans until the last release", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.write(f.ino, 0, Buffer.alloc(20000, 3));
  await t.fs.open(f.ino);
  await t.fs.open(f.ino);
  await t.fs.unlink(ROOT, "f");
  assert.equal((await t.fs.getattr(f.ino)).nlink, 0);
  await t.fs.write(f.ino, 20000, Buffer.from("more"));
  assert.equal((await t.fs.read(f.ino, 19998, 10)).toString("hex"), "03036d6f7265");
  await assertConsistent(t);
  await t.fs.release(f.ino);
  assert.equal((await t.fs.getattr(f.ino)).size, 20004);
  await t.fs.release(f.ino);
  await expectErrno(t.fs.getattr(f.ino), "ENOENT");
  await expectErrno(t.fs.release(f.ino), "EBADF");
  await expectErrno(t.fs.open(f.ino), "ENOENT");
  assert.equal(t.st.data.allocated.size, 0);
  await assertConsistent(t);
});

test("createOpen counts the new inode's handle: an unlink queued behind it leaves an open orphan until release", async () => {
  const t = newFs();
  // both start before either finishes: the unlink waits for the directory lock the create holds
  const made = t.fs.createOpen(ROOT, "f", 0o644, 0, 0);
  const gone = t.fs.unlink(ROOT, "f");
  const f = await made;
  await gone;
  await expectErrno(t.fs.lookup(ROOT, "f"), "ENOENT");
  const a = await t.fs.getattr(f.ino);
  assert.equal(a.nlink, 0);
  assert.equal(a.mode, S_IFREG | 0o644);
  await t.fs.write(f.ino, 0, Buffer.from("still here"));
  assert.equal((await t.fs.read(f.ino, 0, 64)).toString(), "still here");
  await assertConsistent(t);
  await t.fs.release(f.ino);
  await expectErrno(t.fs.getattr(f.ino), "ENOENT");
  await expectErrno(t.fs.release(f.ino), "EBADF");
  assert.equal(t.st.data.allocated.size, 0);
  await assertConsistent(t);
});

test("deleteOrphans at mount removes what a dead mount left", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  const keep = await t.fs.create(ROOT, "keep", 0o644, 0, 0);
  await t.fs.write(f.ino, 0, Buffer.alloc(9000, 1));
  await t.fs.setxattr(f.ino, "user.x", "y");
  await t.fs.open(f.ino);
  await t.fs.open(d.ino);
  await t.fs.open(keep.ino);
  await t.fs.unlink(ROOT, "f");
  await t.fs.rmdir(ROOT, "d");
  assert.equal(await t.fs.deleteOrphans(), 0, "open here: kept");
  // the mount dies without releasing; a new mount over the same storage
  const fs2 = new Filesystem(t.st);
  assert.equal(await fs2.deleteOrphans(), 2);
  await expectErrno(fs2.getattr(f.ino), "ENOENT");
  await expectErrno(fs2.getattr(d.ino), "ENOENT");
  assert.equal((await fs2.getattr(keep.ino)).nlink, 1);
  assert.deepEqual(await listNames(fs2, ROOT), ["keep"]);
  assert.equal(await fs2.deleteOrphans(), 0);
  await assertConsistent({ ...t, fs: fs2 });
});

test("relatime updates atime on read only when it is stale", async () => {
  const t = newFs();
  const fs = new Filesystem(t.st); // relatime is the default
  const f = await fs.create(ROOT, "f", 0o644, 0, 0);
  await fs.write(f.ino, 0, Buffer.from("x"));
  const a0 = await fs.getattr(f.ino);
  await fs.read(f.ino, 0, 1);
  const a1 = await fs.getattr(f.ino);
  assert.ok(ns(a1.atime) > ns(a0.mtime), "atime moved past mtime");
  await fs.read(f.ino, 0, 1);
  assert.deepEqual((await fs.getattr(f.ino)).atime, a1.atime, "then left alone");
  await fs.readdir(ROOT, 0, 10);
  const r = await fs.getattr(ROOT);
  assert.ok(ns(r.atime) > ns(r.mtime));
  // noatime never touches it
  const g = await t.fs.create(ROOT, "g", 0o644, 0, 0);
  await t.fs.read(g.ino, 0, 1);
  assert.deepEqual((await t.fs.getattr(g.ino)).atime, g.atime);
});

test("statfs reports the devices", async () => {
  const t = newFs({ dataBlocks: 1000 });
  const s0 = await t.fs.statfs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.write(f.ino, 0, Buffer.alloc(10 * 4096));
  const s1 = await t.fs.statfs();
  assert.equal(s1.type, 0x554f4353);
  assert.equal(s1.namelen, 255);
  assert.equal(s1.blocks, s0.blocks);
  assert.equal(s0.bfree - s1.bfree, 10);
  assert.ok(s1.files > 0 && s1.ffree <= s1.files);
  assert.equal(s1.fsid, t.st.fsid);
});

test("concurrent creates of one name: exactly one succeeds", async () => {
  for (let round = 0; round < 30; round++) {
    const t = newFs({ jitter: true });
    const results = await Promise.allSettled([
      t.fs.create(ROOT, "x", 0o644, 0, 0),
      t.fs.mkdir(ROOT, "x", 0o755, 0, 0),
      t.fs.create(ROOT, "x", 0o644, 0, 0),
      t.fs.symlink(ROOT, "x", "t", 0, 0),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) if (r.status === "rejected") assert.ok(isFsError(r.reason, "EEXIST"), String(r.reason));
    await assertConsistent(t);
  }
});

test("many concurrent operations leave a consistent filesystem", async () => {
  const t = newFs({ jitter: true });
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  const ops: Promise<unknown>[] = [];
  const names = ["a", "b", "c", "d", "e"];
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const dir = rnd(2) ? ROOT : d.ino;
    const other = rnd(2) ? ROOT : d.ino;
    const n = names[rnd(names.length)]!;
    const m = names[rnd(names.length)]!;
    const p = (async () => {
      switch (rnd(8)) {
        case 0: return t.fs.create(dir, n, 0o644, 0, 0);
        case 1: return t.fs.mkdir(dir, n, 0o755, 0, 0);
        case 2: return t.fs.unlink(dir, n);
        case 3: return t.fs.rmdir(dir, n);
        case 4: return t.fs.rename(dir, n, other, m, rnd(3));
        case 5: {
          const a = await t.fs.lookup(dir, n);
          return t.fs.write(a.ino, rnd(10000), Buffer.alloc(rnd(9000) + 1, 1));
        }
        case 6: {
          const a = await t.fs.lookup(dir, n);
          return t.fs.link(a.ino, other, m);
        }
        default: return t.fs.fsync(ROOT);
      }
    })();
    ops.push(p.catch((e) => {
      if (!isFsError(e)) throw e;
    }));
  }
  await Promise.all(ops);
  await assertConsistent(t);
  assert.equal(t.fs.locks.active, 0, "every lock was released");
});

test("O_TMPFILE: an open orphan until linked or released", async () => {
  const t = newFs();
  const a = await t.fs.tmpfile(ROOT, 0o600, 3, 4);
  assert.equal(a.nlink, 0);
  assert.equal(a.mode, S_IFREG | 0o600);
  await t.fs.write(a.ino, 0, Buffer.from("temp"));
  await assertConsistent(t);
  assert.deepEqual(await listNames(t.fs, ROOT), []);
  await t.fs.link(a.ino, ROOT, "named");
  assert.equal((await t.fs.getattr(a.ino)).nlink, 1);
  await t.fs.release(a.ino);
  assert.equal((await t.fs.read(a.ino, 0, 10)).toString(), "temp");
  await assertConsistent(t);
  // never linked: gone at release
  const b = await t.fs.tmpfile(ROOT, 0o600, 0, 0);
  await t.fs.write(b.ino, 0, Buffer.alloc(10000));
  await t.fs.release(b.ino);
  await expectErrno(t.fs.getattr(b.ino), "ENOENT");
  // an unlinked ordinary file cannot be linked again
  const c = await t.fs.create(ROOT, "c", 0o644, 0, 0);
  await t.fs.open(c.ino);
  await t.fs.unlink(ROOT, "c");
  await expectErrno(t.fs.link(c.ino, ROOT, "c2"), "ENOENT");
  await t.fs.release(c.ino);
  await expectErrno(t.fs.tmpfile(c.ino, 0o600, 0, 0), "ENOENT");
  const f = await t.fs.lookup(ROOT, "named");
  await expectErrno(t.fs.tmpfile(f.ino, 0o600, 0, 0), "ENOTDIR");
  await assertConsistent(t);
});

test("getattrNow answers what getattr does, from memory, and nothing while getattr would wait", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.settled();
  assert.deepEqual(t.fs.getattrNow(f.ino), await t.fs.getattr(f.ino));
  assert.throws(() => t.fs.getattrNow(f.ino + 1000), (e: unknown) => isFsError(e) && e.errno === "ENOENT");
  // answered before its items are written: until they are, only getattr (which waits) answers
  const g = await t.fs.create(ROOT, "g", 0o600, 0, 0);
  assert.equal(t.fs.getattrNow(g.ino), undefined);
  const later = await t.fs.getattr(g.ino);
  assert.deepEqual(t.fs.getattrNow(g.ino), later);
  // an inode item that needs a read
  t.st.items.jitter = true;
  assert.equal(t.fs.getattrNow(f.ino), undefined);
});
