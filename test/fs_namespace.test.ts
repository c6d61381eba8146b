import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, assertConsistent, expectErrno, listNames, newFs } from "./support/fs_harness.js";
import { DT } from "../src/fs/types.js";
import { LINK_MAX } from "../src/format/constants.js";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK, S_ISGID } from "../src/format/fs_items.js";
import { OpInodes } from "../src/fs/inode.js";

test("root exists as mkfs wrote it", async () => {
  const t = newFs();
  const a = await t.fs.getattr(ROOT);
  assert.equal(a.mode, 0o040755);
  assert.equal(a.nlink, 2);
  assert.equal(a.uid, 0);
  assert.equal(a.size, 0);
  const ents = await t.fs.readdir(ROOT, 0, 10);
  assert.deepEqual(ents.map((e) => [e.name, e.ino, e.pos, e.nextPos]), [[".", 1, 0, 1], ["..", 1, 1, 2]]);
  await assertConsistent(t);
});

test("create, lookup, getattr", async () => {
  const t = newFs();
  const before = await t.fs.getattr(ROOT);
  const a = await t.fs.create(ROOT, "file", 0o644, 1000, 100);
  assert.equal(a.mode, S_IFREG | 0o644);
  assert.equal(a.nlink, 1);
  assert.equal(a.uid, 1000);
  assert.equal(a.gid, 100);
  assert.equal(a.size, 0);
  assert.deepEqual(a.crtime, a.mtime);
  assert.deepEqual(a.atime, a.ctime);
  assert.ok(a.ino > ROOT);
  const l = await t.fs.lookup(ROOT, "file");
  assert.deepEqual(l, a);
  assert.deepEqual(await t.fs.lookup(ROOT, Buffer.from("file")), a);
  const dir = await t.fs.getattr(ROOT);
  assert.equal(dir.size, 4, "a directory's size is the total of its names");
  assert.ok(dir.mtime.sec * 1e9 + dir.mtime.nsec > before.mtime.sec * 1e9 + before.mtime.nsec);
  assert.deepEqual(dir.mtime, dir.ctime);
  assert.deepEqual(await t.fs.lookup(ROOT, "."), dir);
  assert.deepEqual(await t.fs.lookup(ROOT, ".."), dir);
  await assertConsistent(t);
});

test("create errors", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await expectErrno(t.fs.create(ROOT, "f", 0o644, 0, 0), "EEXIST");
  await expectErrno(t.fs.mkdir(ROOT, "f", 0o755, 0, 0), "EEXIST");
  await expectErrno(t.fs.create(ROOT, "", 0o644, 0, 0), "EINVAL");
  await expectErrno(t.fs.create(ROOT, "a/b", 0o644, 0, 0), "EINVAL");
  await expectErrno(t.fs.create(ROOT, ".", 0o644, 0, 0), "EINVAL");
  await expectErrno(t.fs.create(ROOT, "..", 0o644, 0, 0), "EINVAL");
  await expectErrno(t.fs.create(ROOT, "x".repeat(256), 0o644, 0, 0), "ENAMETOOLONG");
  await t.fs.create(ROOT, "x".repeat(255), 0o644, 0, 0);
  await expectErrno(t.fs.create(f.ino, "g", 0o644, 0, 0), "ENOTDIR");
  await expectErrno(t.fs.create(9999, "g", 0o644, 0, 0), "ENOENT");
  await expectErrno(t.fs.create(ROOT, "d", S_IFDIR | 0o755, 0, 0), "EINVAL");
  await expectErrno(t.fs.lookup(ROOT, "nope"), "ENOENT");
  await expectErrno(t.fs.lookup(f.ino, "nope"), "ENOTDIR");
  await expectErrno(t.fs.lookup(ROOT, "y".repeat(256)), "ENAMETOOLONG");
  await expectErrno(t.fs.getattr(9999), "ENOENT");
  await assertConsistent(t);
});

