import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ROOT, assertConsistent, expectErrno, newFs, type TestFs } from "./support/fs_harness.js";
import { parseIndxName, parseTagU64, parseTotlName, parseXattrTags } from "../src/fs/xattr_tags.js";
import { indxKey, indxPosOfKey, totlKey, totlNameOfKey } from "../src/format/tag_items.js";
import { U64_MAX } from "../src/format/key.js";
import { isFsError } from "../src/util/errors.js";
import { XATTR_CREATE } from "../src/fs/types.js";

const ADMIN = { sysAdmin: true };
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const b = (s: string) => Buffer.from(s);

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!isFsError(e)) throw e;
    return e.errno;
  }
}

test("tags are parsed from the scoutfs. prefix as the original does", () => {
  assert.deepEqual(parseXattrTags(b("user.totl.1.2.3")), { hide: false, srch: false, totl: false, indx: false });
  assert.deepEqual(parseXattrTags(b("scoutfs.hide.srch.name")), { hide: true, srch: true, totl: false, indx: false });
  assert.deepEqual(parseXattrTags(b("scoutfs.totl.x.1.2.3")), { hide: false, srch: false, totl: true, indx: false });
  assert.equal(errnoOf(() => parseXattrTags(b("scoutfs.other.name"))), "EINVAL", "a long scoutfs. name needs a tag");
  assert.equal(errnoOf(() => parseXattrTags(b("scoutfs.totl.indx.x.1.2"))), "EINVAL", "totl and indx exclude each other");
  // shorter than prefix + one tag + one byte: a plain xattr, as in the original
  assert.deepEqual(parseXattrTags(b("scoutfs.x")), { hide: false, srch: false, totl: false, indx: false });
});

test("totl and indx numbers are u64s as kstrtoull reads them", () => {
  assert.equal(parseTagU64("10"), 10n);
  assert.equal(parseTagU64("0x1f"), 31n);
  assert.equal(parseTagU64("017"), 15n);
  assert.equal(parseTagU64("0"), 0n);
  assert.equal(parseTagU64("18446744073709551615"), U64_MAX);
  for (const bad of ["", "+1", "10.", "-", "-1", "junk10", "10junk", "10\n", "18446744073709551616", "0x", "08", "0".repeat(24)]) {
    assert.equal(parseTagU64(bad), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(parseTotlName(b("scoutfs.totl.test.1.2.3")), [1n, 2n, 3n]);
  assert.deepEqual(parseTotlName(b("scoutfs.totl.test-9.0x10.0.077")), [16n, 0n, 63n]);
  for (const bad of ["scoutfs.totl.test...", "scoutfs.totl.test..2.3", "scoutfs.totl.test.1..3", "scoutfs.totl.test.1.2.", "scoutfs.totl.test.1", "scoutfs.totl.test.1.2"]) {
    assert.equal(errnoOf(() => parseTotlName(b(bad))), "EINVAL", bad);
  }
  assert.deepEqual(parseIndxName(b("scoutfs.hide.indx.t.255.18446744073709551615")), { major: 255, minor: U64_MAX });
  for (const bad of ["scoutfs.hide.indx.test.5", "scoutfs.hide.indx.test.256.100", "scoutfs.hide.indx.test.abc.100", "scoutfs.hide.indx.test.5.-1"]) {
    assert.equal(errnoOf(() => parseIndxName(b(bad))), "EINVAL", bad);
  }
});

test("tag item keys keep their fields and sort as (major, minor, ino, id)", () => {
  fc.assert(
    fc.property(u64, u64, u64, (x, y, z) => {
      assert.deepEqual(totlNameOfKey(totlKey([x, y, z])), [x, y, z]);
      const p = { major: Number(x & 0xffn), minor: y, ino: z, xid: x };
      assert.deepEqual(indxPosOfKey(indxKey(p)), p);
    }),
  );
  const keys = [
    { major: 1, minor: 0x1ffn, ino: 5n, xid: 0n },
    { major: 1, minor: 0x200n, ino: 1n, xid: 0n },
    { major: 1, minor: 0x200n, ino: 1n, xid: 7n },
    { major: 2, minor: 0n, ino: 0n, xid: 0n },
  ].map(indxKey);
  for (let i = 1; i < keys.length; i++) assert.ok(Buffer.compare(keys[i - 1]!, keys[i]!) < 0);
});

async function totals(t: TestFs): Promise<string[]> {
  return (await t.fs.xattrTotals(undefined, 1000)).map((x) => `${x.name.join(".")} = ${x.total}, ${x.count}`);
}

test("tagged xattrs need CAP_SYS_ADMIN; hidden ones are left out of listxattr", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o100644, 0, 0);
  await expectErrno(t.fs.setxattr(f.ino, "scoutfs.hide.x", "1"), "EPERM");
  await expectErrno(t.fs.setxattr(f.ino, "scoutfs.nope.x", "1", 0, ADMIN), "EINVAL");
  await t.fs.setxattr(f.ino, "scoutfs.hide.x", "1", 0, ADMIN);
  await t.fs.setxattr(f.ino, "scoutfs.x", "plain");
  await t.fs.setxattr(f.ino, "user.a", "a");
  assert.deepEqual((await t.fs.listxattr(f.ino)).sort(), ["scoutfs.x", "user.a"]);
  assert.deepEqual((await t.fs.listHiddenXattrs(f.ino)).map(String), ["scoutfs.hide.x"]);
  assert.equal((await t.fs.getxattr(f.ino, "scoutfs.hide.x")).toString(), "1", "a hidden xattr reads by name");
  await expectErrno(t.fs.removexattr(f.ino, "scoutfs.hide.x"), "EPERM");
  await t.fs.removexattr(f.ino, "scoutfs.hide.x", ADMIN);
  assert.deepEqual(await t.fs.listHiddenXattrs(f.ino), []);
  await assertConsistent(t);
});

