/*
 * FileBlockDevice's direct writes (src/block/device.ts) and the aligned
 * bounce pool they use (src/block/aligned_pool.ts): whole-block writes go
 * through an O_DIRECT descriptor from any source buffer, land intact,
 * stay coherent with the buffered descriptor reads use, and fall back to
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
import { ALIGN, AlignedPool } from "../src/block/aligned_pool.js";

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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scoutfs-blockdev-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const direct = allowsODirect(tempImage(dir, ALIGN));

test("direct writes go through an O_DIRECT descriptor and read back intact, also after reopening", { skip: !direct && "no O_DIRECT here" }, async () => {
  const img = tempImage(dir, 16 * MiB);
  const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
  try {
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
  } finally {
    await dev.close();
  }
  assert.deepEqual(openFlagsOf(img), [], "close closes both descriptors");
  const again = await FileBlockDevice.open(img);
  try {
    assert.deepEqual(await again.read(MiB, 3 * MiB + 2 * ALIGN), pattern(3 * MiB + 2 * ALIGN, 2));
  } finally {
    await again.close();
  }
});

test("a direct write replaces what a buffered read cached of its range", { skip: !direct && "no O_DIRECT here" }, async () => {
  const img = tempImage(dir, 4 * MiB);
  const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
  try {
    assert.equal(dev.directWrites, true);
    for (let round = 0; round < 4; round++) {
      const before = await dev.read(2 * ALIGN, 4 * ALIGN); // cached by the buffered descriptor
      const next = pattern(4 * ALIGN, 100 + round);
      assert.notDeepEqual(before, next);
      await dev.write(2 * ALIGN, next);
      assert.deepEqual(await dev.read(2 * ALIGN, 4 * ALIGN), next, `round ${round}: the read sees the direct write`);
    }
  } finally {
    await dev.close();
  }
});

test("more writes in flight than bounce slots all land, and every slot comes back", { skip: !direct && "no O_DIRECT here" }, async () => {
  const img = tempImage(dir, 32 * MiB);
  const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
  try {
    const bufs = Array.from({ length: 20 }, (_, i) => unalignedCopy(pattern(MiB + (i % 3) * ALIGN, 1000 + i)));
    await Promise.all(bufs.map((b, i) => dev.write(i * (MiB + 4 * ALIGN), b)));
    for (let i = 0; i < bufs.length; i++) assert.deepEqual(await dev.read(i * (MiB + 4 * ALIGN), bufs[i]!.length), bufs[i], `write ${i}`);
  } finally {
    await dev.close();
  }
});

test("writes not on block boundaries, and devices opened without directWrites, are buffered and land too", async () => {
  const img = tempImage(dir, 4 * MiB);
  const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
  try {
    const b = pattern(1000, 7);
    await dev.write(ALIGN + 100, b);
    assert.deepEqual(await dev.read(ALIGN + 100, 1000), b);
    const whole = pattern(2 * ALIGN, 8);
    await dev.write(3 * ALIGN, whole);
    assert.deepEqual(await dev.read(3 * ALIGN, 2 * ALIGN), whole);
  } finally {
    await dev.close();
  }
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
  const mnt = fs.mkdtempSync(path.join(dir, "ramfs-"));
  execFileSync("mount", ["-t", "ramfs", "none", mnt]);
  try {
    const img = tempImage(mnt, 2 * MiB);
    assert.equal(allowsODirect(img), false, "ramfs refuses O_DIRECT");
    const dev = await FileBlockDevice.open(img, undefined, true, { directWrites: true });
    try {
      assert.equal(dev.directWrites, false);
      const b = pattern(2 * ALIGN, 9);
      await dev.write(ALIGN, b);
      assert.deepEqual(await dev.read(ALIGN, 2 * ALIGN), b);
    } finally {
      await dev.close();
    }
  } finally {
    execFileSync("umount", [mnt]);
  }
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
