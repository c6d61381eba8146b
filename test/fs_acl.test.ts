/*
 * POSIX ACLs in the fs layer (src/fs/acl.ts): the xattr format and its
 * checks, mode <-> ACL equivalence (property-tested), inheritance of
 * default ACLs and the umask at create, chmod rewriting the access ACL,
 * and the noacl option.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ACL_TAG,
  ACL_UNDEFINED_ID,
  aclChmod,
  aclCreateMasq,
  aclEquivMode,
  aclOfMode,
  checkAcl,
  decodeAcl,
  encodeAcl,
  type Acl,
} from "../src/fs/acl.js";
import { ROOT, assertConsistent, expectErrno, newFs } from "./support/fs_harness.js";
import { FsError } from "../src/util/errors.js";
import { Filesystem } from "../src/fs/filesystem.js";

const ACCESS = "system.posix_acl_access";
const DEFAULT = "system.posix_acl_default";
const U = ACL_UNDEFINED_ID;

const userObj = (perm: number) => ({ tag: ACL_TAG.USER_OBJ, perm, id: U });
const user = (id: number, perm: number) => ({ tag: ACL_TAG.USER, perm, id });
const groupObj = (perm: number) => ({ tag: ACL_TAG.GROUP_OBJ, perm, id: U });
const group = (id: number, perm: number) => ({ tag: ACL_TAG.GROUP, perm, id });
const mask = (perm: number) => ({ tag: ACL_TAG.MASK, perm, id: U });
const other = (perm: number) => ({ tag: ACL_TAG.OTHER, perm, id: U });

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof FsError) return e.errno;
    throw e;
  }
}

/** a valid ACL: USER_OBJ, USERs, GROUP_OBJ, GROUPs, MASK (when needed or by choice), OTHER */
const validAcl: fc.Arbitrary<Acl> = fc
  .record({
    u: fc.integer({ min: 0, max: 7 }),
    users: fc.array(fc.record({ id: fc.integer({ min: 0, max: 70000 }), perm: fc.integer({ min: 0, max: 7 }) }), { maxLength: 3 }),
    g: fc.integer({ min: 0, max: 7 }),
    groups: fc.array(fc.record({ id: fc.integer({ min: 0, max: 70000 }), perm: fc.integer({ min: 0, max: 7 }) }), { maxLength: 3 }),
    m: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
    o: fc.integer({ min: 0, max: 7 }),
  })
  .map(({ u, users, g, groups, m, o }) => {
    const named = users.length + groups.length > 0;
    const maskPerm = m ?? (named ? 7 : undefined);
    return [
      userObj(u),
      ...users.map((x) => user(x.id, x.perm)),
      groupObj(g),
      ...groups.map((x) => group(x.id, x.perm)),
      ...(maskPerm === undefined ? [] : [mask(maskPerm)]),
      other(o),
    ];
  });

test("encode and decode round trip; ids of the object entries are undefined", () => {
  fc.assert(
    fc.property(validAcl, (acl) => {
      const back = decodeAcl(encodeAcl(acl));
      assert.deepEqual(back, acl);
      checkAcl(back);
    }),
  );
  const raw = encodeAcl([userObj(6), groupObj(4), other(4)]);
  raw.writeUInt32LE(1234, 4 + 4); // an id on USER_OBJ is ignored
  assert.equal(decodeAcl(raw)[0]!.id, U);
});

test("malformed values: EINVAL, another version EOPNOTSUPP", () => {
  const good = encodeAcl([userObj(6), groupObj(4), other(4)]);
  assert.equal(errnoOf(() => decodeAcl(Buffer.alloc(3))), "EINVAL");
  assert.equal(errnoOf(() => decodeAcl(good.subarray(0, good.length - 1))), "EINVAL");
  const v1 = Buffer.from(good);
  v1.writeUInt32LE(1, 0);
  assert.equal(errnoOf(() => decodeAcl(v1)), "EOPNOTSUPP");
  const badTag = Buffer.from(good);
  badTag.writeUInt16LE(0x40, 4);
  assert.equal(errnoOf(() => decodeAcl(badTag)), "EINVAL");
  assert.deepEqual(decodeAcl(good.subarray(0, 4)), []);
});

