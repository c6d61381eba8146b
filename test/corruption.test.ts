/*
 * A flipped bit in any metadata block is found when the block is read:
 * the read fails with EIO naming the block, and print reports it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { simMkfs, simMount, seededRng } from "./support/sim_fs.js";
import { readTree } from "./support/tree.js";
import { readSuper } from "../src/block/super.js";
import { MetaStore } from "../src/block/store.js";
import { btreeVisitBlocks } from "../src/btree/btree.js";
import { printMeta } from "../src/cli/print.js";
import { BLOCK_LG_SIZE } from "../src/format/constants.js";
import { CorruptionError } from "../src/util/errors.js";

test("a flipped bit in any block of the fs root is reported as EIO naming the block", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const dir = await m.fs.mkdir(1, "dir", 0o40755, 0, 0);
  for (let i = 0; i < 3000; i++) {
    const f = await m.fs.create(dir.ino, `file-with-a-long-name-${i}`, 0o100644, 0, 0);
    if (i % 10 === 0) await m.fs.write(f.ino, 0, Buffer.alloc(5000, i & 0xff));
  }
  await m.unmount();

  const { super: sb } = await readSuper(d.meta);
  const blocks: number[] = [];
  await btreeVisitBlocks(new MetaStore(d.meta, sb.fsid), sb.fsRoot, (ref) => {
    blocks.push(ref.blkno);
  });
  assert.ok(blocks.length > 5, `fs root has ${blocks.length} blocks`);
  const rng = seededRng(7);
  for (let t = 0; t < 6; t++) {
    const blkno = blocks[Math.floor(rng() * blocks.length)]!;
    const byte = blkno * BLOCK_LG_SIZE + 8 + Math.floor(rng() * (BLOCK_LG_SIZE - 8));
    const bit = Math.floor(rng() * 8);
    d.meta.flipBit(byte, bit);
    const lines: string[] = [];
    const pr = await printMeta(d.meta, (l) => lines.push(l));
    assert.ok(pr.corruptions.some((c) => c.includes(`block ${blkno}:`)), `print names block ${blkno}: ${pr.corruptions.join("; ")}`);
    // the bad block is found by the mount itself (orphan scan) or by the first read that reaches it
    await assert.rejects(
      (async () => {
        const m2 = await simMount(d);
        try {
          await readTree(m2.fs);
        } finally {
          m2.abandon();
        }
      })(),
      (e: unknown) => e instanceof CorruptionError && e.errno === "EIO" && e.blkno === blkno,
    );
    d.meta.flipBit(byte, bit);
  }
  const m3 = await simMount(d);
  assert.equal((await readTree(m3.fs)).size, 3001);
  await m3.unmount();
});
