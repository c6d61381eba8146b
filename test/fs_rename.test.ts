import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, assertConsistent, expectErrno, listNames, newFs } from "./support/fs_harness.js";
import { RENAME_EXCHANGE, RENAME_NOREPLACE } from "../src/fs/types.js";

const later = (a: { sec: number; nsec: number }, b: { sec: number; nsec: number }) => a.sec * 1e9 + a.nsec > b.sec * 1e9 + b.nsec;

test("rename within a directory and across", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await t.fs.rename(ROOT, "f", ROOT, "g");
  assert.equal((await t.fs.lookup(ROOT, "g")).ino, f.ino);
  await expectErrno(t.fs.lookup(ROOT, "f"), "ENOENT");
  assert.ok(later((await t.fs.getattr(f.ino)).ctime, f.ctime), "rename sets the moved inode's ctime");
  await t.fs.rename(ROOT, "g", d.ino, "h");
  assert.equal((await t.fs.lookup(d.ino, "h")).ino, f.ino);
  assert.deepEqual(await listNames(t.fs, ROOT), ["d"]);
  assert.equal((await t.fs.getattr(ROOT)).size, 1);
  assert.equal((await t.fs.getattr(d.ino)).size, 1);
  await assertConsistent(t);
});

test("renaming directories moves their parent link", async () => {
  const t = newFs();
  const a = await t.fs.mkdir(ROOT, "a", 0o755, 0, 0);
  const b = await t.fs.mkdir(ROOT, "b", 0o755, 0, 0);
  const c = await t.fs.mkdir(a.ino, "c", 0o755, 0, 0);
  assert.equal((await t.fs.getattr(a.ino)).nlink, 3);
  await t.fs.rename(a.ino, "c", b.ino, "c2");
  assert.equal((await t.fs.getattr(a.ino)).nlink, 2);
  assert.equal((await t.fs.getattr(b.ino)).nlink, 3);
  assert.equal((await t.fs.lookup(c.ino, "..")).ino, b.ino);
  const dots = await t.fs.readdir(c.ino, 0, 2);
  assert.equal(dots[1]!.ino, b.ino);
  await assertConsistent(t);
});

test("rename over existing targets", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const g = await t.fs.create(ROOT, "g", 0o644, 0, 0);
  await t.fs.write(g.ino, 0, Buffer.alloc(10000, 1));
  await t.fs.rename(ROOT, "f", ROOT, "g");
  assert.equal((await t.fs.lookup(ROOT, "g")).ino, f.ino);
  await expectErrno(t.fs.getattr(g.ino), "ENOENT");
  const d1 = await t.fs.mkdir(ROOT, "d1", 0o755, 0, 0);
  const d2 = await t.fs.mkdir(ROOT, "d2", 0o755, 0, 0);
  await t.fs.rename(ROOT, "d1", ROOT, "d2");
  assert.equal((await t.fs.lookup(ROOT, "d2")).ino, d1.ino);
  await expectErrno(t.fs.getattr(d2.ino), "ENOENT");
  assert.equal((await t.fs.getattr(ROOT)).nlink, 3);
  // across directories, replacing a directory
  const p = await t.fs.mkdir(ROOT, "p", 0o755, 0, 0);
  await t.fs.mkdir(p.ino, "q", 0o755, 0, 0);
  await t.fs.rename(ROOT, "d2", p.ino, "q");
  assert.equal((await t.fs.getattr(ROOT)).nlink, 3);
  assert.equal((await t.fs.getattr(p.ino)).nlink, 3);
  await assertConsistent(t);
});

test("rename errors", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  const e = await t.fs.mkdir(d.ino, "e", 0o755, 0, 0);
  await t.fs.create(e.ino, "x", 0o644, 0, 0);
  await t.fs.mkdir(ROOT, "full", 0o755, 0, 0).then((x) => t.fs.create(x.ino, "y", 0o644, 0, 0));
  await expectErrno(t.fs.rename(ROOT, "nope", ROOT, "z"), "ENOENT");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "d"), "EISDIR");
  await expectErrno(t.fs.rename(ROOT, "d", ROOT, "f"), "ENOTDIR");
  await expectErrno(t.fs.rename(ROOT, "d", ROOT, "full"), "ENOTEMPTY");
  await expectErrno(t.fs.rename(ROOT, "d", e.ino, "dd"), "EINVAL");
  await expectErrno(t.fs.rename(ROOT, "d", d.ino, "dd"), "EINVAL");
  await expectErrno(t.fs.rename(e.ino, "x", ROOT, "d"), "ENOTEMPTY"); // target is an ancestor of the source
  await expectErrno(t.fs.rename(d.ino, "e", ROOT, "d"), "ENOTEMPTY");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "d", RENAME_NOREPLACE), "EEXIST");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "zz", RENAME_EXCHANGE), "ENOENT");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "zz", RENAME_EXCHANGE | RENAME_NOREPLACE), "EINVAL");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "zz", 8), "EINVAL");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "a/b"), "EINVAL");
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "n".repeat(256)), "ENAMETOOLONG");
  await expectErrno(t.fs.rename(ROOT, "f", f.ino, "z"), "ENOTDIR");
  await expectErrno(t.fs.rename(ROOT, "f", 999, "z"), "ENOENT");
  await expectErrno(t.fs.rename(e.ino, "x", ROOT, "d", RENAME_EXCHANGE), "EINVAL");
  await assertConsistent(t);
});

