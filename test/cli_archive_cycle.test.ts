/*
 * A whole archive cycle through a real mount, as an archive agent runs it:
 * write 1,000 files, find them with walk-inodes data_seq, copy them to an
 * archive directory, release them, read one (it blocks, and data-waiting
 * lists it), stage it (the read completes with the right bytes), and
 * check online/offline counts with `scoutfs stat` and space with `df`.
 * Then the commands' error paths, data-wait-err failing a waiting read,
 * and released state across a remount and a kill -9 after sync.  Most
 * per-file work goes over one control connection (what an agent library
 * does); the commands themselves are run for a few files.  Needs root and
 * /dev/fuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, killDaemonAndRemount, makeCliFs, run, scoutfs, statFileFields, umountAndCheckPrint } from "./support/cli_harness.js";
import { withMount } from "../src/control/client.js";

const skip = fuseSkipReason();
const FILES = 1000;
const BS = 4096;
const contentOf = (i: number): Buffer => Buffer.from(Array.from({ length: BS + 100 + (i % 7) * 512 }, (_, j) => (i * 131 + j * 7) & 0xff));

async function dfUsedData(mnt: string): Promise<number> {
  const r = await scoutfs("df", "-p", mnt);
  assert.equal(r.code, 0, r.stderr);
  const row = r.stdout.split("\n").find((l) => l.trim().startsWith("Data"))!;
  return Number(row.trim().split(/ +/)[3]);
}

/** start `cat FILE`; resolves with its output when it exits */
function catLater(file: string): { done: Promise<{ code: number | null; out: Buffer; err: string }>; exited: () => boolean } {
  const child = spawn("timeout", ["120", "cat", file]); // never outlives a failed test
  const chunks: Buffer[] = [];
  let err = "";
  let exited = false;
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const done = new Promise<{ code: number | null; out: Buffer; err: string }>((resolve) =>
    child.on("close", (code) => {
      exited = true;
      resolve({ code, out: Buffer.concat(chunks), err });
    }),
  );
  return { done, exited: () => exited };
}