test("checkAcl follows posix_acl_valid", () => {
  const bad: Acl[] = [
    [],
    [userObj(7)],
    [userObj(7), groupObj(7)],
    [groupObj(7), userObj(7), other(7)],
    [userObj(7), groupObj(7), other(7), other(7)],
    [userObj(7), user(5, 7), groupObj(7), other(7)], // named entry without a mask
    [userObj(7), groupObj(7), group(5, 7), other(7)],
    [userObj(7), groupObj(7), user(5, 7), mask(7), other(7)], // USER after GROUP_OBJ
    [userObj(7), groupObj(7), mask(7), mask(7), other(7)],
    [userObj(8), groupObj(7), other(7)],
    [userObj(7), userObj(7), groupObj(7), other(7)],
    [userObj(7), groupObj(7), other(7), mask(7)],
  ];
  for (const acl of bad) assert.equal(errnoOf(() => checkAcl(acl)), "EINVAL", JSON.stringify(acl));
  checkAcl([userObj(7), groupObj(5), other(0)]);
  checkAcl([userObj(7), groupObj(5), mask(1), other(0)]);
  checkAcl([userObj(7), user(9, 1), user(3, 2), groupObj(5), group(4, 4), mask(1), other(0)]);
});

test("property: a mode and its minimal ACL are equivalent both ways", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0o7777 }), fc.integer({ min: 0, max: 0o7777 }), (mode, base) => {
      const acl = aclOfMode(mode);
      checkAcl(acl);
      const eq = aclEquivMode(acl, base);
      assert.equal(eq.equivalent, true);
      assert.equal(eq.mode, (base & ~0o777) | (mode & 0o777));
    }),
  );
});

test("property: equivalence means no named entries and no mask; the mode's group bits are the mask", () => {
  fc.assert(
    fc.property(validAcl, fc.integer({ min: 0, max: 0o7777 }), (acl, base) => {
      const eq = aclEquivMode(acl, base);
      assert.equal(eq.equivalent, acl.length === 3);
      const perm = (tag: number) => acl.find((e) => e.tag === tag)?.perm;
      assert.equal((eq.mode >> 6) & 7, perm(ACL_TAG.USER_OBJ));
      assert.equal((eq.mode >> 3) & 7, perm(ACL_TAG.MASK) ?? perm(ACL_TAG.GROUP_OBJ));
      assert.equal(eq.mode & 7, perm(ACL_TAG.OTHER));
      assert.equal(eq.mode & ~0o777, base & ~0o777);
      // the ACL after a chmod to its own mode is unchanged, and always agrees with the mode it was given
      assert.deepEqual(aclChmod(acl, eq.mode), acl);
      const m2 = (base * 7) & 0o777;
      assert.equal(aclEquivMode(aclChmod(acl, m2), 0).mode, m2);
    }),
  );
});

test("property: create masks the default ACL by the mode and the mode by the ACL", () => {
  fc.assert(
    fc.property(validAcl, fc.integer({ min: 0, max: 0o7777 }), (dflt, mode) => {
      const r = aclCreateMasq(dflt, mode);
      assert.equal(r.mode & ~0o777, mode & ~0o777);
      assert.equal(r.mode & 0o777 & ~mode, 0, "never more permissive than the mode");
      if (r.acl) {
        checkAcl(r.acl);
        assert.equal(aclEquivMode(r.acl, mode).mode, r.mode, "the stored ACL agrees with the mode");
        // named entries keep their perms (the mask limits them)
        assert.deepEqual(
          r.acl.filter((e) => e.tag === ACL_TAG.USER || e.tag === ACL_TAG.GROUP),
          dflt.filter((e) => e.tag === ACL_TAG.USER || e.tag === ACL_TAG.GROUP),
        );
      } else {
        assert.equal(dflt.length, 3);
        assert.equal(r.mode & 0o777, aclEquivMode(dflt, 0).mode & mode & 0o777);
      }
    }),
  );
});