test("mkdir and rmdir keep link counts", async () => {
  const t = newFs();
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 5, 6);
  assert.equal(d.mode, S_IFDIR | 0o755);
  assert.equal(d.nlink, 2);
  assert.equal((await t.fs.getattr(ROOT)).nlink, 3);
  const e = await t.fs.mkdir(d.ino, "e", 0o700, 5, 6);
  assert.equal((await t.fs.getattr(d.ino)).nlink, 3);
  const dots = await t.fs.readdir(e.ino, 0, 2);
  assert.deepEqual(dots.map((x) => [x.name, x.ino, x.type]), [[".", e.ino, DT.DIR], ["..", d.ino, DT.DIR]]);
  assert.equal((await t.fs.lookup(e.ino, "..")).ino, d.ino);
  await t.fs.create(e.ino, "f", 0o644, 0, 0);
  await expectErrno(t.fs.rmdir(d.ino, "e"), "ENOTEMPTY");
  await expectErrno(t.fs.rmdir(ROOT, "d"), "ENOTEMPTY");
  await expectErrno(t.fs.rmdir(e.ino, "f"), "ENOTDIR");
  await expectErrno(t.fs.rmdir(ROOT, "zz"), "ENOENT");
  await expectErrno(t.fs.unlink(d.ino, "e"), "EISDIR");
  await t.fs.unlink(e.ino, "f");
  await t.fs.rmdir(d.ino, "e");
  assert.equal((await t.fs.getattr(d.ino)).nlink, 2);
  assert.equal((await t.fs.getattr(d.ino)).size, 0);
  await expectErrno(t.fs.getattr(e.ino), "ENOENT");
  await t.fs.rmdir(ROOT, "d");
  assert.equal((await t.fs.getattr(ROOT)).nlink, 2);
  assert.deepEqual(await listNames(t.fs, ROOT), []);
  await assertConsistent(t);
});

test("mknod makes fifos, sockets and devices", async () => {
  const t = newFs();
  const kinds: [number, number, number][] = [
    [S_IFIFO, DT.FIFO, 0],
    [S_IFSOCK, DT.SOCK, 0],
    [S_IFCHR, DT.CHR, 0x0103],
    [S_IFBLK, DT.BLK, 0x0801],
    [S_IFREG, DT.REG, 0],
  ];
  for (const [type, dt, rdev] of kinds) {
    const a = await t.fs.mknod(ROOT, `n${type}`, type | 0o640, 0, 0, rdev || 77);
    assert.equal(a.mode, type | 0o640);
    assert.equal(a.rdev, rdev, "rdev only for devices");
    const ents = await t.fs.readdir(ROOT, 2, 100);
    assert.equal(ents.find((e) => e.name === `n${type}`)!.type, dt);
  }
  const r = await t.fs.mknod(ROOT, "plain", 0o600, 0, 0);
  assert.equal(r.mode, S_IFREG | 0o600);
  await expectErrno(t.fs.mknod(ROOT, "d", S_IFDIR | 0o755, 0, 0), "EPERM");
  await expectErrno(t.fs.mknod(ROOT, "l", S_IFLNK | 0o777, 0, 0), "EINVAL");
  await assertConsistent(t);
});

test("symlink and readlink, short and long targets", async () => {
  const t = newFs();
  const s = await t.fs.symlink(ROOT, "s", "target/path", 3, 4);
  assert.equal(s.mode, S_IFLNK | 0o777);
  assert.equal(s.size, 11);
  assert.equal((await t.fs.readlink(s.ino)).toString(), "target/path");
  const long = "p/".repeat(2048);
  const l = await t.fs.symlink(ROOT, "long", long, 0, 0);
  assert.equal((await t.fs.readlink(l.ino)).toString(), long);
  await expectErrno(t.fs.symlink(ROOT, "big", "x".repeat(4097), 0, 0), "ENAMETOOLONG");
  await expectErrno(t.fs.symlink(ROOT, "empty", "", 0, 0), "ENOENT");
  await expectErrno(t.fs.symlink(ROOT, "s", "x", 0, 0), "EEXIST");
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await expectErrno(t.fs.readlink(f.ino), "EINVAL");
  await expectErrno(t.fs.readlink(ROOT), "EINVAL");
  await assertConsistent(t);
  await t.fs.unlink(ROOT, "long");
  await t.fs.unlink(ROOT, "s");
  await t.fs.settled();
  await assertConsistent(t);
  assert.equal(t.st.items.map.size, 8, "only root (inode, index), f (inode, two index items) and its entry (3 items) remain");
});

