import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, assertConsistent, expectErrno, newFs } from "./support/fs_harness.js";
import { IAX } from "../src/fs/attr_x.js";
import { MemStorage } from "./support/mem_storage.js";
import { Filesystem } from "../src/fs/filesystem.js";
import { parseQuotaRule } from "../src/cli/cmd_quota.js";

const ADMIN = { sysAdmin: true };

test("get-attr-x reports the inode's fields; set-attr-x applies only what the mask names", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o100644, 0, 0);
  const before = await t.fs.getAttrX(f.ino);
  assert.equal(before.retention, false);
  assert.equal(before.projectId, 0n);
  assert.equal(before.dataVersion, 0);
  // values of bits not in the mask are ignored
  await t.fs.setAttrX(f.ino, { mask: IAX.projectId, projectId: 7n, dataVersion: 9, size: 100 });
  let a = await t.fs.getAttrX(f.ino);
  assert.equal(a.projectId, 7n);
  assert.equal(a.dataVersion, 0);
  assert.equal(a.size, 0);
  await t.fs.setAttrX(f.ino, { mask: IAX.dataVersion | IAX.size | IAX.ctime | IAX.crtime, dataVersion: 5, size: 100, ctime: { sec: 12, nsec: 5 }, crtime: { sec: 11, nsec: 3 } });
  a = await t.fs.getAttrX(f.ino);
  assert.deepEqual([a.dataVersion, a.size, a.ctime, a.crtime], [5, 100, { sec: 12, nsec: 5 }, { sec: 11, nsec: 3 }]);
  assert.ok(a.dataSeq > 0, "a data_version set moves data_seq");
  await t.fs.setAttrX(f.ino, { mask: IAX.projectId, projectId: (1n << 64n) - 1n });
  assert.equal((await t.fs.getAttrX(f.ino)).projectId, (1n << 64n) - 1n, "the whole u64 range");
  await assertConsistent(t);
});

test("set-attr-x refuses what the original refuses", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o100644, 0, 0);
  const d = await t.fs.mkdir(ROOT, "d", 0o40755, 0, 0);
  await expectErrno(t.fs.setAttrX(f.ino, { mask: IAX.dataVersion, dataVersion: 0 }), "EINVAL");
  await expectErrno(t.fs.setAttrX(f.ino, { mask: IAX.size, size: 10 }), "EINVAL");
  await expectErrno(t.fs.setAttrX(d.ino, { mask: IAX.retention, retention: true }), "EINVAL");
  await expectErrno(t.fs.setAttrX(d.ino, { mask: IAX.dataVersion, dataVersion: 3 }), "EINVAL");
  await expectErrno(t.fs.setAttrX(f.ino, { mask: 1 << 12 }), "EINVAL");
  await t.fs.write(f.ino, 0, Buffer.from("x"));
  await expectErrno(t.fs.setAttrX(f.ino, { mask: IAX.dataVersion, dataVersion: 3 }), "EINVAL");
  await assertConsistent(t);
});

test("retention refuses every change of the file but hidden xattrs and its own clearing", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "file-1", 0o100644, 0, 0);
  await t.fs.write(f.ino, 0, Buffer.from("kept"));
  await t.fs.setxattr(f.ino, "user.before", "1");
  await t.fs.setAttrX(f.ino, { mask: IAX.retention, retention: true });
  assert.equal((await t.fs.getAttrX(f.ino)).retention, true);
  await t.fs.setxattr(f.ino, "scoutfs.hide.srch.retention_test", "val", 0, ADMIN);
  await t.fs.setxattr(f.ino, "trusted.ok", "1");
  await expectErrno(t.fs.setxattr(f.ino, "user.retention_test", "val"), "EPERM");
  await expectErrno(t.fs.removexattr(f.ino, "user.before"), "EPERM");
  await expectErrno(t.fs.unlink(ROOT, "file-1"), "EPERM");
  await expectErrno(t.fs.rename(ROOT, "file-1", ROOT, "file-2"), "EPERM");
  await t.fs.create(ROOT, "other", 0o100644, 0, 0);
  await expectErrno(t.fs.rename(ROOT, "other", ROOT, "file-1"), "EPERM");
  await expectErrno(t.fs.write(f.ino, 4, Buffer.from("more")), "EPERM");
  await expectErrno(t.fs.setattr(f.ino, { size: 0 }), "EPERM");
  await expectErrno(t.fs.setattr(f.ino, { mode: 0o600 }), "EPERM");
  await expectErrno(t.fs.setattr(f.ino, { mtime: { sec: 1, nsec: 0 } }), "EPERM");
  await expectErrno(t.fs.fallocate(f.ino, 0, 0, 8192), "EPERM");
  await expectErrno(t.fs.setAttrX(f.ino, { mask: IAX.projectId, projectId: 3n }), "EPERM");
  assert.equal((await t.fs.read(f.ino, 0, 100)).toString(), "kept");
  await t.fs.link(f.ino, ROOT, "another-name"); // links are not changes of the file, as in the original
  await t.fs.setAttrX(f.ino, { mask: IAX.retention | IAX.projectId, retention: false, projectId: 3n });
  assert.deepEqual([(await t.fs.getAttrX(f.ino)).retention, (await t.fs.getAttrX(f.ino)).projectId], [false, 3n]);
  await t.fs.write(f.ino, 4, Buffer.from("more"));
  await t.fs.rename(ROOT, "file-1", ROOT, "file-2");
  await t.fs.removexattr(f.ino, "scoutfs.hide.srch.retention_test", ADMIN);
  await t.fs.unlink(ROOT, "file-2");
  await t.fs.unlink(ROOT, "another-name");
  await assertConsistent(t);
});