test("setting an access ACL sets the mode; an equivalent one is not stored", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o4644, 0, 0);
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl([userObj(7), groupObj(5), other(1)]));
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o7777, 0o4751);
  await expectErrno(t.fs.getxattr(f.ino, ACCESS), "ENODATA");
  assert.deepEqual(await t.fs.listxattr(f.ino), []);

  const full = [userObj(6), user(1000, 7), groupObj(4), group(50, 2), mask(6), other(0)];
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl(full));
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o7777, 0o4660, "group bits are the mask");
  assert.deepEqual(decodeAcl(await t.fs.getxattr(f.ino, ACCESS)), full);
  assert.deepEqual(await t.fs.listxattr(f.ino), [ACCESS]);

  // chmod rewrites the owner, mask and other entries
  await t.fs.setattr(f.ino, { mode: 0o741 });
  assert.deepEqual(decodeAcl(await t.fs.getxattr(f.ino, ACCESS)), [userObj(7), user(1000, 7), groupObj(4), group(50, 2), mask(4), other(1)]);

  // an equivalent ACL replaces it: the mode is set and the xattr goes
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl([userObj(6), groupObj(0), other(0)]));
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o777, 0o600);
  await expectErrno(t.fs.getxattr(f.ino, ACCESS), "ENODATA");

  // aclKillSgid (the caller may not keep setgid) clears it with the ACL
  await t.fs.setattr(f.ino, { mode: 0o2660 });
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl(full), 0, { aclKillSgid: true });
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o7777, 0o660);
  await t.fs.setattr(f.ino, { mode: 0o2660 });
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl(full));
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o7777, 0o2660);

  // removing leaves the mode
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl(full));
  await t.fs.removexattr(f.ino, ACCESS);
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o777, 0o660);
  await expectErrno(t.fs.removexattr(f.ino, ACCESS), "ENODATA");
  // an empty ACL (header only) removes too, and is fine when there is none
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl(full));
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl([]));
  await expectErrno(t.fs.getxattr(f.ino, ACCESS), "ENODATA");
  await t.fs.setxattr(f.ino, ACCESS, encodeAcl([]));
  await assertConsistent(t);
});

test("bad ACL values are refused and change nothing", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await expectErrno(t.fs.setxattr(f.ino, ACCESS, "not an acl"), "EOPNOTSUPP");
  await expectErrno(t.fs.setxattr(f.ino, ACCESS, Buffer.from([2, 0, 0, 0, 1])), "EINVAL");
  await expectErrno(t.fs.setxattr(f.ino, ACCESS, encodeAcl([userObj(7), user(3, 7), groupObj(7), other(7)])), "EINVAL");
  assert.equal((await t.fs.getattr(f.ino)).mode & 0o777, 0o644);
  await expectErrno(t.fs.setxattr(f.ino, DEFAULT, encodeAcl([userObj(7), groupObj(7), other(7)])), "EACCES");
  assert.deepEqual(await t.fs.listxattr(f.ino), []);
});