test("hard links", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  const l = await t.fs.link(f.ino, d.ino, "g");
  assert.equal(l.nlink, 2);
  assert.equal(l.ino, f.ino);
  assert.ok(l.ctime.sec * 1e9 + l.ctime.nsec > f.ctime.sec * 1e9 + f.ctime.nsec);
  assert.equal((await t.fs.lookup(d.ino, "g")).ino, f.ino);
  await expectErrno(t.fs.link(f.ino, d.ino, "g"), "EEXIST");
  await expectErrno(t.fs.link(d.ino, ROOT, "dd"), "EPERM");
  await expectErrno(t.fs.link(f.ino, f.ino, "x"), "ENOTDIR");
  await expectErrno(t.fs.link(9999, ROOT, "x"), "ENOENT");
  await t.fs.write(f.ino, 0, Buffer.from("hello"));
  await t.fs.unlink(ROOT, "f");
  assert.equal((await t.fs.getattr(f.ino)).nlink, 1);
  assert.equal((await t.fs.read(f.ino, 0, 100)).toString(), "hello");
  await t.fs.unlink(d.ino, "g");
  await expectErrno(t.fs.getattr(f.ino), "ENOENT");
  await assertConsistent(t);
});

test("EMLINK at LINK_MAX", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await t.fs.settled();
  // set the link counts near the limit directly in the items
  for (const ino of [f.ino, d.ino]) {
    await t.st.trans.hold(async () => {
      const c = new OpInodes(t.fs.ctx);
      (await c.get(ino)).nlink = LINK_MAX;
      c.dirty(ino);
      c.flush();
    });
  }
  await expectErrno(t.fs.link(f.ino, ROOT, "g"), "EMLINK");
  await expectErrno(t.fs.mkdir(d.ino, "sub", 0o755, 0, 0), "EMLINK");
});

test("setgid directories pass their group on", async () => {
  const t = newFs();
  const d = await t.fs.mkdir(ROOT, "d", 0o2775, 0, 50);
  assert.equal(d.mode & S_ISGID, S_ISGID);
  const f = await t.fs.create(d.ino, "f", 0o644, 1, 7);
  assert.equal(f.gid, 50);
  const s = await t.fs.mkdir(d.ino, "s", 0o755, 1, 7);
  assert.equal(s.gid, 50);
  assert.equal(s.mode & S_ISGID, S_ISGID);
});

test("readdir positions are stable across inserts and deletes", async () => {
  const t = newFs();
  for (let i = 0; i < 50; i++) await t.fs.create(ROOT, `f${i}`, 0o644, 0, 0);
  const first = await t.fs.readdir(ROOT, 0, 12);
  assert.equal(first.length, 12);
  assert.deepEqual(first.slice(0, 2).map((e) => e.name), [".", ".."]);
  let pos = first[first.length - 1]!.nextPos;
  const seen = first.slice(2).map((e) => e.name);
  // change the directory between batches: delete seen and unseen names, add new ones
  await t.fs.unlink(ROOT, "f0");
  await t.fs.unlink(ROOT, "f30");
  await t.fs.create(ROOT, "new1", 0o644, 0, 0);
  for (;;) {
    const ents = await t.fs.readdir(ROOT, pos, 7);
    if (ents.length === 0) break;
    for (const e of ents) {
      assert.ok(e.pos >= pos);
      seen.push(e.name);
    }
    pos = ents[ents.length - 1]!.nextPos;
  }
  const expect = [...Array(50).keys()].map((i) => `f${i}`).filter((n) => n !== "f30");
  expect.push("new1");
  assert.deepEqual(seen, expect, "no entry present throughout is repeated or skipped");
  assert.deepEqual(await t.fs.readdir(ROOT, pos, 10), []);
  assert.deepEqual(await t.fs.readdir(ROOT, 1_000_000, 10), []);
  assert.deepEqual(await t.fs.readdir(ROOT, 0, 0), []);
  const f = await t.fs.lookup(ROOT, "f1");
  await expectErrno(t.fs.readdir(f.ino, 0, 10), "ENOTDIR");
  await assertConsistent(t);
});