test("rename of a name onto itself or a hard link of itself changes nothing", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.link(f.ino, ROOT, "g");
  const before = await t.fs.getattr(f.ino);
  await t.fs.rename(ROOT, "f", ROOT, "f");
  await t.fs.rename(ROOT, "f", ROOT, "g");
  await t.fs.rename(ROOT, "f", ROOT, "g", RENAME_EXCHANGE);
  assert.deepEqual(await t.fs.getattr(f.ino), before);
  assert.deepEqual((await listNames(t.fs, ROOT)).sort(), ["f", "g"]);
  await expectErrno(t.fs.rename(ROOT, "f", ROOT, "g", RENAME_NOREPLACE), "EEXIST");
  await assertConsistent(t);
});

test("RENAME_NOREPLACE to a free name", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.rename(ROOT, "f", ROOT, "g", RENAME_NOREPLACE);
  assert.equal((await t.fs.lookup(ROOT, "g")).ino, f.ino);
});

test("RENAME_EXCHANGE swaps files and directories", async () => {
  const t = newFs();
  const a = await t.fs.mkdir(ROOT, "a", 0o755, 0, 0);
  const b = await t.fs.mkdir(ROOT, "b", 0o755, 0, 0);
  const sub = await t.fs.mkdir(a.ino, "sub", 0o755, 0, 0);
  const f = await t.fs.create(b.ino, "f", 0o644, 0, 0);
  await t.fs.rename(a.ino, "sub", b.ino, "f", RENAME_EXCHANGE);
  assert.equal((await t.fs.lookup(a.ino, "sub")).ino, f.ino);
  assert.equal((await t.fs.lookup(b.ino, "f")).ino, sub.ino);
  assert.equal((await t.fs.getattr(a.ino)).nlink, 2);
  assert.equal((await t.fs.getattr(b.ino)).nlink, 3);
  assert.equal((await t.fs.lookup(sub.ino, "..")).ino, b.ino);
  const ents = await t.fs.readdir(a.ino, 2, 10);
  assert.equal(ents[0]!.type, 8);
  // exchange two directories in one directory
  await t.fs.rename(ROOT, "a", ROOT, "b", RENAME_EXCHANGE);
  assert.equal((await t.fs.lookup(ROOT, "a")).ino, b.ino);
  assert.equal((await t.fs.lookup(ROOT, "b")).ino, a.ino);
  assert.equal((await t.fs.getattr(ROOT)).nlink, 4);
  await assertConsistent(t);
});

test("rename over an open file makes it an orphan", async () => {
  const t = newFs();
  await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const g = await t.fs.create(ROOT, "g", 0o644, 0, 0);
  await t.fs.write(g.ino, 0, Buffer.from("still here"));
  await t.fs.open(g.ino);
  await t.fs.rename(ROOT, "f", ROOT, "g");
  assert.equal((await t.fs.getattr(g.ino)).nlink, 0);
  assert.equal((await t.fs.read(g.ino, 0, 100)).toString(), "still here");
  await assertConsistent(t);
  await t.fs.release(g.ino);
  await expectErrno(t.fs.getattr(g.ino), "ENOENT");
  await assertConsistent(t);
});

test("concurrent cross-directory renames cannot make a loop", async () => {
  for (let round = 0; round < 20; round++) {
    const t = newFs({ jitter: true });
    const a = await t.fs.mkdir(ROOT, "a", 0o755, 0, 0);
    const b = await t.fs.mkdir(ROOT, "b", 0o755, 0, 0);
    // a into b and b into a at once: exactly one may succeed
    const r = await Promise.allSettled([t.fs.rename(ROOT, "a", b.ino, "a"), t.fs.rename(ROOT, "b", a.ino, "b")]);
    const ok = r.filter((x) => x.status === "fulfilled").length;
    assert.equal(ok, 1);
    await assertConsistent(t);
  }
});