test("totals follow xattr creation, update, removal and inode deletion (the original's totl-xattr-tag cases)", async () => {
  const t = newFs();
  const f1 = await t.fs.create(ROOT, "file-1", 0o100644, 0, 0);
  await t.fs.setxattr(f1.ino, "scoutfs.totl.test.1.2.3", "1", 0, ADMIN);
  await t.fs.setxattr(f1.ino, "scoutfs.totl.test.4.5.6", "1", 0, ADMIN);
  assert.deepEqual(await totals(t), ["1.2.3 = 1, 1", "4.5.6 = 1, 1"]);
  const f2 = await t.fs.create(ROOT, "file-2", 0o100644, 0, 0);
  await t.fs.setxattr(f2.ino, "scoutfs.totl.test.1.2.3", "1", 0, ADMIN);
  await t.fs.setxattr(f2.ino, "scoutfs.totl.test.4.5.6", "1", 0, ADMIN);
  assert.deepEqual(await totals(t), ["1.2.3 = 2, 2", "4.5.6 = 2, 2"]);
  await t.fs.removexattr(f2.ino, "scoutfs.totl.test.4.5.6", ADMIN);
  assert.deepEqual(await totals(t), ["1.2.3 = 2, 2", "4.5.6 = 1, 1"]);
  await t.fs.setxattr(f2.ino, "scoutfs.totl.test.1.2.3", "10", 0, ADMIN);
  assert.deepEqual(await totals(t), ["1.2.3 = 11, 2", "4.5.6 = 1, 1"]);
  await t.fs.unlink(ROOT, "file-1");
  assert.deepEqual(await totals(t), ["1.2.3 = 10, 1"]);
  await t.fs.unlink(ROOT, "file-2");
  assert.deepEqual(await totals(t), []);
  const g = await t.fs.create(ROOT, "g", 0o100644, 0, 0);
  for (const bad of ["+1", "10.", "-", "junk10", "10junk"]) await expectErrno(t.fs.setxattr(g.ino, "scoutfs.totl.test.1.2.3", bad, 0, ADMIN), "EINVAL");
  await expectErrno(t.fs.setxattr(g.ino, "scoutfs.totl.test.1.2", "1", 0, ADMIN), "EINVAL");
  await expectErrno(t.fs.setxattr(g.ino, "scoutfs.totl.test.1.2.3", "1", XATTR_CREATE, ADMIN).then(() => t.fs.setxattr(g.ino, "scoutfs.totl.test.1.2.3", "2", XATTR_CREATE, ADMIN)), "EEXIST");
  assert.deepEqual(await totals(t), ["1.2.3 = 1, 1"], "a failed change leaves the total alone");
  await assertConsistent(t);
});

test("an unlinked file still open keeps its totals until its last close", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o100644, 0, 0);
  await t.fs.setxattr(f.ino, "scoutfs.totl.t.9.9.9", "7", 0, ADMIN);
  await t.fs.open(f.ino);
  await t.fs.unlink(ROOT, "f");
  assert.deepEqual(await totals(t), ["9.9.9 = 7, 1"]);
  await t.fs.release(f.ino);
  assert.deepEqual(await totals(t), []);
  await assertConsistent(t);
});

