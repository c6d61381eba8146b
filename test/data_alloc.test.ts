/*
 * The data allocator's writeback (src/alloc/data_alloc.ts): once
 * WRITEBACK_BYTES were written since the last sync, a sync of the data
 * device starts in the background; sync() waits for it and syncs the
 * rest; a failed background sync fails every later sync(), even when the
 * device's own next sync succeeds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MountDataAlloc, WRITEBACK_BYTES } from "../src/alloc/data_alloc.js";
import { MemBlockDevice } from "../src/block/sim_device.js";
import { DATA_BLOCK_SIZE as BS } from "../src/format/constants.js";

/** a device whose syncs are held until the test releases them, and can be told to fail */
class GatedDevice extends MemBlockDevice {
  started = 0;
  private gates: { release: () => void; fail: (e: Error) => void }[] = [];
  override async sync(): Promise<void> {
    this.started++;
    await new Promise<void>((release, fail) => this.gates.push({ release, fail }));
    await super.sync();
  }
  release(): void {
    for (const g of this.gates.splice(0)) g.release();
  }
  failAll(msg: string): void {
    for (const g of this.gates.splice(0)) g.fail(new Error(msg));
  }
}

const CHUNK = 1 << 20;
const tick = () => new Promise((r) => setImmediate(r));

test("writes start a background sync every WRITEBACK_BYTES, and sync() waits for it", async () => {
  const dev = new GatedDevice("data", 4 * WRITEBACK_BYTES);
  const data = new MountDataAlloc(dev);
  const chunk = Buffer.alloc(CHUNK, 7);
  let blk = 0;
  for (let done = 0; done + CHUNK < WRITEBACK_BYTES; done += CHUNK, blk += CHUNK / BS) await data.write(blk, chunk);
  assert.equal(dev.started, 0, "no sync before WRITEBACK_BYTES were written");
  await data.write(blk, chunk);
  blk += CHUNK / BS;
  assert.equal(dev.started, 1, "the write that reached WRITEBACK_BYTES started a sync");
  // writes go on while it runs, and start no second one
  for (let i = 0; i < WRITEBACK_BYTES / CHUNK; i++, blk += CHUNK / BS) await data.write(blk, chunk);
  assert.equal(dev.started, 1);

  let synced = false;
  const s = data.sync().then(() => (synced = true));
  await tick();
  assert.equal(synced, false, "sync() waits for the background sync");
  assert.equal(dev.started, 1, "and starts its own only after it");
  dev.release();
  await tick();
  await tick();
  assert.equal(dev.started, 2);
  assert.equal(synced, false);
  dev.release();
  await s;
  assert.equal(dev.syncs, 2);
});

test("a failed background sync fails every later sync()", async () => {
  const dev = new GatedDevice("data", 2 * WRITEBACK_BYTES);
  const data = new MountDataAlloc(dev);
  const chunk = Buffer.alloc(CHUNK, 1);
  for (let blk = 0; blk < WRITEBACK_BYTES / BS; blk += CHUNK / BS) await data.write(blk, chunk);
  assert.equal(dev.started, 1);
  dev.failAll("EIO in writeback");
  await tick();
  for (let i = 0; i < 2; i++) {
    const s = data.sync();
    await tick();
    dev.release(); // the device's own sync succeeds
    await assert.rejects(s, /EIO in writeback/);
  }
});
