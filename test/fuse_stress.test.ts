/*
 * Many processes at once on one real scoutfs mount (through the CLI):
 * STRESS_WORKERS workers (support/stress_worker.ts) create, write,
 * truncate, rename, link, unlink and fsync files in the same four
 * directories and race for shared names, for STRESS_SECONDS in all
 * (default 60, split over two phases).
 *
 * Phase 1 ends at its deadline; the tree must equal the union of the
 * workers' models exactly, and again after `scoutfs umount` and a remount.
 * Phase 2 continues from those models and ends with kill -9 of the daemon
 * while the workers run; after `umount -l` and a remount each worker's files
 * must equal its model after some prefix of its ops that includes every op
 * before its last successful fsync (stress_model.ts; the op in flight may
 * also be there, and a write after the last fsync may be there up to a page
 * boundary, as the kernel can split it into requests that commit apart),
 * no file may belong to nobody, and `scoutfs print` must find no corruption.
 * Needs root and /dev/fuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { findDaemonPid, logPath } from "../src/cli/daemon.js";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { alive, cleanupMount, makeCliFs, run, scoutfs } from "./support/cli_harness.js";
import { applyStressOp, cloneState, stateDigest, STRESS_DIRS, type StressOp, type StressReport, type StressState } from "./support/stress_model.js";

const WORKER = fileURLToPath(new URL("./support/stress_worker.js", import.meta.url));
const SECONDS = Number(process.env.STRESS_SECONDS ?? 60);
const WORKERS = Number(process.env.STRESS_WORKERS ?? 6);
const SEED = Number(process.env.STRESS_SEED ?? Date.now() % 1_000_000);

/** path -> sha256 of every file in the shared directories */
function treeDigest(mnt: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const d of STRESS_DIRS) {
    for (const name of fs.readdirSync(path.join(mnt, d))) {
      const p = `${d}/${name}`;
      m.set(p, createHash("sha256").update(fs.readFileSync(path.join(mnt, p))).digest("hex"));
    }
  }
  return m;
}

function assertSameTree(actual: Map<string, string>, expected: Map<string, string>, what: string): void {
  const missing = [...expected.keys()].filter((p) => !actual.has(p));
  const extra = [...actual.keys()].filter((p) => !expected.has(p));
  const differ = [...expected.keys()].filter((p) => actual.has(p) && actual.get(p) !== expected.get(p));
  assert.deepEqual({ missing, extra, differ }, { missing: [], extra: [], differ: [] }, `${what} (seed ${SEED})`);
}

/** a write cut at each page boundary it crosses (the last is the whole write) */
function writePrefixes(o: Extract<StressOp, { op: "write" }>): StressOp[] {
  const firstPage = Math.floor(o.offset / 4096);
  const pages = Math.ceil((o.offset + o.len) / 4096) - firstPage;
  return Array.from({ length: pages }, (_, k) => ({ ...o, len: Math.min(o.len, (firstPage + k + 1) * 4096 - o.offset) }));
}

function finalState(r: StressReport): StressState {
  const s = cloneState(r.initial);
  for (const o of r.ops) applyStressOp(s, o);
  return s;
}

async function runWorkers(tmp: string, mnt: string, phase: number, seconds: number, states: (StressState | null)[], during?: () => Promise<void>): Promise<StressReport[]> {
  const done: Promise<StressReport>[] = [];
  for (let id = 0; id < WORKERS; id++) {
    const base = path.join(tmp, `p${phase}-w${id}`);
    let stateFile: string | undefined;
    if (states[id]) {
      stateFile = `${base}.state.json`;
      fs.writeFileSync(stateFile, JSON.stringify(states[id]));
    }
    const cfg = { mnt, id, seconds, seed: SEED * 97 + phase * 13 + id, stateFile, reportFile: `${base}.report.json` };
    fs.writeFileSync(`${base}.cfg.json`, JSON.stringify(cfg));
    const child = spawn(process.execPath, [WORKER, `${base}.cfg.json`], { cwd: "/", stdio: ["ignore", "inherit", "inherit"] });
    done.push(
      new Promise((res, rej) =>
        child.once("exit", (code) => {
          if (code !== 0) rej(new Error(`worker ${id} exited ${code}`));
          else res(JSON.parse(fs.readFileSync(cfg.reportFile, "utf8")) as StressReport);
        }),
      ),
    );
  }
  if (during) await during();
  return Promise.all(done);
}

const skip = fuseSkipReason();