/** read 4 KiB of ARGV[0] with a SIGUSR1 handler installed; prints how read(2) ended (exit 3: it failed); dies after 120 s */
const PERL_READER = `alarm 120; $SIG{USR1} = sub {}; open(my $f, "<", $ARGV[0]) or die; my $n = sysread($f, my $b, 4096);
  if (defined $n) { print "read $n\\n"; exit 0 } print "read: $!\\n"; exit 3;`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("archive cycle: write, find by data_seq, archive, release, blocked read, stage, counts", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-archive-");
  const archive = path.join(tmp, "archive");
  fs.mkdirSync(archive);
  try {
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    const seq0 = Number((await scoutfs("statfs", "-s", "committed_seq", "-p", mnt)).stdout);
    const dir = path.join(mnt, "data");
    fs.mkdirSync(dir);
    const files: string[] = [];
    for (let i = 0; i < FILES; i++) {
      const f = path.join(dir, `f${i}`);
      fs.writeFileSync(f, contentOf(i));
      files.push(f);
    }
    assert.equal((await run("sync", [files[0]!])).code, 0);
    const usedBefore = await dfUsedData(mnt);

    // the agent finds what changed since seq0 without walking the namespace
    const walk = await scoutfs("walk-inodes", "data_seq", String(seq0 + 1), "-1", "-p", mnt);
    assert.equal(walk.code, 0, walk.stderr);
    const changed = new Set(walk.stdout.split("\n").filter((l) => /^\d/.test(l)).map((l) => Number(l.trim().split(/ +/)[3])));
    const inoOf = new Map(files.map((f) => [f, fs.statSync(f).ino]));
    for (const f of files) assert.ok(changed.has(inoOf.get(f)!), `${f} found by walk-inodes`);

    // archive, then release: one file with the command, the rest over one connection
    for (const f of files) fs.copyFileSync(f, path.join(archive, String(inoOf.get(f))));
    const dv = (await statFileFields(files[0]!))["data_version"]!;
    const rel = await scoutfs("release", files[0]!, "-V", String(dv));
    assert.equal(rel.code, 0, rel.stderr);
    await withMount(mnt, async (c) => {
      for (const f of files.slice(1)) {
        const ino = inoOf.get(f)!;
        const st = await c.request("stat", { ino });
        await c.request("release", { ino, offset: "0", length: String(Math.ceil(fs.statSync(f).size / BS) * BS), dataVersion: String(st.dataVersion) });
      }
    });
    const s0 = (await statFileFields(files[0]!));
    assert.equal(s0["online_blocks"], "0");
    assert.equal(s0["offline_blocks"], "2");
    assert.equal(s0["data_version"], dv, "release keeps data_version");
    assert.equal(fs.statSync(files[0]!).size, contentOf(0).length, "release keeps the size");
    assert.equal(fs.statSync(files[0]!).blocks, 0, "st_blocks counts online blocks only");
    const sync0 = await run("sync", [files[0]!]);
    assert.equal(sync0.code, 0, sync0.stderr);
    const usedAfter = await dfUsedData(mnt);
    assert.ok(usedBefore - usedAfter >= FILES * 2, `df: released blocks are free (${usedBefore} -> ${usedAfter})`);

    // a read of a released file blocks, data-waiting lists it, stage completes it with the right bytes
    const target = files[5]!;
    const tino = inoOf.get(target)!;
    const reader = catLater(target);
    await sleep(500);
    assert.equal(reader.exited(), false, "the read waits for staging");
    const waiting = await scoutfs("data-waiting", "-I", "0", "-B", "0", "-p", mnt);
    assert.equal(waiting.stdout, `ino ${tino} iblock 0 ops read\n`);
    const sdv = (await statFileFields(target))["data_version"]!;
    const stage = await scoutfs("stage", path.join(archive, String(tino)), target, "-V", String(sdv));
    assert.equal(stage.code, 0, stage.stderr);
    const got = await reader.done;
    assert.equal(got.code, 0);
    assert.ok(got.out.equals(contentOf(5)), "the blocked read returns the archived bytes");
    const s5 = (await statFileFields(target));
    assert.deepEqual([s5["online_blocks"], s5["offline_blocks"], s5["data_version"]], ["2", "0", sdv]);
    assert.equal((await scoutfs("data-waiting", "-I", "0", "-B", "0", "-p", mnt)).stdout, "");

    // errors, with their messages
    const wrongVers = await scoutfs("stage", path.join(archive, String(inoOf.get(files[6]!))), files[6]!, "-V", String(Number(sdv) + 5));
    assert.equal(wrongVers.code, 1);
    assert.match(wrongVers.stderr, /^scoutfs: stage failed: ESTALE: stage: data_version is \d+, not \d+\n$/);
    const pastSize = await scoutfs("stage", path.join(archive, String(tino)), target, "-V", String(sdv), "-o", "8192");
    assert.match(pastSize.stderr, /^scoutfs: stage failed: EINVAL: .*past the size/);
    const dirRel = await scoutfs("release", dir, "-V", "1");
    assert.match(dirRel.stderr, /^scoutfs: release failed: EISDIR: .*data: illegal operation on a directory\n$/);
    const outside = await scoutfs("release", meta, "-V", "1");
    assert.match(outside.stderr, /^scoutfs: release failed: ENOTTY: .*meta\.img: Inappropriate ioctl for device/);
    const noVers = await scoutfs("release", target);
    assert.match(noVers.stderr, /^scoutfs release: must provide file version --data-version\n/);
    const unaligned = await scoutfs("release", target, "-V", String(sdv), "-o", "100");
    assert.match(unaligned.stderr, /^scoutfs: release failed: EINVAL: release: offset 100 and length \d+ must be multiples of 4096/);
    const badOp = await scoutfs("data-wait-err", "-p", mnt, "-I", String(tino), "-V", "1", "-F", "0", "-C", "4096", "-O", "bogus", "-E", "-5");
    assert.match(badOp.stderr, /invalid data wait op: 'bogus'/);
    const badErr = await scoutfs("data-wait-err", "-p", mnt, "-I", String(tino), "-V", "1", "-F", "0", "-C", "4096", "-O", "read", "-E", "5");
    assert.match(badErr.stderr, /errno out of range/);

    // data-wait-err fails a waiting read with the errno
    const f7 = files[7]!;
    const reader7 = catLater(f7);
    await sleep(500);
    assert.equal(reader7.exited(), false);
    const werr = await scoutfs("data-wait-err", "-p", mnt, "-I", String(inoOf.get(f7)), "-V", "1", "-F", "0", "-C", "8192", "-O", "read", "-E", "-5");
    assert.equal(werr.stdout, "data_wait_err found 1 waiters.\n");
    const r7 = await reader7.done;
    assert.notEqual(r7.code, 0, "the read failed");
    assert.match(r7.err, /Input\/output error/);

    // a reader that catches a signal while it waits gets EINTR from read(2), as from the original's wait
    const f8 = files[8]!;
    const perl = spawn("perl", ["-e", PERL_READER, f8], { stdio: ["ignore", "pipe", "pipe"] });
    let perlOut = "";
    perl.stdout.on("data", (c: Buffer) => (perlOut += c.toString()));
    const perlDone = new Promise<number | null>((resolve) => perl.on("close", resolve));
    await sleep(500);
    assert.equal(perl.exitCode, null, "the reader waits");
    assert.equal((await scoutfs("data-waiting", "-I", "0", "-B", "0", "-p", mnt)).stdout, `ino ${inoOf.get(f8)} iblock 0 ops read\n`);
    perl.kill("SIGUSR1");
    assert.equal(await perlDone, 3, perlOut);
    assert.match(perlOut, /^read: Interrupted system call/);
    assert.equal((await scoutfs("data-waiting", "-I", "0", "-B", "0", "-p", mnt)).stdout, "", "the interrupted wait is gone");

    // stage every other file back over one connection; counts add up
    await withMount(mnt, async (c) => {
      for (const f of files.slice(0, 100)) {
        if (f === target) continue;
        const ino = inoOf.get(f)!;
        const st = await c.request("stat", { ino });
        const bytes = fs.readFileSync(path.join(archive, String(ino)));
        await c.request("stage", { ino, offset: "0", dataVersion: String(st.dataVersion), dataB64: bytes.toString("base64") });
      }
    });
    for (const i of [0, 50, 99]) assert.ok(fs.readFileSync(files[i]!).equals(contentOf(i)), `file ${i} staged`);

    // released state survives a remount and a kill -9 after sync
    const released = files[500]!;
    assert.equal((await scoutfs("umount", mnt)).code, 0);
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    let s = (await statFileFields(released));
    assert.deepEqual([s["online_blocks"], s["offline_blocks"]], ["0", "2"]);
    assert.ok(fs.readFileSync(files[50]!).equals(contentOf(50)));
    const rdv = s["data_version"]!;
    await withMount(mnt, async (c) => {
      const ino = inoOf.get(released)!;
      await c.request("stage", { ino, offset: "0", dataVersion: String(rdv), dataB64: fs.readFileSync(path.join(archive, String(ino))).toString("base64") });
    });
    assert.equal((await run("sync", [released])).code, 0);
    await killDaemonAndRemount({ meta, data, mnt });
    s = (await statFileFields(released));
    assert.deepEqual([s["online_blocks"], s["offline_blocks"]], ["2", "0"], "the synced stage survived kill -9");
    assert.ok(fs.readFileSync(released).equals(contentOf(500)));
    s = (await statFileFields(files[501]!));
    assert.deepEqual([s["online_blocks"], s["offline_blocks"]], ["0", "2"]);
    await umountAndCheckPrint(mnt, meta);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