test("new inodes take the project id of their directory, O_TMPFILE ones too; a cleared id stops it", async () => {
  const t = newFs();
  const id = 8675309n;
  const plain = await t.fs.create(ROOT, "file", 0o100644, 0, 0);
  assert.equal((await t.fs.getAttrX(plain.ino)).projectId, 0n);
  const dir = await t.fs.mkdir(ROOT, "dir", 0o40755, 0, 0);
  await t.fs.setAttrX(dir.ino, { mask: IAX.projectId, projectId: id });
  const file = await t.fs.create(dir.ino, "file", 0o100644, 0, 0);
  const sub = await t.fs.mkdir(dir.ino, "sub", 0o40755, 0, 0);
  const more = await t.fs.mkdir(sub.ino, "more", 0o40755, 0, 0);
  const link = await t.fs.symlink(dir.ino, "link", "target", 0, 0);
  const tmp = await t.fs.tmpfile(dir.ino, 0o100600, 0, 0);
  for (const a of [file, sub, more, link, tmp]) assert.equal((await t.fs.getAttrX(a.ino)).projectId, id, `inode ${a.ino}`);
  await t.fs.setAttrX(dir.ino, { mask: IAX.projectId, projectId: 0n });
  const after = await t.fs.create(dir.ino, "another-file", 0o100644, 0, 0);
  assert.equal((await t.fs.getAttrX(after.ino)).projectId, 0n);
  await t.fs.release(tmp.ino);
  await assertConsistent(t);
});

test("a format version 1 filesystem refuses retention, project ids, quotas and indx. tags (EOPNOTSUPP)", async () => {
  const st = new MemStorage();
  st.formatVersion = 1;
  const fs = new Filesystem(st);
  const f = await fs.create(ROOT, "f", 0o100644, 0, 0);
  await expectErrno(fs.setAttrX(f.ino, { mask: IAX.retention, retention: true }), "EOPNOTSUPP");
  await expectErrno(fs.setAttrX(f.ino, { mask: IAX.projectId, projectId: 1n }), "EOPNOTSUPP");
  await expectErrno(fs.getAttrX(f.ino), "EOPNOTSUPP");
  assert.equal((await fs.getAttrX(f.ino, IAX.dataVersion | IAX.size)).size, 0);
  await fs.setAttrX(f.ino, { mask: IAX.crtime, crtime: { sec: 5, nsec: 0 } });
  await expectErrno(fs.modQuotaRule(true, parseQuotaRule("1 1,L,- 1,L,- 1,L,- I 1 -")), "EOPNOTSUPP");
  await expectErrno(fs.listQuotaRules(0, 0, 10), "EOPNOTSUPP");
  await expectErrno(fs.setxattr(f.ino, "scoutfs.hide.indx.x.1.2", "", 0, { sysAdmin: true }), "EOPNOTSUPP");
  await fs.setxattr(f.ino, "scoutfs.totl.x.1.2.3", "4", 0, { sysAdmin: true });
  await fs.create(ROOT, "g", 0o100644, 0, 0);
});
