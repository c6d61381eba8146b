/*
 * fuse_ops: the FUSE requests that mdbench's create, rename and unlink
 * cost the daemon, replayed in-process against scoutfs's FuseOps and
 * against the transport floor's backend (MemFs), same run, one table.
 *
 *   node dist/bench/fuse_ops.js [--files N] [--rounds R] [--dir PATH] [--only scoutfs|memfs]
 *
 * Design.  Through a mount, one create in a directory makes the kernel
 * send LOOKUP (the name is not cached: negative), CREATE, GETATTR of the
 * directory (the create invalidated its attributes and default_permissions
 * checks them before the next name) and RELEASE at close; a rename sends
 * LOOKUP of the new name, RENAME and GETATTR of the directory; an unlink
 * sends UNLINK and GETATTR of the directory.  This script calls the same
 * handlers in the same order, one request at a time as a single-threaded
 * caller's kernel would, with no /dev/fuse, no kernel and no other
 * thread: what is left is the backend's own JavaScript per operation,
 * hot in the CPU's caches (through a mount it runs cold, about twice as
 * slow: see the notes of issue 3).  mdbench's ratio against the floor is
 * governed by this difference: (floor latency + scoutfs's extra here)
 * against floor latency.
 *
 * Each round is a fresh directory: N creates, N renames, N unlinks, each
 * phase timed; rounds alternate between the backends (scoutfs mounted
 * once on sparse images in PATH, made with mkfs; MemFs fresh per round)
 * and the table shows the median µs per operation of each phase and the
 * scoutfs/memfs difference.  A second table takes the phases apart: each
 * request's own µs, all rounds pooled, median and mean (the mean adds the
 * commits and GC pauses that fell inside requests; after an answer-first
 * change the directory's GETATTR also waits for the change's items).
 * Commits run as they would in the daemon (the one-second timer and the
 * dirty limit), so their time is in the figures.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { FileBlockDevice } from "../src/block/device.js";
import { writeNewFilesystem } from "../src/cli/mkfs_core.js";
import { Mount } from "../src/client/mount.js";
import { ScoutfsFuseOps } from "../src/fuse/scoutfs_ops.js";
import type { FuseCtx, FuseOps } from "../src/fuse/ops.js";
import { MemFs } from "../test/support/fuse_memfs.js";

const PHASES = ["create", "rename", "unlink"] as const;
type Phase = (typeof PHASES)[number];
const S_IFDIR = 0o040000;
const ROOT = 1;

function usage(msg?: string): never {
  if (msg) process.stderr.write(`fuse_ops: ${msg}\n`);
  process.stderr.write("usage: node dist/bench/fuse_ops.js [--files N] [--rounds R] [--dir PATH] [--only scoutfs|memfs]\n");
  process.exit(2);
}

function args(): { files: number; rounds: number; dir: string; only?: string } {
  let v;
  try {
    v = parseArgs({
      options: {
        files: { type: "string", default: "20000" },
        rounds: { type: "string", default: "5" },
        dir: { type: "string", default: os.tmpdir() },
        only: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    usage((e as Error).message);
  }
  if (v.help) usage();
  const int = (k: string, s: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) usage(`bad value for --${k}: ${s}`);
    return n;
  };
  if (v.only !== undefined && v.only !== "scoutfs" && v.only !== "memfs") usage(`--only: unknown backend ${v.only}`);
  return { files: int("files", v.files!), rounds: int("rounds", v.rounds!), dir: path.resolve(v.dir!), only: v.only };
}

function ctx(): FuseCtx {
  return { uid: 0, gid: 0, pid: process.pid, unique: 1n, signal: new AbortController().signal };
}

const name = (prefix: string, i: number): Buffer => Buffer.from(`${prefix}${String(i).padStart(8, "0")}`);

/** one round in a fresh directory: µs per operation of each phase */
async function round(ops: FuseOps, files: number, tag: number, perReq: Map<string, number[]>): Promise<Record<Phase, number>> {
  const c = ctx();
  let phaseNow = "";
  /** time one request into perReq under "phase request" */
  const req = async <T>(what: string, p: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    const r = await p();
    const k = `${phaseNow} ${what}`;
    let a = perReq.get(k);
    if (!a) perReq.set(k, (a = []));
    a.push(Number(process.hrtime.bigint() - t0) / 1000);
    return r;
  };
  const dir = (await ops.mkdir!(c, ROOT, Buffer.from(`round.${tag}`), S_IFDIR | 0o755, 0)).attr.ino;
  const inos: number[] = [];
  const out = {} as Record<Phase, number>;
  const timed = async (phase: Phase, one: (i: number) => Promise<void>): Promise<void> => {
    phaseNow = phase;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < files; i++) {
      await one(i);
      // as the session does between requests: let timers (the commit) and I/O run
      if ((i & 63) === 63) await new Promise<void>((r) => setImmediate(r));
    }
    out[phase] = Number(process.hrtime.bigint() - t0) / 1000 / files;
  };
  await timed("create", async (i) => {
    const n = name("f", i);
    if ((await req("LOOKUP", () => ops.lookup!(c, dir, n))) !== null) throw new Error(`${n} exists before its create`);
    const r = await req("CREATE", () => ops.create!(c, dir, n, 0o644, 0o022, 0));
    inos.push(r.attr.ino);
    await req("GETATTR", () => ops.getattr!(c, dir, null));
    await req("RELEASE", () => ops.release!(c, r.attr.ino, r.fh, 0, 0, 0n));
  });
  await timed("rename", async (i) => {
    const to = name("r", i);
    if ((await req("LOOKUP", () => ops.lookup!(c, dir, to))) !== null) throw new Error(`${to} exists before the rename`);
    await req("RENAME", () => ops.rename!(c, dir, name("f", i), dir, to, 0));
    await req("GETATTR", () => ops.getattr!(c, dir, null));
  });
  await timed("unlink", async (i) => {
    await req("UNLINK", () => ops.unlink!(c, dir, name("r", i)));
    await req("GETATTR", () => ops.getattr!(c, dir, null));
    ops.forget?.(inos[i]!, 1);
  });
  await ops.rmdir!(c, ROOT, Buffer.from(`round.${tag}`));
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const a = args();
  const tmp = fs.mkdtempSync(path.join(a.dir, "fuse-ops-"));
  let m: Mount | undefined;
  try {
    const results: Record<"scoutfs" | "memfs", Record<Phase, number>[]> = { scoutfs: [], memfs: [] };
    const perReq = { scoutfs: new Map<string, number[]>(), memfs: new Map<string, number[]>() };
    let scoutfs: ScoutfsFuseOps | undefined;
    if (a.only !== "memfs") {
      const meta = path.join(tmp, "meta.img");
      const data = path.join(tmp, "data.img");
      for (const [f, size] of [[meta, 16 * 2 ** 30], [data, 32 * 2 ** 30]] as const) {
        fs.closeSync(fs.openSync(f, "w"));
        fs.truncateSync(f, size);
      }
      const md = await FileBlockDevice.open(meta);
      const dd = await FileBlockDevice.open(data);
      await writeNewFilesystem({ meta: md, data: dd, quorumSlots: [{ addr: "127.0.0.1", port: 12345 }] });
      await md.close();
      await dd.close();
      m = await Mount.openPaths(meta, data);
      scoutfs = new ScoutfsFuseOps(m.fs);
    }
    for (let r = 0; r < a.rounds; r++) {
      if (scoutfs) {
        results.scoutfs.push(await round(scoutfs, a.files, r, perReq.scoutfs));
        process.stderr.write(`round ${r + 1} scoutfs ${JSON.stringify(results.scoutfs.at(-1))}\n`);
      }
      if (a.only !== "scoutfs") {
        const memfs = new MemFs({ noFlush: true, negativeEntries: true });
        results.memfs.push(await round(memfs, a.files, r, perReq.memfs));
        process.stderr.write(`round ${r + 1} memfs ${JSON.stringify(results.memfs.at(-1))}\n`);
      }
    }
    const fmt = (x: number | undefined, w: number): string => (x === undefined ? "-" : x.toFixed(1)).padStart(w);
    process.stdout.write(`µs per op (median of ${a.rounds} rounds, ${a.files} files)\n`);
    process.stdout.write(`${"op".padEnd(8)}${"scoutfs".padStart(10)}${"memfs".padStart(10)}${"extra".padStart(10)}\n`);
    for (const p of PHASES) {
      const s = results.scoutfs.length ? median(results.scoutfs.map((x) => x[p])) : undefined;
      const f = results.memfs.length ? median(results.memfs.map((x) => x[p])) : undefined;
      const d = s !== undefined && f !== undefined ? s - f : undefined;
      process.stdout.write(`${p.padEnd(8)}${fmt(s, 10)}${fmt(f, 10)}${fmt(d, 10)}\n`);
    }
    // each request's own time, all rounds pooled: the median shows its usual cost, the mean adds what the
    // commits and GC that happened to fall inside it cost
    process.stdout.write(`\nµs per request (all rounds)\n`);
    process.stdout.write(
      `${"request".padEnd(16)}${"scoutfs med".padStart(12)}${"mean".padStart(8)}${"memfs med".padStart(12)}${"mean".padStart(8)}\n`,
    );
    const mean = (xs: number[]): number => xs.reduce((t, x) => t + x, 0) / xs.length;
    const kinds = new Set([...perReq.scoutfs.keys(), ...perReq.memfs.keys()]);
    for (const k of kinds) {
      const sx = perReq.scoutfs.get(k);
      const mx = perReq.memfs.get(k);
      process.stdout.write(
        `${k.padEnd(16)}${fmt(sx && median(sx), 12)}${fmt(sx && mean(sx), 8)}${fmt(mx && median(mx), 12)}${fmt(mx && mean(mx), 8)}\n`,
      );
    }
  } finally {
    if (m) await m.unmount();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`fuse_ops: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
