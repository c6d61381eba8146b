import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ROOT, assertConsistent, expectErrno, newFs, type TestFs } from "./support/fs_harness.js";
import { parseQuotaRule, formatQuotaRule } from "../src/cli/cmd_quota.js";
import { compareQuotaRules } from "../src/fs/quota.js";
import { QUOTA_NAME_SELECT, QUOTA_OP, QUOTA_RULE_COUNT, QUOTA_SOURCE, decodeQuotaRule, encodeQuotaRule, type QuotaRule } from "../src/format/quota_items.js";
import { encodeTotl, totlKey } from "../src/format/tag_items.js";
import { IAX } from "../src/fs/attr_x.js";

const ADMIN = { sysAdmin: true };
const rule = parseQuotaRule;

/** set a totl xattr on the root and "commit" (a new transaction seq drops cached checks) */
async function setTotl(t: TestFs, name: string, v: number): Promise<void> {
  await t.fs.setxattr(ROOT, `scoutfs.totl.q.${name}`, String(v), 0, ADMIN);
  await t.st.trans.sync();
}

async function listed(t: TestFs): Promise<string[]> {
  return (await t.fs.listQuotaRules(0, 0, 1000)).map((s) => formatQuotaRule(s.rule));
}

test("rules parse and print in the original's syntax, and round trip through their item", () => {
  const r = rule("  7 13,L,- 15,P,S 0x11,U,S D 33 C");
  assert.deepEqual(r.names.map((n) => [n.val, n.source, n.flags]), [[13n, QUOTA_SOURCE.literal, 0], [15n, QUOTA_SOURCE.proj, QUOTA_NAME_SELECT], [17n, QUOTA_SOURCE.uid, QUOTA_NAME_SELECT]]);
  assert.equal(r.op, QUOTA_OP.data);
  assert.equal(r.flags, QUOTA_RULE_COUNT);
  assert.equal(formatQuotaRule(r), "  7 13,L,- 15,P,S 17,U,S D 33 C");
  assert.deepEqual(decodeQuotaRule(encodeQuotaRule(r)), r);
  assert.equal(formatQuotaRule(rule("1 -1,L,- 0,L,- 0,L,- I 5 -")), "  1 18446744073709551615,L,- 0,L,- 0,L,- I 5 -");
  for (const [bad, msg] of [
    ["7 13,L,- 15,L,-", /missing fields/],
    ["7 13,X,- 15,L,- 17,L,- I 33 -", /invalid name source 'X' in name #1/],
    ["7 13,L,- 15,L,Q 17,L,- I 33 -", /invalid name flags 'Q' in name #2/],
    ["7 13,L,- 15,L,- 17,L,- Z 33 -", /invalid op 'Z'/],
    ["7 13,L,- 15,L,- 17,L,- I 33 Y", /invalid rule flags 'Y'/],
  ] as const) {
    assert.throws(() => rule(bad), msg, bad);
  }
});

test("rules are added once, deleted, listed; invalid rules refused", async () => {
  const t = newFs();
  await t.fs.modQuotaRule(true, rule("7 13,L,- 15,L,- 17,L,- I 33 -"));
  await expectErrno(t.fs.modQuotaRule(true, rule("7 13,L,- 15,L,- 17,L,- I 33 -")), "EEXIST");
  await t.fs.modQuotaRule(true, rule("7 13,L,- 15,L,- 17,L,- I 34 -"));
  assert.deepEqual((await listed(t)).sort(), ["  7 13,L,- 15,L,- 17,L,- I 33 -", "  7 13,L,- 15,L,- 17,L,- I 34 -"]);
  await t.fs.modQuotaRule(false, rule("7 13,L,- 15,L,- 17,L,- I 33 -"));
  await expectErrno(t.fs.modQuotaRule(false, rule("7 13,L,- 15,L,- 17,L,- I 33 -")), "ENOENT");
  assert.deepEqual(await listed(t), ["  7 13,L,- 15,L,- 17,L,- I 34 -"]);
  await expectErrno(t.fs.modQuotaRule(true, rule("1 1,L,S 1,L,- 1,L,- I 1 -")), "EINVAL");
  await expectErrno(t.fs.modQuotaRule(true, rule("1 1,U,S 2,U,S 1,L,- I 1 -")), "EINVAL");
  await t.fs.modQuotaRule(true, rule("1 1,U,S 1,U,S 1,L,- I 1 -"));
  // rules whose encodings share a hash still each get their own item
  const c = newFs({ nameHash: () => 5 });
  for (let i = 0; i < 5; i++) await c.fs.modQuotaRule(true, rule(`1 ${i},L,- 0,L,- 0,L,- I 1 -`));
  await c.fs.modQuotaRule(false, rule("1 2,L,- 0,L,- 0,L,- I 1 -"));
  await c.fs.modQuotaRule(true, rule("1 9,L,- 0,L,- 0,L,- I 1 -"));
  assert.deepEqual((await listed(c)).map((l) => l.split(" ")[3]).sort(), ["0,L,-", "1,L,-", "3,L,-", "4,L,-", "9,L,-"]);
  const paged = [...(await c.fs.listQuotaRules(0, 0, 2)), ...(await c.fs.listQuotaRules(5, 2, 10))];
  assert.equal(paged.length, 5, "a listing continues from a stored position");
});

test("the original's enforcement cases: defaults, selection, priority, op, count", async () => {
  const t = newFs();
  const uid = 22222;
  const gid = 44444;
  const dir = await t.fs.mkdir(ROOT, "dir", 0o40777, uid, gid);
  const create = (u: number, g: number) => t.fs.create(dir.ino, "file", 0o100644, u, g).then(() => t.fs.unlink(dir.ino, "file"));

  // a default rule (no selection) on a literal totl name
  await t.fs.modQuotaRule(true, rule("1 1,L,- 1,L,- 1,L,- I 1 -"));
  await setTotl(t, "1.1.1", 2);
  await expectErrno(create(uid, 0), "EDQUOT");
  await expectErrno(t.fs.mkdir(dir.ino, "sub", 0o40755, uid, 0), "EDQUOT");
  await expectErrno(t.fs.symlink(dir.ino, "l", "x", uid, 0), "EDQUOT");
  await expectErrno(t.fs.tmpfile(dir.ino, 0o100600, uid, 0), "EDQUOT");
  await t.fs.removexattr(ROOT, "scoutfs.totl.q.1.1.1", ADMIN);
  await t.st.trans.sync();
  await create(uid, 0);
  await t.fs.modQuotaRule(false, rule("1 1,L,- 1,L,- 1,L,- I 1 -"));

  // selecting rules apply to their uid or gid only; all selections must match
  await t.fs.modQuotaRule(true, rule(`1 ${uid},U,S ${gid},G,S 1,L,- I 1 -`));
  await setTotl(t, `${uid}.${gid}.1`, 2);
  await create(uid, 0);
  await create(0, gid);
  await expectErrno(create(uid, gid), "EDQUOT");
  await t.fs.modQuotaRule(false, rule(`1 ${uid},U,S ${gid},G,S 1,L,- I 1 -`));

  // the op tells inode and data rules apart
  await t.fs.modQuotaRule(true, rule(`1 ${uid},U,S 1,L,- 1,L,- D 1 -`));
  await setTotl(t, `${uid}.1.1`, 2);
  const f = await t.fs.create(dir.ino, "kept", 0o100644, uid, gid);
  await expectErrno(t.fs.write(f.ino, 0, Buffer.from("x")), "EDQUOT");
  await expectErrno(t.fs.fallocate(f.ino, 0, 0, 4096), "EDQUOT");
  const other = await t.fs.create(dir.ino, "other", 0o100644, 1, 1);
  await t.fs.write(other.ino, 0, Buffer.from("other owners are not limited"));
  await t.fs.modQuotaRule(false, rule(`1 ${uid},U,S 1,L,- 1,L,- D 1 -`));

  // the higher priority rule applies
  await t.fs.modQuotaRule(true, rule(`1 ${uid},U,S 1,L,- 1,L,- I 1000 -`));
  await create(uid, 0);
  await t.fs.modQuotaRule(true, rule(`2 ${uid},U,S 1,L,- 1,L,- I 1 -`));
  await expectErrno(create(uid, 0), "EDQUOT");
  await t.fs.modQuotaRule(false, rule(`2 ${uid},U,S 1,L,- 1,L,- I 1 -`));
  await t.fs.modQuotaRule(false, rule(`1 ${uid},U,S 1,L,- 1,L,- I 1000 -`));

  // C: the limit is on the count of xattrs; P: the project id of the directory
  await t.fs.setAttrX(dir.ino, { mask: IAX.projectId, projectId: 77n });
  await t.fs.modQuotaRule(true, rule("1 77,P,S 9,L,- 9,L,- I 2 C"));
  await t.fs.setxattr(ROOT, "scoutfs.totl.a.77.9.9", "1000000", 0, ADMIN);
  await t.st.trans.sync();
  await create(uid, 0);
  await t.fs.setxattr(dir.ino, "scoutfs.totl.b.77.9.9", "0", 0, ADMIN);
  await t.st.trans.sync();
  await expectErrno(create(uid, 0), "EDQUOT");
  // the root's project is 0: the project rule does not apply there
  await t.fs.create(ROOT, "elsewhere", 0o100644, uid, 0);
  await assertConsistent(t);
});

test("a check result is kept until the next commit", async () => {
  const t = newFs();
  const dir = await t.fs.mkdir(ROOT, "d", 0o40777, 0, 0);
  await t.fs.modQuotaRule(true, rule("1 5,L,- 5,L,- 5,L,- I 1 -"));
  await t.fs.create(dir.ino, "a", 0o100644, 0, 0);
  // the total changes without a commit: the kept result still lets creations through
  t.st.trans.holders++;
  t.st.items.delta(totlKey([5n, 5n, 5n]), encodeTotl({ total: 9n, count: 1n }));
  t.st.trans.holders--;
  await t.fs.create(dir.ino, "b", 0o100644, 0, 0);
  await t.st.trans.sync();
  await expectErrno(t.fs.create(dir.ino, "c", 0o100644, 0, 0), "EDQUOT");
});

test("property: the rule that applies is the greatest matching rule, as a brute-force search finds it", async () => {
  const nameArb = fc.record({ val: fc.bigInt({ min: 0n, max: 3n }), source: fc.integer({ min: 0, max: 3 }), flags: fc.integer({ min: 0, max: 1 }) });
  const ruleArb = fc
    .record({ prio: fc.integer({ min: 0, max: 3 }), names: fc.tuple(nameArb, nameArb, nameArb), op: fc.integer({ min: 0, max: 1 }), limit: fc.bigInt({ min: 0n, max: 3n }), flags: fc.integer({ min: 0, max: 1 }) })
    .map((r) => ({ ...r, names: r.names.map((n) => (n.source === 0 ? { ...n, flags: 0 } : n)) as QuotaRule["names"] }) as QuotaRule);
  const inputArb = fc.record({ op: fc.integer({ min: 0, max: 1 }), proj: fc.bigInt({ min: 0n, max: 3n }), uid: fc.integer({ min: 0, max: 3 }), gid: fc.integer({ min: 0, max: 3 }) });
  const totlsArb = fc.array(fc.tuple(fc.tuple(fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 3n })), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 3 })), { maxLength: 10 });
  await fc.assert(
    fc.asyncProperty(fc.array(ruleArb, { maxLength: 8 }), inputArb, totlsArb, async (rules, inp, totls) => {
      const t = newFs();
      const valid: QuotaRule[] = [];
      for (const r of rules) {
        try {
          await t.fs.modQuotaRule(true, r);
          valid.push(r);
        } catch {
          // invalid or duplicate: the model skips it too
        }
      }
      const sums = new Map<string, { total: bigint; count: bigint }>();
      t.st.trans.holders++;
      for (const [name, total, count] of totls) {
        t.st.items.delta(totlKey(name), encodeTotl({ total: BigInt(total), count: BigInt(count) }));
        const k = name.join(".");
        const s = sums.get(k) ?? { total: 0n, count: 0n };
        sums.set(k, { total: s.total + BigInt(total), count: s.count + BigInt(count) });
      }
      t.st.trans.holders--;
      const attr = (s: number) => (s === 1 ? inp.proj : s === 2 ? BigInt(inp.uid) : BigInt(inp.gid));
      const matching = valid.filter((r) => r.op === inp.op && r.names.every((n) => !(n.flags & QUOTA_NAME_SELECT) || attr(n.source) === n.val));
      const best = matching.sort(compareQuotaRules).at(-1);
      let want = true;
      if (best) {
        const s = sums.get(best.names.map((n) => (n.source === 0 ? n.val : attr(n.source))).join("."));
        if (s) want = (best.flags & QUOTA_RULE_COUNT ? s.count : s.total) < best.limit;
      }
      const got = await t.fs.quotas.check(inp).then(() => true, () => false);
      assert.equal(got, want);
    }),
    { numRuns: 300 },
  );
});
