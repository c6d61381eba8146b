/*
 * Running out of space is a clean ENOSPC, never corruption: the
 * filesystem stays consistent, remounts, and space comes back when
 * files are removed.  Also: the commit timer commits dirty items on its
 * own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { readTree } from "./support/tree.js";
import { printMeta } from "../src/cli/print.js";
import { isFsError } from "../src/util/errors.js";
import { DATA_BLOCK_SIZE } from "../src/format/constants.js";

test("filling the data device ends in ENOSPC; deleting files gives the space back", async () => {
  const d = await simMkfs(64 * 1024 * 1024, 24 * 1024 * 1024);
  let m = await simMount(d);
  const chunk = Buffer.alloc(256 * 1024, 9);
  const written = new Map<string, number>();
  let full = false;
  for (let i = 0; i < 400 && !full; i++) {
    const f = await m.fs.create(1, `f${i}`, 0o100644, 0, 0);
    let size = 0;
    for (let j = 0; j < 4; j++) {
      try {
        const n = await m.fs.write(f.ino, size, chunk);
        size += n;
        if (n < chunk.length) {
          full = true;
          break;
        }
      } catch (e) {
        assert.ok(isFsError(e, "ENOSPC"), `expected ENOSPC, got ${e}`);
        full = true;
        break;
      }
    }
    written.set(`/f${i}`, size);
    if (i % 8 === 0) await m.sync();
  }
  assert.ok(full, "the device filled up");
  const freeAtFull = (await m.fs.statfs()).bfree;
  await m.unmount();

  m = await simMount(d);
  const tree = await readTree(m.fs);
  for (const [path, size] of written) {
    const got = tree.get(path);
    assert.ok(got?.startsWith(`file ${size} `), `${path}: ${got}, wrote ${size}`);
  }
  for (const path of written.keys()) await m.fs.unlink(1, path.slice(1));
  await m.sync();
  await m.unmount();
  m = await simMount(d);
  const st = await m.fs.statfs();
  assert.ok(st.bfree > freeAtFull + (written.size * 0.5 * chunk.length) / DATA_BLOCK_SIZE, `free ${st.bfree} after deleting, ${freeAtFull} when full`);
  const f = await m.fs.create(1, "again", 0o100644, 0, 0);
  assert.equal(await m.fs.write(f.ino, 0, Buffer.alloc(1 << 20, 1)), 1 << 20);
  await m.unmount();
  const pr = await printMeta(d.meta, () => undefined);
  assert.deepEqual(pr.corruptions, []);
});

test("the commit timer commits dirty items without a sync", async () => {
  const d = await simMkfs();
  const m = await simMount(d, { commitIntervalMs: 50 });
  const before = (await m.server.statfs()).committedSeq;
  await m.fs.create(1, "timed", 0o100644, 0, 0);
  for (let i = 0; i < 100 && (await m.server.statfs()).committedSeq === before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok((await m.server.statfs()).committedSeq > before, "a commit happened on the timer");
  m.abandon();
  const m2 = await simMount(d);
  await m2.fs.lookup(1, "timed");
  await m2.unmount();
});

test("filling the metadata device ends in a clean ENOSPC and the last commit survives", async () => {
  const d = await simMkfs(16 * 1024 * 1024, 64 * 1024 * 1024);
  const m = await simMount(d, { server: { mergeThresholdBlocks: 1 << 30 } });
  const synced: string[] = [];
  let pending: string[] = [];
  let err: unknown;
  for (let i = 0; i < 200000; i++) {
    try {
      const name = `a-file-with-a-name-long-enough-to-take-space-${i}`;
      await m.fs.create(1, name, 0o100644, 0, 0);
      pending.push(name);
      if (i % 500 === 499) {
        await m.sync();
        synced.push(...pending);
        pending = [];
      }
    } catch (e) {
      err = e;
      break;
    }
  }
  assert.ok(isFsError(err, "ENOSPC"), `stopped with ${err}`);
  m.abandon();
  const pr = await printMeta(d.meta, () => undefined);
  assert.deepEqual(pr.corruptions, []);
  const m2 = await simMount(d);
  const tree = await readTree(m2.fs);
  for (const n of synced) assert.ok(tree.has(`/${n}`), `${n} was synced`);
  for (const n of synced.slice(0, 200)) await m2.fs.unlink(1, n);
  await m2.sync();
  await m2.fs.create(1, "after", 0o100644, 0, 0);
  await m2.unmount();
});
