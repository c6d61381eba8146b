/*
 * The server's commit of a mount's log trees, against the rule that
 * keeps the last commit readable after a crash: no block the last
 * committed super block reaches may be written before the next super
 * block is.  The blocks a mount freed since its last commit (the tree
 * and list blocks it replaced) are reached from the last commit until
 * this one is durable, so a commit must not make them allocatable to
 * itself.  And a mount's commit costs the server one transaction.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { MetaList } from "../src/alloc/meta_list.js";
import { ExtentTree } from "../src/alloc/extents.js";
import { counters } from "../src/util/counters.js";
import type { LogTrees, SuperBlock } from "../src/format/structs.js";
import type { OpenLogTrees } from "../src/net/api.js";

test("a mount's commit stages its freed blocks in the server's freed list, never in the free tree of the same transaction", async () => {
  const d = await simMkfs(64 * 1024 * 1024, 128 * 1024 * 1024);
  // a small threshold: log trees are finalized every few commits
  const m = await simMount(d, { server: { mergeThresholdBlocks: 3 } });
  const server = m.server;
  const seen: { freed: number[]; finalized: boolean; committed: SuperBlock }[] = [];
  const commitLogTrees = server.commitLogTrees.bind(server);
  server.commitLogTrees = async (lt: LogTrees): Promise<OpenLogTrees> => {
    const freed = [...(await MetaList.load(server.store, lt.metaFreed)).blknos];
    const next = await commitLogTrees(lt);
    // taken at once: a merge the commit started has not committed anything yet
    if (freed.length > 0) seen.push({ freed, finalized: next.lt.nr !== lt.nr, committed: server.committedSuper() });
    return next;
  };

  for (let i = 0; i < 3000 && seen.filter((s) => s.finalized).length < 3; i++) {
    await m.fs.create(1, `file-${i}`, 0o644, 0, 0);
    if (i % 50 === 49) await m.sync();
  }
  assert.ok(seen.some((s) => s.finalized), "no commit finalized a log tree that had freed blocks");
  assert.ok(seen.some((s) => !s.finalized), "no commit kept a log tree that had freed blocks");

  for (const { freed, committed } of seen) {
    const free = await new ExtentTree(committed.metaAlloc).list(server.store);
    const avail = new Set((await MetaList.load(server.store, committed.serverMetaAvail)).blknos);
    const staged = new Set((await MetaList.load(server.store, committed.serverMetaFreed)).blknos);
    for (const b of freed) {
      assert.ok(!free.some((e) => b >= e.start && b < e.start + e.len), `freed block ${b} in the free tree of the commit that recorded its replacement`);
      assert.ok(!avail.has(b), `freed block ${b} in the server's avail list of that commit`);
      assert.ok(staged.has(b), `freed block ${b} not staged in the server's freed list`);
    }
  }
  await m.unmount();
});

test("a mount's commit is one server transaction", async () => {
  const d = await simMkfs(64 * 1024 * 1024, 128 * 1024 * 1024);
  const m = await simMount(d);
  for (let i = 0; i < 5; i++) {
    await m.fs.create(1, `file-${i}`, 0o644, 0, 0);
    const before = counters.get("server_commit");
    await m.sync();
    assert.equal(counters.get("server_commit") - before, 1, `commit ${i}`);
  }
  await m.unmount();
});