test("indx entries: no value, set again is a no-op, gone with the xattr or the inode, one per position", async () => {
  const t = newFs();
  const idx = async () => (await t.fs.xattrIndex({ major: 0, minor: 0n, ino: 0n }, { major: 255, minor: U64_MAX, ino: U64_MAX }, 100)).map((e) => `${e.major}.${e.minor} = ${e.ino}`);
  const f = await t.fs.create(ROOT, "f", 0o100644, 0, 0);
  await expectErrno(t.fs.setxattr(f.ino, "scoutfs.hide.indx.test.5.100", "1", 0, ADMIN), "EINVAL");
  await t.fs.setxattr(f.ino, "scoutfs.hide.indx.test.5.100", "", 0, ADMIN);
  const before = await t.fs.getattr(f.ino);
  await t.fs.setxattr(f.ino, "scoutfs.hide.indx.test.5.100", "", 0, ADMIN);
  assert.deepEqual((await t.fs.getattr(f.ino)).ctime, before.ctime, "setting an indx xattr again changes nothing");
  await t.fs.setxattr(f.ino, "scoutfs.hide.indx.other.5.100", "", 0, ADMIN);
  await t.fs.setxattr(f.ino, "scoutfs.hide.indx.b.5.300", "", 0, ADMIN);
  const g = await t.fs.create(ROOT, "g", 0o100644, 0, 0);
  await t.fs.setxattr(g.ino, "scoutfs.hide.indx.test.5.100", "", 0, ADMIN);
  assert.deepEqual(await idx(), [`5.100 = ${f.ino}`, `5.100 = ${g.ino}`, `5.300 = ${f.ino}`]);
  const range = await t.fs.xattrIndex({ major: 5, minor: 300n, ino: 0n }, { major: 5, minor: 300n, ino: U64_MAX }, 100);
  assert.deepEqual(range.map((e) => e.ino), [BigInt(f.ino)]);
  await t.fs.removexattr(f.ino, "scoutfs.hide.indx.b.5.300", ADMIN);
  await t.fs.unlink(ROOT, "g");
  assert.deepEqual(await idx(), [`5.100 = ${f.ino}`]);
  await assertConsistent(t);
});

test("search finds the inodes with a srch xattr; name hash collisions are false positives, never misses", async () => {
  // every name hashes alike: the search cannot tell names apart
  const t = newFs({ nameHash: () => 42 });
  const files = [];
  for (let i = 0; i < 5; i++) files.push(await t.fs.create(ROOT, `f${i}`, 0o100644, 0, 0));
  await t.fs.setxattr(files[1]!.ino, "scoutfs.srch.a", "1", 0, ADMIN);
  await t.fs.setxattr(files[3]!.ino, "scoutfs.srch.a", "1", 0, ADMIN);
  await t.fs.setxattr(files[3]!.ino, "scoutfs.srch.a", "2", 0, ADMIN);
  await t.fs.setxattr(files[4]!.ino, "scoutfs.srch.b", "1", 0, ADMIN);
  const found = async (n: string, from = 0, limit = 100) => t.fs.searchXattrs(b(n), from, limit);
  assert.deepEqual((await found("scoutfs.srch.a")).inos, [files[1]!.ino, files[3]!.ino, files[4]!.ino]);
  const firstTwo = await found("scoutfs.srch.a", 0, 2);
  assert.deepEqual(firstTwo, { inos: [files[1]!.ino, files[3]!.ino], complete: false });
  assert.deepEqual((await found("scoutfs.srch.a", files[3]!.ino + 1)).inos, [files[4]!.ino]);
  await t.fs.removexattr(files[1]!.ino, "scoutfs.srch.a", ADMIN);
  await t.fs.unlink(ROOT, "f4");
  assert.deepEqual(await found("scoutfs.srch.a"), { inos: [files[3]!.ino], complete: true });
  await expectErrno(found("user.srch.a"), "EINVAL");
  await assertConsistent(t);
});

test("property: totals equal a model's sums over any sequence of tagged xattr changes and deletions", async () => {
  type Op = { kind: number; file: number; name: number; value: number };
  const opArb = fc.record({ kind: fc.integer({ min: 0, max: 3 }), file: fc.nat(3), name: fc.nat(2), value: fc.nat(1000) });
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops: Op[]) => {
      const t = newFs();
      const inos: (number | undefined)[] = [];
      // model: file -> name -> value
      const model = new Map<number, Map<number, number>>();
      const nameOf = (n: number) => `scoutfs.totl.n${n}.${n % 2}.0.${n}`;
      for (const op of ops) {
        if (inos[op.file] === undefined) {
          inos[op.file] = (await t.fs.create(ROOT, `f${op.file}`, 0o100644, 0, 0)).ino;
          model.set(op.file, new Map());
        }
        const ino = inos[op.file]!;
        const m = model.get(op.file)!;
        if (op.kind <= 1) {
          await t.fs.setxattr(ino, nameOf(op.name), String(op.value), 0, ADMIN);
          m.set(op.name, op.value);
        } else if (op.kind === 2) {
          if (m.has(op.name)) await t.fs.removexattr(ino, nameOf(op.name), ADMIN);
          else await expectErrno(t.fs.removexattr(ino, nameOf(op.name), ADMIN), "ENODATA");
          m.delete(op.name);
        } else {
          await t.fs.unlink(ROOT, `f${op.file}`);
          inos[op.file] = undefined;
          model.delete(op.file);
        }
      }
      const want = new Map<string, { total: bigint; count: bigint }>();
      for (const m of model.values()) {
        for (const [n, v] of m) {
          const k = `${n % 2}.0.${n}`;
          const s = want.get(k) ?? { total: 0n, count: 0n };
          s.total += BigInt(v);
          s.count++;
          want.set(k, s);
        }
      }
      const got = await t.fs.xattrTotals(undefined, 100);
      assert.deepEqual(
        new Map(got.map((x) => [x.name.join("."), { total: x.total, count: x.count }])),
        new Map([...want].filter(([, s]) => s.count > 0n)),
      );
      await assertConsistent(t);
    }),
    { numRuns: 60 },
  );
});