test("inode numbers and readdir positions are never reused", async () => {
  const t = newFs();
  const a = await t.fs.create(ROOT, "a", 0o644, 0, 0);
  const posA = (await t.fs.readdir(ROOT, 2, 10))[0]!.pos;
  await t.fs.unlink(ROOT, "a");
  const b = await t.fs.create(ROOT, "a", 0o644, 0, 0);
  assert.ok(b.ino > a.ino);
  assert.ok((await t.fs.readdir(ROOT, 2, 10))[0]!.pos > posA);
});

test("names that collide in the hash are told apart", async () => {
  const t = newFs({ nameHash: (n) => n.length }); // every name of one length collides
  const names = ["aa", "bb", "cc", "dd", "ee"];
  const inos = new Map<string, number>();
  for (const n of names) inos.set(n, (await t.fs.create(ROOT, n, 0o644, 0, 0)).ino);
  await t.fs.mkdir(ROOT, "zz", 0o755, 0, 0);
  for (const n of names) assert.equal((await t.fs.lookup(ROOT, n)).ino, inos.get(n));
  await expectErrno(t.fs.create(ROOT, "cc", 0o644, 0, 0), "EEXIST");
  await expectErrno(t.fs.lookup(ROOT, "ff"), "ENOENT");
  await t.fs.unlink(ROOT, "cc");
  await expectErrno(t.fs.lookup(ROOT, "cc"), "ENOENT");
  assert.equal((await t.fs.lookup(ROOT, "dd")).ino, inos.get("dd"));
  await t.fs.rename(ROOT, "aa", ROOT, "dd");
  assert.equal((await t.fs.lookup(ROOT, "dd")).ino, inos.get("aa"));
  await t.fs.rename(ROOT, "bb", ROOT, "ee", 2);
  assert.equal((await t.fs.lookup(ROOT, "ee")).ino, inos.get("bb"));
  assert.equal((await t.fs.lookup(ROOT, "bb")).ino, inos.get("ee"));
  await expectErrno(t.fs.rmdir(ROOT, "ee"), "ENOTDIR");
  await t.fs.rmdir(ROOT, "zz");
  assert.deepEqual((await listNames(t.fs, ROOT)).sort(), ["bb", "dd", "ee"]);
  await assertConsistent(t);
});

test("non-UTF-8 names are bytes", async () => {
  const t = newFs();
  const n = Buffer.from([0xff, 0xfe, 0x41]);
  const a = await t.fs.create(ROOT, n, 0o644, 0, 0);
  assert.equal((await t.fs.lookup(ROOT, n)).ino, a.ino);
  const e = (await t.fs.readdir(ROOT, 2, 10))[0]!;
  assert.deepEqual(e.nameBuf, n);
  await t.fs.unlink(ROOT, n);
  await assertConsistent(t);
});

test("operations in a removed directory", async () => {
  const t = newFs();
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await t.fs.open(d.ino);
  await t.fs.rmdir(ROOT, "d");
  assert.equal((await t.fs.getattr(d.ino)).nlink, 0);
  await expectErrno(t.fs.create(d.ino, "f", 0o644, 0, 0), "ENOENT");
  await expectErrno(t.fs.readdir(d.ino, 0, 10), "ENOENT");
  await expectErrno(t.fs.lookup(d.ino, "f"), "ENOENT");
  await assertConsistent(t);
  await t.fs.release(d.ino);
  await expectErrno(t.fs.getattr(d.ino), "ENOENT");
  await assertConsistent(t);
});

test("a big directory: lookups and creates do not scan it", async () => {
  const t = newFs();
  const n = 3000;
  for (let i = 0; i < n; i++) await t.fs.create(ROOT, `file-${i}`, 0o644, 0, 0);
  let nexts = 0;
  const items = t.st.items;
  const orig = items.next.bind(items);
  items.next = async (a, b) => {
    nexts++;
    return orig(a, b);
  };
  await t.fs.lookup(ROOT, "file-1234");
  await t.fs.create(ROOT, "another", 0o644, 0, 0);
  await t.fs.unlink(ROOT, "file-77");
  assert.ok(nexts < 20, `${nexts} item walks for three operations`);
  items.next = orig;
  assert.equal((await listNames(t.fs, ROOT, 500)).length, n);
  await assertConsistent(t);
});