test("new inodes inherit the default ACL; without one the umask applies", async () => {
  const t = newFs();
  const plain = await t.fs.mkdir(ROOT, "plain", 0o777, 0, 0, 0o022);
  assert.equal(plain.mode & 0o777, 0o755);
  assert.equal((await t.fs.create(plain.ino, "f", 0o666, 0, 0, 0, 0o027)).mode & 0o777, 0o640);
  assert.equal((await t.fs.mknod(plain.ino, "p", 0o010666, 0, 0, 0, 0o077)).mode & 0o777, 0o600);
  assert.equal((await t.fs.tmpfile(plain.ino, 0o666, 0, 0, 0o022)).mode & 0o777, 0o644);
  assert.equal((await t.fs.symlink(plain.ino, "l", "x", 0, 0)).mode & 0o777, 0o777);

  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  const dflt = [userObj(7), user(1000, 7), groupObj(5), mask(7), other(0)];
  await t.fs.setxattr(d.ino, DEFAULT, encodeAcl(dflt));
  assert.equal((await t.fs.getattr(d.ino)).mode & 0o777, 0o755, "a default ACL leaves the mode");

  // a file: access ACL from the default masked by the mode; umask ignored
  const f = await t.fs.create(d.ino, "f", 0o640, 0, 0, 0, 0o077);
  assert.equal(f.mode & 0o777, 0o640);
  assert.deepEqual(decodeAcl(await t.fs.getxattr(f.ino, ACCESS)), [userObj(6), user(1000, 7), groupObj(5), mask(4), other(0)]);
  await expectErrno(t.fs.getxattr(f.ino, DEFAULT), "ENODATA");

  // a directory also gets the default as its own default
  const sub = await t.fs.mkdir(d.ino, "sub", 0o777, 0, 0, 0o077);
  assert.equal(sub.mode & 0o777, 0o770);
  assert.deepEqual(decodeAcl(await t.fs.getxattr(sub.ino, DEFAULT)), dflt);
  assert.deepEqual(decodeAcl(await t.fs.getxattr(sub.ino, ACCESS)), [userObj(7), user(1000, 7), groupObj(5), mask(7), other(0)]);
  const deeper = await t.fs.create(sub.ino, "g", 0o666, 0, 0);
  assert.equal(deeper.mode & 0o777, 0o660);

  // tmpfile and mknod inherit too; symlinks never
  const tf = await t.fs.tmpfile(d.ino, 0o600, 0, 0, 0o077);
  assert.deepEqual(decodeAcl(await t.fs.getxattr(tf.ino, ACCESS)), [userObj(6), user(1000, 7), groupObj(5), mask(0), other(0)]);
  const fifo = await t.fs.mknod(d.ino, "fifo", 0o010644, 0, 0, 0, 0o077);
  assert.equal(fifo.mode & 0o777, 0o640);
  const l = await t.fs.symlink(d.ino, "l", "target", 0, 0);
  assert.equal(l.mode & 0o777, 0o777);
  assert.deepEqual(await t.fs.listxattr(l.ino), []);

  // a minimal default gives no access ACL, only the masked mode
  const m = await t.fs.mkdir(ROOT, "m", 0o755, 0, 0);
  await t.fs.setxattr(m.ino, DEFAULT, encodeAcl([userObj(7), groupObj(0), other(5)]));
  const mf = await t.fs.create(m.ino, "f", 0o666, 0, 0, 0, 0o022);
  assert.equal(mf.mode & 0o777, 0o604);
  assert.deepEqual(await t.fs.listxattr(mf.ino), []);

  // removing the default stops inheritance
  await t.fs.removexattr(d.ino, DEFAULT);
  assert.equal((await t.fs.create(d.ino, "after", 0o666, 0, 0, 0, 0o022)).mode & 0o777, 0o644);
  await assertConsistent(t);
});

test("noacl: the ACL xattrs are refused, defaults ignored, umask always applied", async () => {
  const t = newFs();
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  await t.fs.setxattr(d.ino, DEFAULT, encodeAcl([userObj(7), groupObj(7), other(7)]));
  const off = newFs({ acl: false });
  // the same storage seen without ACLs
  const noacl = new Filesystem(t.st, { atime: "noatime", acl: false });
  assert.equal(noacl.acl, false);
  await expectErrno(noacl.getxattr(d.ino, DEFAULT), "EOPNOTSUPP");
  await expectErrno(noacl.setxattr(d.ino, ACCESS, encodeAcl([userObj(7), groupObj(7), other(7)])), "EOPNOTSUPP");
  await expectErrno(noacl.removexattr(d.ino, DEFAULT), "EOPNOTSUPP");
  assert.deepEqual(await noacl.listxattr(d.ino), []);
  assert.deepEqual(await t.fs.listxattr(d.ino), [DEFAULT]);
  const f = await noacl.create(d.ino, "f", 0o666, 0, 0, 0, 0o022);
  assert.equal(f.mode & 0o777, 0o644);
  await noacl.settled(); // t.fs shares the storage, not noacl's pending changes
  assert.deepEqual(await t.fs.listxattr(f.ino), []);
  await noacl.setxattr(d.ino, "user.x", "ok");
  await expectErrno(off.fs.setxattr(ROOT, ACCESS, encodeAcl([userObj(7), groupObj(7), other(7)])), "EOPNOTSUPP");
});
