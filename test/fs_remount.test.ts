/*
 * The whole fs API on a real mount (simulated devices) against a model,
 * thousands of random operations, with syncs and unmount/remount cycles
 * and small log merge thresholds so merges happen often; the tree is
 * compared with the model after every remount.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { FsModel, applyOp, fsSnapshot } from "./support/workload.js";

test("random fs operations match the model across syncs, merges and remounts", async () => {
  const opArb = fc.record({ kind: fc.nat(), a: fc.nat(), b: fc.nat(), c: fc.nat() });
  let total = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 200, maxLength: 600, size: "max" }), fc.integer({ min: 8, max: 64 }), async (ops, mergeBlocks) => {
      const d = await simMkfs(128 * 1024 * 1024, 256 * 1024 * 1024);
      const opts = { server: { mergeThresholdBlocks: mergeBlocks, mergeBatchItems: 300 }, itemCacheBytes: 2 * 1024 * 1024, blockCacheBytes: 5 << 20 };
      let m = await simMount(d, opts);
      const model = new FsModel();
      for (const [i, op] of ops.entries()) {
        await applyOp(m, model, op, i);
        total++;
        if (op.c % 17 === 0) await m.sync();
        if (i % 150 === 149) {
          await m.unmount();
          m = await simMount(d, opts);
          assert.deepEqual(await fsSnapshot(m.fs), model.snapshot(), `after remount at op ${i}`);
        }
      }
      assert.deepEqual(await fsSnapshot(m.fs), model.snapshot());
      await m.unmount();
      m = await simMount(d, opts);
      assert.deepEqual(await fsSnapshot(m.fs), model.snapshot(), "after the final remount");
      await m.unmount();
    }),
    { numRuns: 8, seed: 20261122, endOnFailure: true },
  );
  assert.ok(total >= 1600, `ran ${total} operations`);
});
