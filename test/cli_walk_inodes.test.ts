/*
 * walk-inodes: position parsing, the walk's bounds on an in-process mount,
 * and `scoutfs walk-inodes` through a real mount's control socket (paging
 * past one batch, numbering and headers continuing, committed changes only,
 * error messages).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { nextPos, parseWalkPos, walkInodes, type WalkEntry } from "../src/client/walk_inodes.js";
import { U64_MAX } from "../src/format/key.js";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, makeCliFs, scoutfs } from "./support/cli_harness.js";

const pos = (major: bigint | number, minor = 0, ino: bigint | number = 0): WalkEntry => ({ major: BigInt(major), minor, ino: BigInt(ino) });

test("walk positions parse as the original's MAJOR[.MINOR[.INO]] C numbers", () => {
  assert.deepEqual(parseWalkPos("0"), pos(0));
  assert.deepEqual(parseWalkPos("-1"), pos(U64_MAX));
  assert.deepEqual(parseWalkPos("12.3.0x10"), pos(12, 3, 16));
  assert.deepEqual(parseWalkPos("010"), pos(8));
  assert.deepEqual(parseWalkPos("18446744073709551615.0.-1"), pos(U64_MAX, 0, U64_MAX));
  for (const bad of ["", "x", "1.2.3.4", "1..2", "18446744073709551616", "1.-1", "1.2147483648", "0x", "09"]) {
    assert.equal(parseWalkPos(bad), null, bad);
  }
  assert.deepEqual(nextPos(pos(5, 0, 7)), pos(5, 0, 8));
  assert.deepEqual(nextPos(pos(5, 0, U64_MAX)), pos(5, 1, 0));
  assert.equal(nextPos(pos(U64_MAX, 0xffffffff, U64_MAX)), null);
});

test("walkInodes returns committed entries between the positions, inclusive, in order", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const inos: bigint[] = [];
  for (let i = 0; i < 5; i++) inos.push(BigInt((await m.fs.create(1, `f${i}`, 0o100644, 0, 0)).ino));
  const uncommitted = BigInt((await m.fs.create(1, "later", 0o100644, 0, 0)).ino);
  await m.sync();
  await m.fs.create(1, "dirty", 0o100644, 0, 0); // not committed: never listed
  const all = await walkInodes(m.forest, "meta_seq", pos(0), pos(U64_MAX, 0, U64_MAX));
  const listed = all.map((e) => e.ino);
  for (const ino of [...inos, uncommitted, 1n]) assert.ok(listed.includes(ino), `ino ${ino}`);
  assert.equal(all.length, 7, "root, five files and 'later'");
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.major < all[i]!.major || (all[i - 1]!.major === all[i]!.major && all[i - 1]!.ino < all[i]!.ino));
  // bounds: from the third entry to the fifth, inclusive
  const mid = await walkInodes(m.forest, "meta_seq", all[2]!, all[4]!);
  assert.deepEqual(mid, all.slice(2, 5));
  // a limit, then continuing after the last entry
  const head = await walkInodes(m.forest, "meta_seq", pos(0), pos(U64_MAX, 0, U64_MAX), 3);
  const rest = await walkInodes(m.forest, "meta_seq", nextPos(head[2]!)!, pos(U64_MAX, 0, U64_MAX));
  assert.deepEqual([...head, ...rest], all);
  // a first past the last, and a last whose minor covers every ino of its major
  assert.deepEqual(await walkInodes(m.forest, "meta_seq", all[3]!, all[2]!), []);
  const major = all[1]!.major;
  const sameMajor = all.filter((e) => e.major === major);
  assert.deepEqual(await walkInodes(m.forest, "meta_seq", pos(major), pos(major, 1, 0)), sameMajor);
  // data_seq: empty files and directories are not there until data changes
  assert.ok(!(await walkInodes(m.forest, "data_seq", pos(0), pos(U64_MAX, 0, U64_MAX))).some((e) => e.ino === 1n));
  await m.unmount();
});

test("scoutfs walk-inodes through a mount", { skip: fuseSkipReason() ?? false, timeout: 180_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-walk-");
  try {
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    const dir = path.join(mnt, "many");
    fs.mkdirSync(dir);
    for (let i = 0; i < 1100; i++) fs.writeFileSync(path.join(dir, `f${i}`), "");
    const fd = fs.openSync(path.join(dir, "f0"), "r");
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const r = await scoutfs("walk-inodes", "meta_seq", "0", "-1", "-p", mnt);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    const rows = lines.filter((l) => !l.startsWith("#"));
    assert.equal(rows.length, 1102, "root, the directory and 1100 files, across batches");
    assert.equal(lines.length - rows.length, Math.ceil(1102 / 25), "a header every 25 rows");
    assert.match(lines[0]!, /^# {20}major {16}minor {6}ino {17}$/);
    rows.forEach((l, i) => assert.equal(Number(l.split(/\s+/)[0]), i));
    const inos = new Set(rows.map((l) => l.split(/\s+/)[3]));
    assert.equal(inos.size, 1102, "each inode once");

    // data_seq lists files whose contents changed, never directories; from the cwd
    fs.writeFileSync(path.join(dir, "f7"), "data");
    const fd2 = fs.openSync(path.join(dir, "f7"), "r");
    fs.fsyncSync(fd2);
    fs.closeSync(fd2);
    const ino7 = String(fs.statSync(path.join(dir, "f7")).ino);
    const ds = await scoutfs("walk-inodes", "data_seq", "0", "-1", "-p", dir);
    assert.equal(ds.code, 0, ds.stderr);
    const dataInos = ds.stdout.split("\n").filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[3]);
    assert.ok(dataInos.includes(ino7));
    assert.ok(!dataInos.includes(String(fs.statSync(dir).ino)));

    for (const [args, msg] of [
      [["walk-inodes", "size", "0", "-1", "-p", mnt], /unknown index 'size', try 'meta_seq' or 'data_seq'/],
      [["walk-inodes", "meta_seq", "1.x", "-1", "-p", mnt], /invalid first position '1.x'/],
      [["walk-inodes", "meta_seq", "0", "1.2.3.4", "-p", mnt], /invalid last position '1.2.3.4'/],
      [["walk-inodes", "meta_seq", "0", "-1", "-p", tmp], /is not in a scoutfs filesystem/],
    ] as const) {
      const e = await scoutfs(...args);
      assert.equal(e.code, 1, args.join(" "));
      assert.match(e.stderr, msg);
    }
    assert.equal((await scoutfs("umount", mnt)).code, 0);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
