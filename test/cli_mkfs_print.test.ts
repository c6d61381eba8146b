/*
 * The scoutfs command as a user runs it: mkfs and print on image files,
 * every refusal with a one-line message, exit status 1 and the devices
 * left as they were.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile, truncate, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BLOCK_LG_SIZE } from "../src/format/constants.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout, stderr });
    });
  });
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), "scoutfs-cli-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const Q = ["-Q", "0,127.0.0.1,12345"];

test("mkfs creates sparse image files and print shows every structure", () =>
  withDir(async (dir) => {
    const m = join(dir, "meta"), d = join(dir, "data");
    const r = await run(["mkfs", "-A", ...Q, "-Q", "2,127.0.0.1,12346", "-m", "64M", "-d", "128M", m, d]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Created scoutfs filesystem:/);
    assert.match(r.stdout, /64KB metadata blocks: +1024 \(64\.00 MB\)/);
    assert.match(r.stdout, /quorum slots: +0: 127\.0\.0\.1:12345\n +2: 127\.0\.0\.1:12346/);
    assert.equal((await stat(m)).size, 64 * 1024 * 1024);
    assert.ok((await stat(m)).blocks * 512 < 8 * 1024 * 1024, "meta image is sparse");
    const p = await run(["print", m]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /super block: fsid [0-9a-f]{16} seq 1/);
    assert.match(p.stdout, /inode 1 mode 040755 nlink 2/);
    assert.match(p.stdout, /data alloc: .* 1 extents/);
    const s = await run(["print", "-S", m]);
    assert.equal(s.code, 0);
    assert.doesNotMatch(s.stdout, /fs root:/);
  }));

test("mkfs refusals leave the devices untouched", () =>
  withDir(async (dir) => {
    const m = join(dir, "meta"), d = join(dir, "data");
    await writeFile(m, Buffer.alloc(0));
    await truncate(m, 64 << 20);
    await writeFile(d, Buffer.alloc(0));
    await truncate(d, 128 << 20);
    const cases: [string[], RegExp][] = [
      [[m, d], /must specify at least one quorum slot/],
      [[...Q, m, d], /too small for min 16\.00GB meta device$/m],
      [["-A", "-Q", "15,127.0.0.1,1", m, d], /invalid nr '15'/],
      [["-A", ...Q, "-Q", "0,127.0.0.2,1", m, d], /already specified/],
      [["-A", "-Q", "0,1.2.3,99999", m, d], /invalid ipv4 port/],
      [["-A", "-Q", "0,nohost,5", m, d], /invalid ipv4 address/],
      [["-A", ...Q, "-m", "12Q", m, d], /unknown suffix/],
      [["-A", ...Q, "-V", "9", m, d], /outside supported range of 1-2/],
      [["-A", ...Q, m], /missing required argument/],
      [["-A", ...Q, "-z", "0", m, d], /non-zero/],
      [["-A", ...Q, "-m", "64K", m, d], /smaller than/],
    ];
    for (const [args, msg] of cases) {
      const r = await run(["mkfs", ...args]);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
    // nothing was written
    const buf = await readFile(m);
    assert.ok(buf.every((b) => b === 0));
    // an existing filesystem is refused without -f and replaced with it
    assert.equal((await run(["mkfs", "-A", ...Q, m, d])).code, 0);
    const before = await readFile(m);
    const again = await run(["mkfs", "-A", ...Q, m, d]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /appears to contain an existing ScoutFS superblock/);
    assert.ok(before.equals(await readFile(m)));
    assert.equal((await run(["mkfs", "-A", "-f", ...Q, m, d])).code, 0);
    // a missing file without a size cannot be created
    const r = await run(["mkfs", "-A", ...Q, join(dir, "nope"), d]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No such file or directory/);
  }));

test("print reports a flipped bit as corruption naming the block, and exits 1", () =>
  withDir(async (dir) => {
    const m = join(dir, "meta"), d = join(dir, "data");
    assert.equal((await run(["mkfs", "-A", ...Q, "-m", "64M", "-d", "128M", m, d])).code, 0);
    const p = await run(["print", m]);
    const fsRoot = /fs_root: root (\d+)\.\d+/.exec(p.stdout)![1]!;
    const fh = await open(m, "r+");
    const off = Number(fsRoot) * BLOCK_LG_SIZE + 200;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, off);
    b[0]! ^= 0x10;
    await fh.write(b, 0, 1, off);
    await fh.close();
    const bad = await run(["print", m]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`corruption: fs root: block ${fsRoot}: bad crc`));
    assert.match(bad.stdout, /data alloc:/, "the rest was still printed");
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  }));

test("scoutfs with no command prints usage with the format versions; unknown commands are refused", async () => {
  const r = await run([]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Supported format version: 1-2/);
  assert.match(r.stderr, /mkfs META-DEVICE DATA-DEVICE/);
  const u = await run(["frobnicate"]);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /unrecognized command: 'frobnicate'/);
  const h = await run(["mkfs", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--quorum-slot/);
});

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (e, stdout, stderr) => (e ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr}`)) : resolve(stdout.trim())));
  });
}

const canLoop = process.getuid?.() === 0 && (await sh("losetup", ["--version"]).then(() => true, () => false));

test("mkfs, a mount and print on loop block devices", { skip: !canLoop && "needs root and losetup" }, () =>
  withDir(async (dir) => {
    const mi = join(dir, "meta.img"), di = join(dir, "data.img");
    await writeFile(mi, Buffer.alloc(0));
    await truncate(mi, 64 << 20);
    await writeFile(di, Buffer.alloc(0));
    await truncate(di, 128 << 20);
    const lm = await sh("losetup", ["-f", "--show", mi]);
    const ld = await sh("losetup", ["-f", "--show", di]);
    try {
      const r = await run(["mkfs", "-A", ...Q, lm, ld]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /64KB metadata blocks: +1024 /);
      const { Mount } = await import("../src/client/mount.js");
      const m = await Mount.openPaths(lm, ld);
      const f = await m.fs.create(1, "on-a-loop-device", 0o100644, 0, 0);
      await m.fs.write(f.ino, 0, Buffer.alloc(100000, 3));
      await m.unmount();
      const p = await run(["print", lm]);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /name "on-a-loop-device"/);
      assert.match(p.stdout, /inode \d+ mode 0100644 nlink 1 uid 0 gid 0 size 100000/);
    } finally {
      await sh("losetup", ["-d", lm, ld]);
    }
  }));
