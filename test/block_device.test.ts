/*
 * FileBlockDevice's direct writes (src/block/device.ts), the write-behind
 * DirectWriter under them (src/block/direct_writer.ts) and the aligned
 * bounce pool they use (src/block/aligned_pool.ts): whole-block writes go
 * through an O_DIRECT descriptor from any source buffer, are answered
 * before the device has them, land intact and in order, stay coherent
 * with the buffered descriptor reads use, latch a failed write's error
 * for every later sync, write and overlapping read, and fall back to
 * buffered writes where O_DIRECT is refused (ramfs) or the write is not
 * aligned.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileBlockDevice } from "../src/block/device.js";
import { open } from "node:fs/promises";
import { ALIGN, AlignedPool } from "../src/block/aligned_pool.js";
import { DirectWriter, type PositionalWriter } from "../src/block/direct_writer.js";

const MiB = 1 << 20;

/** a sparse image of bytes in a new directory under dir */
function tempImage(dir: string, bytes: number): string {
  const p = path.join(fs.mkdtempSync(path.join(dir, "img-")), "image");
  fs.writeFileSync(p, "");
  fs.truncateSync(p, bytes);
  return p;
}

/** whether the file system holding p lets a file be opened O_DIRECT */
function allowsODirect(p: string): boolean {
  try {
    fs.closeSync(fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_DIRECT));
    return true;
  } catch {
    return false;
  }
}

/** the open flags (octal, from /proc/self/fdinfo) of this process's descriptors of p */
function openFlagsOf(p: string): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== p) continue;
    const m = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    if (m) out.push(parseInt(m[1]!, 8));
  }
  return out;
}

/** bytes that differ block by block, so a misplaced or torn block shows */
function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

/** a view of bytes starting at an odd address offset, as a FUSE request's payload is */
function unalignedCopy(src: Buffer): Buffer {
  const backing = Buffer.alloc(src.length + 81);
  const view = backing.subarray(81, 81 + src.length);
  src.copy(view);
  return view;
}

/** img opened with directWrites for fn, closed after it whatever happens */
async function withDirectDevice<T>(img: string, fn: (dev: FileBlockDevice) => Promise<T>): Promise<T> {
  const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
  try {
    return await fn(dev);
  } finally {
    await dev.close();
  }
}

