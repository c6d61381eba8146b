import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, assertConsistent, expectErrno, newFs } from "./support/fs_harness.js";
import { XATTR_CREATE, XATTR_REPLACE } from "../src/fs/types.js";
import { XATTR_MAX_VAL_LEN } from "../src/format/constants.js";
import { aclOfMode, encodeAcl } from "../src/fs/acl.js";

test("set, get, list, remove", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.setxattr(f.ino, "user.a", "one");
  await t.fs.setxattr(f.ino, "trusted.b", Buffer.from([0, 1, 2]));
  await t.fs.setxattr(f.ino, "security.c", "");
  await t.fs.setxattr(ROOT, "system.posix_acl_default", encodeAcl(aclOfMode(0o755)));
  assert.equal((await t.fs.getxattr(f.ino, "user.a")).toString(), "one");
  assert.deepEqual(await t.fs.getxattr(f.ino, "trusted.b"), Buffer.from([0, 1, 2]));
  assert.equal((await t.fs.getxattr(f.ino, "security.c")).length, 0);
  assert.deepEqual((await t.fs.listxattr(f.ino)).sort(), ["security.c", "trusted.b", "user.a"]);
  await t.fs.setxattr(f.ino, "user.a", "replaced, longer");
  assert.equal((await t.fs.getxattr(f.ino, "user.a")).toString(), "replaced, longer");
  await t.fs.removexattr(f.ino, "user.a");
  await expectErrno(t.fs.getxattr(f.ino, "user.a"), "ENODATA");
  await expectErrno(t.fs.removexattr(f.ino, "user.a"), "ENODATA");
  assert.deepEqual((await t.fs.listxattr(f.ino)).sort(), ["security.c", "trusted.b"]);
  await assertConsistent(t);
});

test("create and replace flags", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await expectErrno(t.fs.setxattr(f.ino, "user.x", "v", XATTR_REPLACE), "ENODATA");
  await t.fs.setxattr(f.ino, "user.x", "v", XATTR_CREATE);
  await expectErrno(t.fs.setxattr(f.ino, "user.x", "w", XATTR_CREATE), "EEXIST");
  await t.fs.setxattr(f.ino, "user.x", "w", XATTR_REPLACE);
  assert.equal((await t.fs.getxattr(f.ino, "user.x")).toString(), "w");
  await expectErrno(t.fs.setxattr(f.ino, "user.x", "w", 4), "EINVAL");
});

test("names, namespaces and sizes", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await expectErrno(t.fs.setxattr(f.ino, "other.x", "v"), "EOPNOTSUPP");
  await expectErrno(t.fs.setxattr(f.ino, "nonamespace", "v"), "EOPNOTSUPP");
  await expectErrno(t.fs.getxattr(f.ino, "other.x"), "EOPNOTSUPP");
  await expectErrno(t.fs.setxattr(f.ino, "", "v"), "ERANGE");
  await expectErrno(t.fs.setxattr(f.ino, "user." + "n".repeat(251), "v"), "ERANGE");
  await expectErrno(t.fs.setxattr(f.ino, "user.", "v"), "EINVAL");
  await t.fs.setxattr(f.ino, "user." + "n".repeat(250), "v");
  await expectErrno(t.fs.setxattr(f.ino, "user.big", Buffer.alloc(XATTR_MAX_VAL_LEN + 1)), "E2BIG");
  await expectErrno(t.fs.setxattr(9999, "user.x", "v"), "ENOENT");
  await expectErrno(t.fs.getxattr(9999, "user.x"), "ENOENT");
  await expectErrno(t.fs.listxattr(9999), "ENOENT");
});

test("large values span several items", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  const big = Buffer.alloc(XATTR_MAX_VAL_LEN);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  await t.fs.setxattr(f.ino, "user.big", big);
  assert.deepEqual(await t.fs.getxattr(f.ino, "user.big"), big);
  await assertConsistent(t);
  await t.fs.setxattr(f.ino, "user.big", big.subarray(0, 2000));
  assert.deepEqual(await t.fs.getxattr(f.ino, "user.big"), big.subarray(0, 2000));
  await assertConsistent(t);
  await t.fs.setxattr(f.ino, "user.big", big.subarray(0, 20000));
  assert.deepEqual(await t.fs.getxattr(f.ino, "user.big"), big.subarray(0, 20000));
  await assertConsistent(t);
  await t.fs.unlink(ROOT, "f");
  await assertConsistent(t);
  assert.equal(t.st.items.map.size, 2, "every item of the inode is gone");
});

test("size queries as getxattr(2) and listxattr(2)", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.setxattr(f.ino, "user.a", "12345");
  await t.fs.setxattr(f.ino, "user.bb", "x");
  assert.equal(await t.fs.getxattr(f.ino, "user.a", 0), 5);
  await expectErrno(t.fs.getxattr(f.ino, "user.a", 4), "ERANGE");
  assert.equal((await t.fs.getxattr(f.ino, "user.a", 5)).toString(), "12345");
  assert.equal(await t.fs.listxattr(f.ino, 0), 15);
  await expectErrno(t.fs.listxattr(f.ino, 14), "ERANGE");
  const buf = (await t.fs.listxattr(f.ino, 100)) as Buffer;
  assert.deepEqual(buf.toString().split("\0").filter(Boolean).sort(), ["user.a", "user.bb"]);
  const g = await t.fs.create(ROOT, "g", 0o644, 0, 0);
  assert.equal(await t.fs.listxattr(g.ino, 0), 0);
  assert.deepEqual(await t.fs.listxattr(g.ino), []);
});

test("names that collide in the hash are told apart", async () => {
  const t = newFs({ nameHash: () => 42 });
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  for (let i = 0; i < 10; i++) await t.fs.setxattr(f.ino, `user.n${i}`, `v${i}`.repeat(i * 100));
  for (let i = 0; i < 10; i++) assert.equal((await t.fs.getxattr(f.ino, `user.n${i}`)).toString(), `v${i}`.repeat(i * 100));
  await t.fs.removexattr(f.ino, "user.n3");
  await expectErrno(t.fs.getxattr(f.ino, "user.n3"), "ENODATA");
  await t.fs.setxattr(f.ino, "user.n4", "new", XATTR_REPLACE);
  assert.equal((await t.fs.getxattr(f.ino, "user.n4")).toString(), "new");
  assert.equal((await t.fs.listxattr(f.ino)).length, 9);
  await assertConsistent(t);
});

test("xattr changes set ctime and meta_seq only", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.setxattr(f.ino, "user.a", "1");
  const a = await t.fs.getattr(f.ino);
  assert.ok(a.ctime.sec * 1e9 + a.ctime.nsec > f.ctime.sec * 1e9 + f.ctime.nsec);
  assert.deepEqual(a.mtime, f.mtime);
  assert.equal(a.dataVersion, f.dataVersion);
});
