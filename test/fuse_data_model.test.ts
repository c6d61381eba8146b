/*
 * File contents through a real scoutfs mount against an in-memory model:
 * three files, each driven by its own chain of seeded random writes,
 * reads, truncates and fsyncs (the chains run at once, so the daemon
 * has writes of several files in flight together).  Reads go through
 * O_DIRECT descriptors, which skip the kernel's page cache, so every
 * read is answered by the daemon's read path, often right after a write
 * of the same range was answered while its device write was still in
 * flight (the data device writes behind, src/block/direct_writer.ts).
 * Writes go through O_DIRECT and buffered descriptors, at any alignment,
 * from a few bytes to 1 MiB.  After the chains, and again after an
 * unmount and a remount, every file must equal its model.
 * Needs root and /dev/fuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { open, type FileHandle } from "node:fs/promises";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, makeCliFs, scoutfs } from "./support/cli_harness.js";

const SEED = Number(process.env.DATA_MODEL_SEED ?? Date.now() % 1_000_000);
const OPS_PER_FILE = Number(process.env.DATA_MODEL_OPS ?? 1500);
const FILES = 3;
const MAX_SIZE = 6 << 20;
const MiB = 1 << 20;

/** mulberry32: a small seeded generator, so a failure names the seed that repeats it */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

class Model {
  bytes = Buffer.alloc(MAX_SIZE + 2 * MiB);
  size = 0;
  write(off: number, b: Buffer): void {
    b.copy(this.bytes, off);
    this.size = Math.max(this.size, off + b.length);
  }
  truncate(n: number): void {
    if (n < this.size) this.bytes.fill(0, n, this.size);
    this.size = n;
  }
  read(off: number, len: number): Buffer {
    return this.bytes.subarray(Math.min(off, this.size), Math.min(off + len, this.size));
  }
}

async function readAll(fh: FileHandle, off: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const { bytesRead } = await fh.read(buf, done, len - done, off + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** one file's chain of ops; returns a log line per op for the failure message */
async function drive(file: string, model: Model, next: (n: number) => number, log: string[]): Promise<void> {
  const direct = await open(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT, 0o644);
  const buffered = await open(file, "r+");
  try {
    for (let i = 0; i < OPS_PER_FILE; i++) {
      const pick = next(100);
      if (pick < 50) {
        const aligned = next(3) === 0;
        const len = aligned ? (1 + next(256)) * 4096 : next(4) === 0 ? 1 + next(MiB) : 1 + next(64 * 1024);
        const off = aligned ? next(MAX_SIZE / 4096) * 4096 : next(MAX_SIZE);
        const b = Buffer.alloc(len);
        const tag = next(256);
        for (let k = 0; k < len; k++) b[k] = (tag + k * 7 + (k >>> 12)) & 255; // differs per op, per byte and per block
        const fh = next(2) === 0 ? direct : buffered;
        log.push(`${i} write ${fh === direct ? "direct" : "buffered"} ${off}+${len}`);
        const { bytesWritten } = await fh.write(b, 0, len, off);
        assert.equal(bytesWritten, len);
        model.write(off, b);
      } else if (pick < 88) {
        const off = next(3) === 0 ? next(MAX_SIZE / 4096) * 4096 : next(MAX_SIZE + MiB);
        const len = 1 + next(next(4) === 0 ? MiB : 128 * 1024);
        const fh = pick < 80 ? direct : buffered;
        log.push(`${i} read ${fh === direct ? "direct" : "buffered"} ${off}+${len}`);
        const got = await readAll(fh, off, len);
        const want = model.read(off, len);
        if (!got.equals(want)) {
          const at = [...want].findIndex((x, k) => got[k] !== x);
          assert.fail(`${file} op ${i}: read ${off}+${len} got ${got.length} bytes, want ${want.length}; first difference at +${at} (seed ${SEED})\n${log.slice(-12).join("\n")}`);
        }
      } else if (pick < 94) {
        const n = next(MAX_SIZE);
        log.push(`${i} truncate ${n}`);
        await buffered.truncate(n);
        model.truncate(n);
      } else {
        log.push(`${i} fsync`);
        await (next(2) === 0 ? direct : buffered).sync();
      }
    }
  } finally {
    await direct.close();
    await buffered.close();
  }
}

function checkFiles(mnt: string, models: Model[], what: string): void {
  for (let f = 0; f < FILES; f++) {
    const got = fs.readFileSync(path.join(mnt, `f${f}`));
    const want = models[f]!.read(0, models[f]!.size);
    assert.equal(got.length, want.length, `${what}: f${f} size (seed ${SEED})`);
    assert.ok(got.equals(want), `${what}: f${f} contents differ at ${[...want].findIndex((x, k) => got[k] !== x)} (seed ${SEED})`);
  }
}

const skip = fuseSkipReason();

test("file contents through the mount match a model, with reads right behind writes in flight", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("fuse-data-model-", "256M", "1G");
  try {
    const m = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(m.code, 0, m.stderr);
    const models = Array.from({ length: FILES }, () => new Model());
    const logs: string[][] = models.map(() => []);
    await Promise.all(models.map((model, f) => drive(path.join(mnt, `f${f}`), model, rng(SEED * 31 + f), logs[f]!)));
    checkFiles(mnt, models, "after the ops");
    const u = await scoutfs("umount", mnt);
    assert.equal(u.code, 0, u.stderr);
    const again = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(again.code, 0, again.stderr);
    checkFiles(mnt, models, "after a remount");
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
