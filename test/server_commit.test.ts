/*
 * The server's commit of a mount's log trees, against the rule that
 * keeps the last commit readable after a crash: no block the last
 * committed super block reaches may be written before the next super
 * block is.  The blocks a mount freed since its last commit (the tree
 * blocks it replaced) are reached from the last commit until this one is
 * durable, so a commit must not make them allocatable to itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { MetaList } from "../src/alloc/meta_list.js";
import { ExtentTree } from "../src/alloc/extents.js";
import type { LogTrees, SuperBlock } from "../src/format/structs.js";
import type { OpenLogTrees } from "../src/net/api.js";

test("a commit that finalizes a log tree stages the mount's freed blocks instead of freeing them into its own transaction", async () => {
  const d = await simMkfs(64 * 1024 * 1024, 128 * 1024 * 1024);
  // a small threshold: log trees are finalized every few commits
  const m = await simMount(d, { server: { mergeThresholdBlocks: 3 } });
  const server = m.server;
  const seen: { freed: number[]; committed: SuperBlock }[] = [];
  const commitLogTrees = server.commitLogTrees.bind(server);
  const getLogTrees = server.getLogTrees.bind(server);
  server.commitLogTrees = async (lt: LogTrees): Promise<OpenLogTrees> => {
    const freed = [...(await MetaList.load(server.store, lt.metaFreed)).blknos];
    // the super block of the commit that recorded lt, taken as the transaction that opens the next tree starts
    let committed: SuperBlock | undefined;
    server.getLogTrees = (rid) => {
      committed = server.committedSuper();
      return getLogTrees(rid);
    };
    try {
      const next = await commitLogTrees(lt);
      if (next.lt.nr !== lt.nr && freed.length > 0) seen.push({ freed, committed: committed! });
      return next;
    } finally {
      server.getLogTrees = getLogTrees;
    }
  };

  for (let i = 0; i < 3000 && seen.length < 3; i++) {
    await m.fs.create(1, `file-${i}`, 0o644, 0, 0);
    if (i % 50 === 49) await m.sync();
  }
  assert.ok(seen.length > 0, "no commit finalized a log tree that had freed blocks");

  for (const { freed, committed } of seen) {
    const free = await new ExtentTree(committed.metaAlloc).list(server.store);
    const avail = new Set((await MetaList.load(server.store, committed.serverMetaAvail)).blknos);
    const staged = new Set((await MetaList.load(server.store, committed.serverMetaFreed)).blknos);
    for (const b of freed) {
      assert.ok(!free.some((e) => b >= e.start && b < e.start + e.len), `freed block ${b} in the free tree of the commit that finalized its tree`);
      assert.ok(!avail.has(b), `freed block ${b} in the server's avail list of that commit`);
      assert.ok(staged.has(b), `freed block ${b} not staged in the server's freed list`);
    }
  }
  await m.unmount();
});