test("stress: many processes in shared directories, remount, kill -9", { skip: skip ?? false, timeout: (SECONDS + 240) * 1000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("fuse-stress-", "256M", "1G");
  const mount = async () => {
    const m = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(m.code, 0, m.stderr);
  };
  try {
    await mount();
    for (const d of STRESS_DIRS) fs.mkdirSync(path.join(mnt, d));

    // phase 1: run to the deadline, then the tree is exactly the models, before and after a remount
    const first = await runWorkers(tmp, mnt, 1, SECONDS / 2, []);
    const stopped = first.filter((r) => r.stopped !== "deadline").map((r) => `worker ${r.id}: ${r.stopped} in ${JSON.stringify(r.inFlight)}`);
    assert.deepEqual(stopped, [], `workers stopped early (seed ${SEED})`);
    const states = first.map(finalState);
    const expected = new Map<string, string>();
    for (const s of states) for (const [p, h] of stateDigest(s)) expected.set(p, h);
    const ops = first.reduce((n, r) => n + r.ops.length, 0);
    assert.ok(ops > WORKERS * 20, `only ${ops} ops ran`);
    assert.ok(first.some((r) => r.raceLosses > 0) || first.length === 1, "the workers raced for shared names");
    assertSameTree(treeDigest(mnt), expected, "after phase 1");
    const u = await scoutfs("umount", mnt);
    assert.equal(u.code, 0, u.stderr);
    await mount();
    assertSameTree(treeDigest(mnt), expected, "after a remount");

    // phase 2: kill -9 the daemon while the workers run
    const daemon = findDaemonPid(mnt)!;
    const second = await runWorkers(tmp, mnt, 2, SECONDS * 10, states, async () => {
      await new Promise((r) => setTimeout(r, (SECONDS / 2) * 1000));
      process.kill(daemon.pid, "SIGKILL");
    });
    for (let i = 0; i < 100 && alive(daemon.pid); i++) await new Promise((r) => setTimeout(r, 50));
    for (const r of second) assert.match(r.stopped, /^(gone|short write): /, `worker ${r.id} (seed ${SEED})`);
    assert.ok(
      second.some((r) => r.durableOps > 0),
      "some worker fsynced before the kill",
    );
    const l = await run("umount", ["-l", mnt]);
    assert.equal(l.code, 0, l.stderr);
    await mount();

    // every worker's files are its model after a prefix of its ops, at least up to its last fsync
    const actual = treeDigest(mnt);
    const claimed = new Set<string>();
    // race names won by a finished link (or before the phase); an in-flight
    // link may have won a name nobody else had
    const wonBy = new Map<string, number>();
    const isRace = (p: string) => path.basename(p).startsWith("race-");
    for (const r of second) {
      for (const p of Object.keys(r.initial.paths)) if (isRace(p)) wonBy.set(p, r.id);
      for (const o of r.ops) if (o.op === "link" && isRace(o.to)) wonBy.set(o.to, r.id);
    }
    for (const r of second) {
      const ownsPath = (p: string) => path.basename(p).startsWith(`w${r.id}-`);
      const races = new Set([...wonBy].filter(([, id]) => id === r.id).map(([p]) => p));
      if (r.inFlight?.op === "link" && isRace(r.inFlight.to) && !wonBy.has(r.inFlight.to)) races.add(r.inFlight.to);
      const mine = new Map([...actual].filter(([p]) => ownsPath(p) || races.has(p)));
      for (const p of mine.keys()) claimed.add(p);
      const s = cloneState(r.initial);
      const candidates: number[] = [];
      let closest = { op: -1, differ: [] as string[] };
      const matches = (state: StressState, op: number) => {
        const d = stateDigest(state);
        const differ = [...new Set([...d.keys(), ...mine.keys()])].filter((p) => d.get(p) !== mine.get(p));
        if (closest.op < 0 || differ.length < closest.differ.length) closest = { op, differ };
        return differ.length === 0;
      };
      // the op in flight may have happened too; and the kernel may send one
      // write(2) as several requests (it ends one at a partly written page),
      // with a commit between them, so a write after the last fsync can be
      // durable up to any page boundary
      const all = [...r.ops, ...(r.inFlight ? [r.inFlight] : [])];
      for (let i = 0; i <= all.length; i++) {
        if (i >= r.durableOps && matches(s, i)) candidates.push(i);
        if (i === all.length) break;
        const o = all[i]!;
        if (i >= r.durableOps && o.op === "write") {
          for (const part of writePrefixes(o)) {
            const t = cloneState(s);
            applyStressOp(t, part);
            if (matches(t, i + 1)) candidates.push(i + 1);
          }
        }
        applyStressOp(s, o);
      }
      if (candidates.length === 0) {
        // say how the closest state's files differ from what is on disk
        const at = cloneState(r.initial);
        for (let i = 0; i < closest.op; i++) applyStressOp(at, all[i]!);
        for (const p of closest.differ) {
          const want = at.paths[p] === undefined ? null : Buffer.from(at.contents[at.paths[p]!] ?? "", "base64");
          const got = fs.existsSync(path.join(mnt, p)) ? fs.readFileSync(path.join(mnt, p)) : null;
          const diffs: number[] = [];
          if (want && got) for (let i = 0; i < Math.max(want.length, got.length); i++) if (want[i] !== got[i]) diffs.push(i);
          console.error(`${p}: want ${want?.length ?? "absent"} bytes, got ${got?.length ?? "absent"}; ${diffs.length} bytes differ, first ${diffs[0]} last ${diffs[diffs.length - 1]}`);
        }
      }
      assert.ok(
        candidates.length > 0,
        `worker ${r.id}: files after the crash match no state between its last fsync (op ${r.durableOps}) and its last op (${r.ops.length}); closest after op ${closest.op}, differing in ${closest.differ.join(" ")}; ops ${JSON.stringify(r.ops.slice(r.durableOps - 1))}, in flight ${JSON.stringify(r.inFlight)}; seed ${SEED}`,
      );
    }
    const orphans = [...actual.keys()].filter((p) => !claimed.has(p));
    assert.deepEqual(orphans, [], `files no worker made (seed ${SEED})`);
    const u2 = await scoutfs("umount", mnt);
    assert.equal(u2.code, 0, u2.stderr);
    const p = await scoutfs("print", meta);
    assert.equal(p.code, 0, p.stderr);
  } catch (e) {
    // the daemon's log says what the filesystem saw
    for (const dir of ["/var/log/scoutfs", path.join(os.tmpdir(), "scoutfs")]) {
      const f = logPath(dir, mnt);
      if (fs.existsSync(f)) console.error(`--- ${f} (last lines)\n${fs.readFileSync(f, "utf8").split("\n").slice(-60).join("\n")}`);
    }
    throw e;
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