/** a new mount of type (with options such as -o size=...) on a directory under dir for fn, unmounted after it */
async function withMount<T>(type: string, options: string[], fn: (mnt: string) => Promise<T>): Promise<T> {
  const mnt = fs.mkdtempSync(path.join(dir, `${type}-`));
  execFileSync("mount", ["-t", type, ...options, "none", mnt]);
  try {
    return await fn(mnt);
  } finally {
    execFileSync("umount", [mnt]);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scoutfs-blockdev-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const direct = allowsODirect(tempImage(dir, ALIGN));

test("direct writes go through an O_DIRECT descriptor and read back intact, also after reopening", { skip: !direct && "no O_DIRECT here" }, async () => {
  const img = tempImage(dir, 16 * MiB);
  await withDirectDevice(img, async (dev) => {
    assert.equal(dev.directWrites, true);
    const flags = openFlagsOf(img);
    assert.ok(
      flags.some((f) => (f & fs.constants.O_DIRECT) !== 0),
      `an O_DIRECT descriptor of the image is open (flags ${flags.map((f) => f.toString(8))})`,
    );
    // one block, a write spanning several bounce slots, and one from an unaligned source view
    const one = pattern(ALIGN, 1);
    const big = pattern(3 * MiB + 2 * ALIGN, 2);
    const odd = unalignedCopy(pattern(5 * ALIGN, 3));
    await dev.write(0, one);
    await dev.write(MiB, big);
    await dev.write(8 * MiB + ALIGN, odd);
    assert.deepEqual(await dev.read(0, ALIGN), one);
    assert.deepEqual(await dev.read(MiB, big.length), big);
    assert.deepEqual(await dev.read(8 * MiB + ALIGN, odd.length), odd);
    await dev.sync();
  });
  assert.deepEqual(openFlagsOf(img), [], "close closes both descriptors");
  const again = await FileBlockDevice.open(img);
  try {
    assert.deepEqual(await again.read(MiB, 3 * MiB + 2 * ALIGN), pattern(3 * MiB + 2 * ALIGN, 2));
  } finally {
    await again.close();
  }
});

test("a direct write replaces what a buffered read cached of its range", { skip: !direct && "no O_DIRECT here" }, async () => {
  await withDirectDevice(tempImage(dir, 4 * MiB), async (dev) => {
    assert.equal(dev.directWrites, true);
    for (let round = 0; round < 4; round++) {
      const before = await dev.read(2 * ALIGN, 4 * ALIGN); // cached by the buffered descriptor
      const next = pattern(4 * ALIGN, 100 + round);
      assert.notDeepEqual(before, next);
      await dev.write(2 * ALIGN, next);
      assert.deepEqual(await dev.read(2 * ALIGN, 4 * ALIGN), next, `round ${round}: the read sees the direct write`);
    }
  });
});

test("more writes in flight than bounce slots all land, and every slot comes back", { skip: !direct && "no O_DIRECT here" }, async () => {
  await withDirectDevice(tempImage(dir, 32 * MiB), async (dev) => {
    const bufs = Array.from({ length: 20 }, (_, i) => unalignedCopy(pattern(MiB + (i % 3) * ALIGN, 1000 + i)));
    await Promise.all(bufs.map((b, i) => dev.write(i * (MiB + 4 * ALIGN), b)));
    for (let i = 0; i < bufs.length; i++) assert.deepEqual(await dev.read(i * (MiB + 4 * ALIGN), bufs[i]!.length), bufs[i], `write ${i}`);
  });
});

test("a direct write is answered while the device write is in flight, and reads of its range wait for it", { skip: !direct && "no O_DIRECT here" }, async () => {
  const img = tempImage(dir, 8 * MiB);
  const fh = await open(img, fs.constants.O_RDWR | fs.constants.O_DIRECT);
  const w = new DirectWriter(img, fh, new AlignedPool(MiB, 4));
  const dev = await FileBlockDevice.open(img);
  try {
    const src = pattern(2 * MiB, 11);
    await w.write(MiB, src);
    // the device writes complete in a later turn of the event loop: nothing can have finished yet
    assert.equal(w.inFlight(), 2, "both pieces are in flight when write() returns");
    await w.waitFor(2 * MiB, 2 * MiB + ALIGN);
    assert.deepEqual(await dev.read(2 * MiB, MiB), src.subarray(MiB), "the second piece landed once waitFor returned");
    await w.drain();
    assert.equal(w.inFlight(), 0);
    assert.deepEqual(await dev.read(MiB, 2 * MiB), src);
  } finally {
    await dev.close();
    await w.close();
  }
});

test("many overlapping writes through a direct device leave the last one's bytes", { skip: !direct && "no O_DIRECT here" }, async () => {
  const img = tempImage(dir, 4 * MiB);
  fs.writeFileSync(img, Buffer.alloc(4 * MiB)); // allocated blocks: the host runs direct writes to them in parallel
  await withDirectDevice(img, async (dev) => {
    const want = Buffer.alloc(4 * MiB);
    const put = async (off: number, b: Buffer) => {
      await dev.write(off, b);
      b.copy(want, off);
      b.fill(0); // the caller's buffer is its own again once write() settles
    };
    for (let i = 0; i < 40; i++) {
      // a slow piece, then small ones inside it that would finish first if nothing ordered them
      const base = (i % 3) * MiB;
      await put(base, unalignedCopy(pattern(MiB, 500 + i)));
      await put(base + (i % 7) * ALIGN, unalignedCopy(pattern(ALIGN, 900 + i)));
      await put(base + MiB - 2 * ALIGN, unalignedCopy(pattern(4 * ALIGN, 1300 + i)));
    }
    assert.deepEqual(await dev.read(0, 4 * MiB), want);
  });
});

/** a descriptor over memory whose writes complete only when the test says, in any order */
class GatedWriter implements PositionalWriter {
  readonly disk = Buffer.alloc(8 * MiB);
  /** writes issued and not completed, in the order issued */
  readonly pending: { position: number; length: number; finish: (err?: Error) => void }[] = [];
  closed = false;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    const bytes = Buffer.from(buffer.subarray(offset, offset + length)); // what the caller handed over at issue
    return new Promise((resolve, reject) => {
      this.pending.push({
        position,
        length,
        finish: (err) => {
          if (err) return reject(err);
          bytes.copy(this.disk, position);
          resolve({ bytesWritten: length });
        },
      });
    });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** complete the pending write at position (the first issued there) */
  complete(position: number, err?: Error): void {
    const i = this.pending.findIndex((p) => p.position === position);
    assert.ok(i >= 0, `a write at ${position} is pending`);
    this.pending.splice(i, 1)[0]!.finish(err);
  }
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test("DirectWriter: a write overlapping one in flight is issued only after it completes; others go at once", async () => {
  const g = new GatedWriter();
  const w = new DirectWriter("gated", g, new AlignedPool(MiB, 4));
  await w.write(0, pattern(MiB, 1));
  await w.write(2 * MiB, pattern(ALIGN, 2)); // overlaps nothing
  await w.write(ALIGN, pattern(ALIGN, 3)); // inside the first
  await turns();
  assert.deepEqual(
    g.pending.map((p) => p.position),
    [0, 2 * MiB],
    "the overlapping write waits; the other was issued beside the first",
  );
  const waited = w.waitFor(ALIGN, 2 * ALIGN);
  assert.ok(waited, "two writes over the range are in flight: waitFor has to wait");
  let waitDone = false;
  void waited.then(() => (waitDone = true));
  g.complete(2 * MiB);
  await turns();
  assert.equal(waitDone, false, "waitFor still waits for both writes over its range");
  g.complete(0); // the first lands, then the overlapping one is issued
  await turns();
  assert.deepEqual(g.pending.map((p) => p.position), [ALIGN]);
  assert.equal(waitDone, false);
  g.complete(ALIGN);
  await waited;
  const want = pattern(MiB, 1);
  pattern(ALIGN, 3).copy(want, ALIGN);
  assert.deepEqual(g.disk.subarray(0, MiB), want, "the later write's bytes stay");
  assert.deepEqual(g.disk.subarray(2 * MiB, 2 * MiB + ALIGN), pattern(ALIGN, 2));
  await w.drain();
  assert.equal(w.inFlight(), 0);
});

test("DirectWriter: with every slot out a write waits for one; a failed write is latched", async () => {
  const g = new GatedWriter();
  const w = new DirectWriter("gated", g, new AlignedPool(MiB, 2));
  await w.write(0, pattern(2 * MiB, 4)); // two slots out
  let third = false;
  const p3 = w.write(4 * MiB, pattern(ALIGN, 5)).then(() => (third = true));
  await turns();
  assert.equal(third, false, "no slot: the third write waits");
  g.complete(0, new Error("EIO: the disk said no"));
  await p3;
  await turns();
  g.complete(4 * MiB);
  g.complete(MiB);
  assert.equal(w.waitFor(0, ALIGN), undefined, "the failed piece is no longer in flight");
  await assert.rejects(w.drain(), /the disk said no/);
  await assert.rejects(w.drain(), /the disk said no/, "every later drain fails");
  await assert.rejects(w.write(6 * MiB, pattern(ALIGN, 6)), /the disk said no/, "and every later write");
  await w.waitFor(4 * MiB, 5 * MiB); // a range whose write did land: nothing in flight, nothing to throw
  await assert.rejects(w.close(), /the disk said no/);
  assert.equal(g.closed, true, "close closes the descriptor even so");
});

test("DirectWriter: a descriptor that throws at once fails the write's piece, and drain ends", async () => {
  const throwing: PositionalWriter = {
    write: () => {
      throw new Error("EBADF: thrown before any promise");
    },
    close: async () => {},
  };
  const pool = new AlignedPool(MiB, 2);
  const w = new DirectWriter("throwing", throwing, pool);
  await w.write(0, pattern(ALIGN, 8));
  assert.equal(w.inFlight(), 0, "the failed piece left the set");
  assert.equal(pool.available(), 2, "and gave its slot back");
  await assert.rejects(w.drain(), /thrown before any promise/);
});

test("DirectWriter: waitFor throws when a write it waited for failed", async () => {
  const g = new GatedWriter();
  const w = new DirectWriter("gated", g, new AlignedPool(MiB, 2));
  await w.write(0, pattern(ALIGN, 7));
  const waited = w.waitFor(0, ALIGN);
  assert.ok(waited, "the write is in flight");
  g.complete(0, new Error("EIO: gone"));
  await assert.rejects(waited, /gone/);
});

test("a failed direct write fails every later sync, write and read of its range, and close still closes", { skip: (!direct || process.getuid?.() !== 0) && "needs O_DIRECT and root" }, async () => {
  await withMount("tmpfs", ["-o", "size=256k"], async (mnt) => {
    const img = tempImage(mnt, 8 * MiB);
    if (!allowsODirect(img)) return; // a tmpfs without O_DIRECT (before Linux 6.6): no direct write to fail
    const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
    assert.equal(dev.directWrites, true);
    await dev.write(0, pattern(MiB, 1)); // answered: the device write fails behind it (256 KiB of space)
    await assert.rejects(dev.sync(), /ENOSPC|no space/i);
    await assert.rejects(dev.sync(), /ENOSPC|no space/i, "latched: the next sync fails too");
    await assert.rejects(dev.write(2 * MiB, pattern(ALIGN, 2)), /ENOSPC|no space/i);
    await assert.rejects(dev.close(), /ENOSPC|no space/i);
    assert.deepEqual(openFlagsOf(img), [], "both descriptors closed");
  });
});

test("a read waiting on a direct write that fails throws instead of returning the old bytes", { skip: (!direct || process.getuid?.() !== 0) && "needs O_DIRECT and root" }, async () => {
  await withMount("tmpfs", ["-o", "size=256k"], async (mnt) => {
    const img = tempImage(mnt, 8 * MiB);
    if (!allowsODirect(img)) return;
    const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
    try {
      await dev.write(4 * MiB, pattern(MiB, 3));
      await assert.rejects(dev.read(4 * MiB, ALIGN), /ENOSPC|no space/i);
    } finally {
      await dev.close().catch(() => {}); // the failed write's error again: the test is the read's
    }
  });
});

test("writes not on block boundaries, and devices opened without directWrites, are buffered and land too", async () => {
  const img = tempImage(dir, 4 * MiB);
  await withDirectDevice(img, async (dev) => {
    const b = pattern(1000, 7);
    await dev.write(ALIGN + 100, b);
    assert.deepEqual(await dev.read(ALIGN + 100, 1000), b);
    const whole = pattern(2 * ALIGN, 8);
    await dev.write(3 * ALIGN, whole);
    assert.deepEqual(await dev.read(3 * ALIGN, 2 * ALIGN), whole);
  });
  const plain = await FileBlockDevice.open(img);
  try {
    assert.equal(plain.directWrites, false);
    assert.ok(openFlagsOf(img).every((f) => (f & fs.constants.O_DIRECT) === 0));
    assert.deepEqual(await plain.read(3 * ALIGN, 2 * ALIGN), pattern(2 * ALIGN, 8));
  } finally {
    await plain.close();
  }
});

test("on a file system that refuses O_DIRECT (ramfs) writes are buffered", { skip: process.getuid?.() !== 0 && "mounting ramfs needs root" }, async () => {
  await withMount("ramfs", [], async (mnt) => {
    const img = tempImage(mnt, 2 * MiB);
    assert.equal(allowsODirect(img), false, "ramfs refuses O_DIRECT");
    await withDirectDevice(img, async (dev) => {
      assert.equal(dev.directWrites, false);
      const b = pattern(2 * ALIGN, 9);
      await dev.write(ALIGN, b);
      assert.deepEqual(await dev.read(ALIGN, 2 * ALIGN), b);
    });
  });
});

test("without address space for the bounce memory (a tight ulimit -v) writes are buffered", { skip: !direct && "no O_DIRECT here" }, () => {
  const img = tempImage(dir, 2 * MiB);
  const deviceJs = new URL("../src/block/device.js", import.meta.url).href;
  const script = `
    const { FileBlockDevice } = await import(${JSON.stringify(deviceJs)});
    const dev = await FileBlockDevice.open(${JSON.stringify(img)}, undefined, true, { directWrites: true });
    await dev.write(4096, Buffer.alloc(8192, 7));
    const back = await dev.read(4096, 8192);
    await dev.close();
    console.log(JSON.stringify({ direct: dev.directWrites, landed: back.every((b) => b === 7) }));`;
  // enough for node itself, far too little for the 8 GiB a WebAssembly.Memory reserves
  const out = execFileSync("bash", ["-c", 'ulimit -v 3000000 && exec "$0" --input-type=module -e "$1"', process.execPath, script], {
    encoding: "utf8",
  });
  assert.deepEqual(JSON.parse(out.trim()), { direct: false, landed: true });
});

test("the aligned pool hands out disjoint aligned slots, and waiters get returned slots in arrival order", async () => {
  assert.throws(() => new AlignedPool(ALIGN + 1, 2), RangeError);
  assert.throws(() => new AlignedPool(ALIGN, 0), RangeError);
  const pool = new AlignedPool(2 * ALIGN, 3);
  const slots = [await pool.take(), await pool.take(), await pool.take()];
  assert.equal(pool.available(), 0);
  slots.forEach((s, i) => s.fill(i + 1));
  slots.forEach((s, i) => {
    assert.equal(s.length, 2 * ALIGN);
    assert.equal(s.byteOffset % ALIGN, 0);
    assert.ok(s.every((x) => x === i + 1), `slot ${i} kept its bytes: slots do not overlap`);
  });
  const order: number[] = [];
  const w1 = pool.take().then((s) => (order.push(1), s));
  const w2 = pool.take().then((s) => (order.push(2), s));
  pool.give(slots[2]!);
  pool.give(slots[0]!);
  assert.equal(await w1, slots[2]);
  assert.equal(await w2, slots[0]);
  assert.deepEqual(order, [1, 2]);
  pool.give(slots[1]!);
  assert.equal(pool.available(), 1);
});
