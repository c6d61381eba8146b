/*
 * xattr tag items through a whole mount on simulated devices: delta items
 * summed across commits, finalized log trees, background log merges
 * (batches of a few items), remounts and crashes, checked against a
 * model of what was committed.  Deterministic: each seed is one run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRng, simMkfs, simMount } from "./support/sim_fs.js";
import type { Mount, MountOptions } from "../src/client/mount.js";
import { U64_MAX } from "../src/format/key.js";
import { counters } from "../src/util/counters.js";

const ADMIN = { sysAdmin: true };
const NFILES = 6;
const NNAMES = 4;

/** file -> xattr kind+name -> value: what the fs holds */
type Model = Map<number, Map<string, number>>;

const clone = (m: Model): Model => new Map([...m].map(([f, x]) => [f, new Map(x)]));

function expectedTotals(m: Model): string[] {
  const sums = new Map<number, { total: bigint; count: bigint }>();
  for (const x of m.values()) {
    for (const [name, v] of x) {
      if (!name.startsWith("totl")) continue;
      const n = Number(name.slice(4));
      const s = sums.get(n) ?? { total: 0n, count: 0n };
      s.total += BigInt(v);
      s.count++;
      sums.set(n, s);
    }
  }
  return [...sums].sort((a, b) => a[0] - b[0]).map(([n, s]) => `${n}.0.7 = ${s.total}, ${s.count}`);
}

function expectedSrch(m: Model, inos: Map<number, number>): number[] {
  return [...m].filter(([, x]) => x.has("srch0")).map(([f]) => inos.get(f)!).sort((a, b) => a - b);
}

function expectedIndx(m: Model, inos: Map<number, number>): string[] {
  const out = new Set<string>();
  for (const [f, x] of m) for (const name of x.keys()) if (name.startsWith("indx")) out.add(`${name.slice(4)}:${inos.get(f)}`);
  return [...out].sort();
}

const xattrName = (name: string): string =>
  name.startsWith("totl") ? `scoutfs.totl.t.${name.slice(4)}.0.7` : name.startsWith("srch") ? "scoutfs.hide.srch.wanted" : `scoutfs.hide.indx.i.3.${name.slice(4)}`;

async function committedView(m: Mount) {
  const fs = m.fs;
  // totals in batches of 3, each continuing after the last: the reader's paging is part of what is checked
  const totals = [];
  for (let after = undefined as Awaited<ReturnType<typeof fs.xattrTotals>>[number]["name"] | undefined; ; ) {
    const batch = await fs.xattrTotals(after, 3);
    totals.push(...batch);
    after = batch.at(-1)?.name;
    if (!after) break;
  }
  const srch = await fs.searchXattrs(Buffer.from("scoutfs.hide.srch.wanted"), 0, 1000);
  const indx = await fs.xattrIndex({ major: 0, minor: 0n, ino: 0n }, { major: 255, minor: U64_MAX, ino: U64_MAX }, 1000);
  return {
    totals: totals.map((t) => `${t.name.join(".")} = ${t.total}, ${t.count}`),
    srch: srch.inos,
    indx: indx.map((e) => `${e.minor}:${e.ino}`).sort(),
  };
}

// a log tree finalized and merged after nearly every commit, or one that grows across commits until unmount
const RUNS = [
  ...[1, 2, 3, 4].map((seed) => ({ seed, mergeThresholdBlocks: 2 })),
  ...[5, 6].map((seed) => ({ seed, mergeThresholdBlocks: 1 << 30 })),
];

for (const { seed, mergeThresholdBlocks } of RUNS) {
  test(`seed ${seed}, merge at ${mergeThresholdBlocks} blocks: committed tag items match the model across commits, merges, remounts and crashes`, async () => {
    const rng = seededRng(seed);
    const d = await simMkfs();
    const opts: MountOptions = { server: { mergeThresholdBlocks, mergeBatchItems: 3 } };
    let m = await simMount(d, opts);
    const mergesBefore = counters.get("server_merge_delta");
    let live: Model = new Map();
    let committed: Model = new Map();
    let inos = new Map<number, number>();
    let committedInos = new Map<number, number>();
    const check = async (what: string) => {
      await m.server.idle();
      const got = await committedView(m);
      assert.deepEqual(got.totals, expectedTotals(committed), `${what}: totals`);
      assert.deepEqual(got.srch, expectedSrch(committed, committedInos), `${what}: search`);
      assert.deepEqual(got.indx, expectedIndx(committed, committedInos), `${what}: index`);
    };
    for (let step = 0; step < 160; step++) {
      const r = rng();
      const file = Math.floor(rng() * NFILES);
      const kind = ["totl", "srch", "indx"][Math.floor(rng() * 3)]!;
      const name = kind + (kind === "srch" ? 0 : Math.floor(rng() * NNAMES));
      if (r < 0.55) {
        if (!inos.has(file)) {
          inos.set(file, (await m.fs.create(1, `f${file}`, 0o100644, 0, 0)).ino);
          live.set(file, new Map());
        }
        const v = Math.floor(rng() * 1000);
        await m.fs.setxattr(inos.get(file)!, xattrName(name), kind === "indx" ? "" : String(v), 0, ADMIN);
        if (!(kind === "indx" && live.get(file)!.has(name))) live.get(file)!.set(name, kind === "totl" ? v : 0);
      } else if (r < 0.7) {
        const x = live.get(file);
        if (x?.has(name)) {
          await m.fs.removexattr(inos.get(file)!, xattrName(name), ADMIN);
          x.delete(name);
        }
      } else if (r < 0.8) {
        if (inos.has(file)) {
          await m.fs.unlink(1, `f${file}`);
          inos.delete(file);
          live.delete(file);
        }
      } else if (r < 0.9) {
        await m.sync();
        committed = clone(live);
        committedInos = new Map(inos);
        await check(`step ${step} after sync`);
      } else if (r < 0.95) {
        await m.unmount();
        m = await simMount(d, opts);
        committed = clone(live);
        committedInos = new Map(inos);
        await check(`step ${step} after remount`);
      } else {
        // a crash: what was not committed is lost
        m.abandon();
        m = await simMount(d, opts);
        live = clone(committed);
        inos = new Map(committedInos);
        await check(`step ${step} after crash`);
      }
    }
    await m.sync();
    committed = clone(live);
    committedInos = new Map(inos);
    await check("at the end");
    await m.unmount();
    assert.ok(counters.get("server_merge_delta") > mergesBefore, "log merges added deltas into the fs root");
  });
}
