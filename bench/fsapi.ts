/*
 * fsapi benchmark: the scoutfs fs API (in-process, on sparse image files)
 * against node:fs/promises on a plain directory, same workload, same run.
 *
 *   node dist/bench/fsapi.js [--files N] [--dirs D] [--gib G] [--dir PATH]
 *                            [--only scoutfs|nodefs] [--drop-os-caches] [--keep]
 *
 * Workload (every operation awaited one at a time, as a single-threaded
 * client would issue them):
 *   1dir   create N files in one directory, stat them all (lookup), rename
 *          them all within the directory, unlink them all;
 *   Ddirs  the same N files spread over D directories (mkdir D dirs, N/D
 *          files in each; the mkdirs count with create, the rmdirs with
 *          unlink; ops/s is per file);
 *   data   write G GiB to one file in 1 MiB writes, then sync (m.sync() /
 *          fsync); drop scoutfs's caches by unmounting and remounting (not
 *          timed) and read the file back in 1 MiB reads, checking a crc32c
 *          of everything read against what was written.
 *
 * The images and the reference directory live in PATH (default: a fresh
 * folder under os.tmpdir()), so both sides sit on the same filesystem
 * and both read back through the OS page cache unless --drop-os-caches
 * (root only: writes 3 to /proc/sys/vm/drop_caches, machine wide) is
 * given.  Everything the benchmark made is removed at the end unless
 * --keep.
 */
import { mkdir, mkdtemp, open, rename, rm, rmdir, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { constants as fsc } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomFillSync } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { FileBlockDevice } from "../src/block/device.js";
import { writeNewFilesystem } from "../src/cli/mkfs_core.js";
import { Mount } from "../src/client/mount.js";
import { counters } from "../src/util/counters.js";

/* ------------------------------------------------------------------ */
/* arguments                                                           */

interface Args {
  files: number;
  dirs: number;
  gib: number;
  dir?: string;
  only?: "scoutfs" | "nodefs";
  dropOsCaches: boolean;
  keep: boolean;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`fsapi: ${msg}\n`);
  process.stderr.write(
    "usage: node dist/bench/fsapi.js [--files N] [--dirs D] [--gib G] [--dir PATH]\n" +
      "                                [--only scoutfs|nodefs] [--drop-os-caches] [--keep]\n",
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { files: 100_000, dirs: 100, gib: 1, dropOsCaches: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${k} needs a value`);
      return v;
    };
    const num = (int: boolean): number => {
      const s = val();
      const n = Number(s);
      if (!Number.isFinite(n) || n < 0 || (int && !Number.isInteger(n))) usage(`bad value for ${k}: ${s}`);
      return n;
    };
    switch (k) {
      case "--files": a.files = num(true); break;
      case "--dirs": a.dirs = num(true); break;
      case "--gib": a.gib = num(false); break;
      case "--dir": a.dir = val(); break;
      case "--only": {
        const v = val();
        if (v !== "scoutfs" && v !== "nodefs") usage(`--only takes scoutfs or nodefs`);
        a.only = v;
        break;
      }
      case "--drop-os-caches": a.dropOsCaches = true; break;
      case "--keep": a.keep = true; break;
      case "-h": case "--help": usage();
      default: usage(`unknown argument ${k}`);
    }
  }
  if (a.dirs < 1) usage("--dirs must be at least 1");
  return a;
}

/* ------------------------------------------------------------------ */
/* measuring                                                           */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CHUNK = MiB;

let peakRss = 0;
let phasePeakRss = 0;
function sampleRss(): number {
  const r = process.memoryUsage().rss;
  if (r > peakRss) peakRss = r;
  if (r > phasePeakRss) phasePeakRss = r;
  return r;
}

interface Result {
  /** ops/s, or MB/s for data phases */
  rate?: number;
  seconds?: number;
  error?: string;
  peakRss?: number;
  rssAfter?: number;
  items?: number;
  blocks?: number;
  note?: string;
}

interface PhaseDef {
  key: string;
  label: string;
  unit: "ops/s" | "MB/s";
}

const results = new Map<string, { scoutfs?: Result; nodefs?: Result }>();

function record(side: "scoutfs" | "nodefs", key: string, r: Result): void {
  const e = results.get(key) ?? {};
  e[side] = r;
  results.set(key, e);
}

/** progress on stderr, at most every 2 s */
class Progress {
  private readonly t0 = performance.now();
  private last = this.t0;
  constructor(private readonly what: string, private readonly total: number, private readonly unit = "ops") {}
  /**
   * Called after every operation.  Every 64th call also yields to the
   * event loop (the caller awaits it): operations that complete from
   * memory resolve as microtasks, and a loop of them would otherwise
   * starve timers (the scoutfs commit timer, the RSS sampler), which a
   * request-driven server (FUSE) never does.
   */
  tick(done: number): Promise<void> | undefined {
    this.report(done);
    if (++this.calls % 64 === 0) return new Promise((r) => setImmediate(r));
    return undefined;
  }
  private calls = 0;
  private report(done: number): void {
    const now = performance.now();
    if (now - this.last < 2000) return;
    this.last = now;
    const s = (now - this.t0) / 1000;
    const pct = this.total ? ((100 * done) / this.total).toFixed(0) : "?";
    process.stderr.write(
      `  ${this.what}: ${done}/${this.total} ${this.unit} (${pct}%), ${(done / s).toFixed(0)} ${this.unit}/s, ` +
        `rss ${(sampleRss() / MiB).toFixed(0)} MiB\n`,
    );
  }
}

interface Side {
  readonly name: "scoutfs" | "nodefs";
  /** after each phase: item/block cache sizes, if any */
  caches(): { items?: number; blocks?: number };
}

/**
 * Run fn as phase `key`, counting `ops` units per second (MB/s if the
 * phase's unit says so: ops is then bytes).
 */
async function phase(side: Side, def: PhaseDef, ops: number, fn: (p: Progress) => Promise<void>): Promise<boolean> {
  process.stderr.write(`${side.name} ${def.label}...\n`);
  phasePeakRss = 0;
  sampleRss();
  const before = counters.snapshot();
  const prog = new Progress(`${side.name} ${def.label}`, def.unit === "MB/s" ? Math.round(ops / MiB) : ops, def.unit === "MB/s" ? "MiB" : "ops");
  const t0 = performance.now();
  try {
    await fn(prog);
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(`${side.name} ${def.label} FAILED: ${msg}\n${e instanceof Error ? e.stack : ""}\n`);
    record(side.name, def.key, { error: msg, peakRss: phasePeakRss, rssAfter: sampleRss(), ...side.caches() });
    return false;
  }
  const s = (performance.now() - t0) / 1000;
  const rate = def.unit === "MB/s" ? ops / 1e6 / s : ops / s;
  const rssAfter = sampleRss();
  const r: Result = { rate, seconds: s, peakRss: phasePeakRss, rssAfter, ...side.caches() };
  record(side.name, def.key, r);
  process.stderr.write(
    `${side.name} ${def.label}: ${fmtRate(rate)} ${def.unit} in ${s.toFixed(2)} s, rss ${(rssAfter / MiB).toFixed(0)} MiB` +
      (r.items !== undefined ? `, items ${r.items}, blocks ${r.blocks}` : "") +
      `, heap ${(heapUsed() / MiB).toFixed(0)} MiB, array buffers ${(process.memoryUsage().arrayBuffers / MiB).toFixed(0)} MiB` +
      "\n",
  );
  if (side.name === "scoutfs") {
    const after = counters.snapshot();
    const d = Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0)
      .map(([k, v]) => `${k}=${v}`);
    process.stderr.write(`  counters: ${d.join(" ")}\n`);
  }
  return true;
}

/** heap in use; after a full GC when run with --expose-gc */
function heapUsed(): number {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
  return process.memoryUsage().heapUsed;
}

function fmtRate(r: number | undefined): string {
  if (r === undefined) return "-";
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/* ------------------------------------------------------------------ */
/* the data the write phase writes                                     */

/** chunk i of the big file: a window of a random pool, stamped with i */
class DataGen {
  private readonly pool = Buffer.allocUnsafe(16 * MiB);
  constructor() {
    randomFillSync(this.pool);
  }
  chunk(i: number, len: number): Buffer {
    const off = ((i * 7919) % 3840) * 4096; // <= 15 MiB, 4 KiB aligned
    const b = Buffer.allocUnsafe(len);
    this.pool.copy(b, 0, off, off + len);
    b.writeUInt32LE(i >>> 0, 0);
    b.writeUInt32LE(0x5c0f5f5, len - 4);
    return b;
  }
}

/* ------------------------------------------------------------------ */
/* the workload, against either side                                   */

const PHASES = {
  c1: { key: "c1", label: "create, 1 dir", unit: "ops/s" },
  s1: { key: "s1", label: "stat, 1 dir", unit: "ops/s" },
  r1: { key: "r1", label: "rename, 1 dir", unit: "ops/s" },
  u1: { key: "u1", label: "unlink, 1 dir", unit: "ops/s" },
  cD: { key: "cD", label: "create, D dirs", unit: "ops/s" },
  sD: { key: "sD", label: "stat, D dirs", unit: "ops/s" },
  rD: { key: "rD", label: "rename, D dirs", unit: "ops/s" },
  uD: { key: "uD", label: "unlink, D dirs", unit: "ops/s" },
  w: { key: "w", label: "write+sync", unit: "MB/s" },
  r: { key: "r", label: "read (cold)", unit: "MB/s" },
} satisfies Record<string, PhaseDef>;

/** the operations the workload needs, by directory handle and name */
interface Ops<D> extends Side {
  root(): D;
  mkdir(parent: D, name: string): Promise<D>;
  rmdir(parent: D, name: string): Promise<void>;
  create(dir: D, name: string): Promise<void>;
  stat(dir: D, name: string): Promise<number>;
  rename(dir: D, from: string, to: string): Promise<void>;
  unlink(dir: D, name: string): Promise<void>;
  /** write the whole big file in chunks and make it durable; returns crc32c of what was written */
  writeBig(dir: D, name: string, bytes: number, gen: DataGen, p: Progress): Promise<number>;
  /** drop whatever caches can be dropped (not timed) */
  dropCaches(): Promise<void>;
  /** read the big file back; returns crc32c and byte count */
  readBig(dir: D, name: string, p: Progress): Promise<{ crc: number; bytes: number }>;
}

const fname = (i: number) => `file-${String(i).padStart(7, "0")}`;
const rname = (i: number) => `renamed-${String(i).padStart(7, "0")}`;

async function runWorkload<D>(o: Ops<D>, a: Args, dropOs: () => Promise<void>): Promise<void> {
  const N = a.files;
  const root = o.root();

  // --- N files in one directory
  const one = await o.mkdir(root, "onedir");
  if (!(await phase(o, PHASES.c1, N, async (p) => {
    for (let i = 0; i < N; i++) {
      await o.create(one, fname(i));
      await p.tick(i + 1);
    }
  }))) return;
  if (!(await phase(o, PHASES.s1, N, async (p) => {
    for (let i = 0; i < N; i++) {
      const ino = await o.stat(one, fname(i));
      if (!(ino > 0)) throw new Error(`stat of ${fname(i)} gave ino ${ino}`);
      await p.tick(i + 1);
    }
  }))) return;
  if (!(await phase(o, PHASES.r1, N, async (p) => {
    for (let i = 0; i < N; i++) {
      await o.rename(one, fname(i), rname(i));
      await p.tick(i + 1);
    }
  }))) return;
  if (!(await phase(o, PHASES.u1, N, async (p) => {
    for (let i = 0; i < N; i++) {
      await o.unlink(one, rname(i));
      await p.tick(i + 1);
    }
  }))) return;
  await o.rmdir(root, "onedir");

  // --- the same N files over D directories
  const D = a.dirs;
  const per = Math.floor(N / D);
  const total = per * D;
  const dirs: D[] = [];
  if (!(await phase(o, PHASES.cD, total, async (p) => {
    for (let d = 0; d < D; d++) dirs.push(await o.mkdir(root, `dir-${d}`));
    let n = 0;
    for (let d = 0; d < D; d++) {
      for (let i = 0; i < per; i++) {
        await o.create(dirs[d]!, fname(i));
        await p.tick(++n);
      }
    }
  }))) return;
  if (!(await phase(o, PHASES.sD, total, async (p) => {
    let n = 0;
    for (let d = 0; d < D; d++) {
      for (let i = 0; i < per; i++) {
        const ino = await o.stat(dirs[d]!, fname(i));
        if (!(ino > 0)) throw new Error(`stat of dir-${d}/${fname(i)} gave ino ${ino}`);
        await p.tick(++n);
      }
    }
  }))) return;
  if (!(await phase(o, PHASES.rD, total, async (p) => {
    let n = 0;
    for (let d = 0; d < D; d++) {
      for (let i = 0; i < per; i++) {
        await o.rename(dirs[d]!, fname(i), rname(i));
        await p.tick(++n);
      }
    }
  }))) return;
  if (!(await phase(o, PHASES.uD, total, async (p) => {
    let n = 0;
    for (let d = 0; d < D; d++) {
      for (let i = 0; i < per; i++) {
        await o.unlink(dirs[d]!, rname(i));
        await p.tick(++n);
      }
      await o.rmdir(root, `dir-${d}`);
    }
  }))) return;

  // --- one big file
  const bytes = Math.round((a.gib * GiB) / CHUNK) * CHUNK;
  if (bytes === 0) return;
  const gen = new DataGen();
  let wcrc = 0;
  if (!(await phase(o, PHASES.w, bytes, async (p) => {
    wcrc = await o.writeBig(root, "big", bytes, gen, p);
  }))) return;
  process.stderr.write(`${o.name}: dropping caches\n`);
  await o.dropCaches();
  await dropOs();
  await phase(o, PHASES.r, bytes, async (p) => {
    const got = await o.readBig(root, "big", p);
    if (got.bytes !== bytes) throw new Error(`read back ${got.bytes} bytes, wrote ${bytes}`);
    if (got.crc !== wcrc) throw new Error(`checksum mismatch: read crc32c ${got.crc.toString(16)}, wrote ${wcrc.toString(16)}`);
  });
  await o.unlink(root, "big");
}

/* ------------------------------------------------------------------ */
/* scoutfs side                                                        */

const ROOT_INO = 1;
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

async function makeScoutfs(metaPath: string, dataPath: string): Promise<void> {
  for (const [p, size] of [[metaPath, 16 * GiB], [dataPath, 32 * GiB]] as const) {
    await writeFile(p, "");
    await truncate(p, size);
  }
  const meta = await FileBlockDevice.open(metaPath);
  const data = await FileBlockDevice.open(dataPath);
  try {
    await writeNewFilesystem({ meta, data, quorumSlots: [{ addr: "127.0.0.1", port: 12345 }] });
  } finally {
    await meta.close();
    await data.close();
  }
}

class ScoutfsOps implements Ops<number> {
  readonly name = "scoutfs" as const;
  constructor(public m: Mount, private readonly metaPath: string, private readonly dataPath: string) {}
  get fs() {
    return this.m.fs;
  }
  caches() {
    return { items: this.m.cache.cachedItems(), blocks: this.m.store.cachedBlocks() };
  }
  root() {
    return ROOT_INO;
  }
  async mkdir(parent: number, name: string) {
    return (await this.fs.mkdir(parent, name, 0o40755, uid, gid)).ino;
  }
  async rmdir(parent: number, name: string) {
    await this.fs.rmdir(parent, name);
  }
  async create(dir: number, name: string) {
    await this.fs.create(dir, name, 0o100644, uid, gid);
  }
  async stat(dir: number, name: string) {
    return (await this.fs.lookup(dir, name)).ino;
  }
  async rename(dir: number, from: string, to: string) {
    await this.fs.rename(dir, from, dir, to, 0);
  }
  async unlink(dir: number, name: string) {
    await this.fs.unlink(dir, name);
  }
  async writeBig(dir: number, name: string, bytes: number, gen: DataGen, p: Progress) {
    const ino = (await this.fs.create(dir, name, 0o100644, uid, gid)).ino;
    await this.fs.open(ino);
    let crc = 0;
    try {
      for (let off = 0, i = 0; off < bytes; off += CHUNK, i++) {
        const b = gen.chunk(i, CHUNK);
        crc = crc32c(b, crc);
        const n = await this.fs.write(ino, off, b);
        if (n !== CHUNK) throw new Error(`short write at ${off}: ${n}`);
        await p.tick((off + CHUNK) / MiB);
      }
      await this.m.sync();
    } finally {
      await this.fs.release(ino);
    }
    return crc;
  }
  async dropCaches() {
    await this.m.unmount();
    this.m = await Mount.openPaths(this.metaPath, this.dataPath);
  }
  async readBig(dir: number, name: string, p: Progress) {
    const a = await this.fs.lookup(dir, name);
    await this.fs.open(a.ino);
    let crc = 0;
    let bytes = 0;
    try {
      for (;;) {
        const b = await this.fs.read(a.ino, bytes, CHUNK);
        if (b.length === 0) break;
        crc = crc32c(b, crc);
        bytes += b.length;
        await p.tick(bytes / MiB);
      }
    } finally {
      await this.fs.release(a.ino);
    }
    return { crc, bytes };
  }
}

/* ------------------------------------------------------------------ */
/* node:fs side                                                        */

class NodeOps implements Ops<string> {
  readonly name = "nodefs" as const;
  constructor(private readonly top: string) {}
  caches() {
    return {};
  }
  root() {
    return this.top;
  }
  async mkdir(parent: string, name: string) {
    const p = path.join(parent, name);
    await mkdir(p);
    return p;
  }
  async rmdir(parent: string, name: string) {
    await rmdir(path.join(parent, name));
  }
  async create(dir: string, name: string) {
    // what creat(2) does: make it, then close the handle
    const fh = await open(path.join(dir, name), fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
    await fh.close();
  }
  async stat(dir: string, name: string) {
    return (await stat(path.join(dir, name))).ino;
  }
  async rename(dir: string, from: string, to: string) {
    await rename(path.join(dir, from), path.join(dir, to));
  }
  async unlink(dir: string, name: string) {
    await unlink(path.join(dir, name));
  }
  async writeBig(dir: string, name: string, bytes: number, gen: DataGen, p: Progress) {
    const fh = await open(path.join(dir, name), fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
    let crc = 0;
    try {
      for (let off = 0, i = 0; off < bytes; off += CHUNK, i++) {
        const b = gen.chunk(i, CHUNK);
        crc = crc32c(b, crc);
        const { bytesWritten } = await fh.write(b, 0, CHUNK, off);
        if (bytesWritten !== CHUNK) throw new Error(`short write at ${off}: ${bytesWritten}`);
        await p.tick((off + CHUNK) / MiB);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    return crc;
  }
  async dropCaches() {}
  async readBig(dir: string, name: string, p: Progress) {
    const fh = await open(path.join(dir, name), "r");
    let crc = 0;
    let bytes = 0;
    try {
      for (;;) {
        const b = Buffer.allocUnsafe(CHUNK);
        const { bytesRead } = await fh.read(b, 0, CHUNK, bytes);
        if (bytesRead === 0) break;
        crc = crc32c(b.subarray(0, bytesRead), crc);
        bytes += bytesRead;
        await p.tick(bytes / MiB);
      }
    } finally {
      await fh.close();
    }
    return { crc, bytes };
  }
}

/* ------------------------------------------------------------------ */
/* the table                                                           */

function mib(n: number | undefined): string {
  return n === undefined ? "-" : `${(n / MiB).toFixed(0)}`;
}

function printTable(a: Args, info: string[]): void {
  const rows: string[][] = [];
  const head = ["phase", "unit", "scoutfs", "node:fs", "ratio", "scoutfs s", "node:fs s", "peak RSS MiB", "RSS after", "items", "blocks"];
  for (const def of Object.values(PHASES) as PhaseDef[]) {
    const e = results.get(def.key);
    if (!e) continue;
    const s = e.scoutfs;
    const n = e.nodefs;
    const label = def.label.replace("D dirs", `${a.dirs} dirs`);
    const cell = (r?: Result) => (r === undefined ? "-" : r.error ? "ERROR" : fmtRate(r.rate));
    const ratio = s?.rate !== undefined && n?.rate ? (s.rate / n.rate).toFixed(3) : "-";
    rows.push([
      label,
      def.unit,
      cell(s),
      cell(n),
      ratio,
      s?.seconds?.toFixed(2) ?? "-",
      n?.seconds?.toFixed(2) ?? "-",
      // RSS columns are the scoutfs run's when there is one
      mib((s ?? n)?.peakRss),
      mib((s ?? n)?.rssAfter),
      s?.items?.toString() ?? "-",
      s?.blocks?.toString() ?? "-",
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out: string[] = [];
  out.push(...info);
  out.push("");
  out.push(line(head));
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out.push(line(r));
  out.push("");
  out.push(`ratio = scoutfs / node:fs (higher is better for scoutfs); RSS, items and blocks are sampled during/after the scoutfs phase`);
  out.push(`peak RSS over the whole run: ${mib(peakRss)} MiB`);
  const errs = [...results.entries()].flatMap(([k, e]) =>
    (["scoutfs", "nodefs"] as const).flatMap((side) => (e[side]?.error ? [`  ${side} ${k}: ${e[side]!.error}`] : [])),
  );
  if (errs.length) out.push("errors:", ...errs);
  process.stdout.write(out.join("\n") + "\n");
}

/* ------------------------------------------------------------------ */
/* main                                                                */

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  let made: string;
  if (a.dir) {
    await mkdir(a.dir, { recursive: true });
    made = await mkdtemp(path.join(a.dir, "scoutfs-bench-"));
  } else {
    made = await mkdtemp(path.join(os.tmpdir(), "scoutfs-bench-"));
  }
  const metaPath = path.join(made, "meta.img");
  const dataPath = path.join(made, "data.img");
  const refDir = path.join(made, "ref");

  const sampler = setInterval(sampleRss, 100);
  sampler.unref();

  let cleaned = false;
  const cleanup = async () => {
    if (cleaned || a.keep) return;
    cleaned = true;
    await rm(made, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`fsapi: ${sig}, removing ${made}\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const dropOs = async () => {
    if (!a.dropOsCaches) return;
    try {
      await writeFile("/proc/sys/vm/drop_caches", "3\n");
    } catch (e) {
      process.stderr.write(`fsapi: cannot drop OS caches: ${(e as Error).message}\n`);
    }
  };

  const info = [
    `fsapi benchmark: ${a.files} files, ${a.dirs} dirs (${Math.floor(a.files / a.dirs)} files each), ${a.gib} GiB in 1 MiB I/O`,
    `  in ${made}; node ${process.version}, ${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? "?"}`,
    `  reads after remount come from the ${a.dropOsCaches ? "disk (OS caches dropped)" : "OS page cache (scoutfs caches dropped by remount)"}`,
  ];

  try {
    if (a.only !== "nodefs") {
      const t = performance.now();
      await makeScoutfs(metaPath, dataPath);
      // the mount lives only in ops: it is replaced by the remount
      const ops = new ScoutfsOps(await Mount.openPaths(metaPath, dataPath), metaPath, dataPath);
      process.stderr.write(`scoutfs: mkfs + mount in ${((performance.now() - t) / 1000).toFixed(2)} s\n`);
      try {
        await runWorkload(ops, a, dropOs);
      } finally {
        const t2 = performance.now();
        await ops.m.unmount().catch((e) => process.stderr.write(`scoutfs: unmount failed: ${(e as Error).message}\n`));
        process.stderr.write(`scoutfs: final unmount in ${((performance.now() - t2) / 1000).toFixed(2)} s\n`);
      }
      const c = counters.snapshot();
      const show = Object.entries(c).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`);
      info.push(`  scoutfs counters: ${show.join(" ")}`);
      if (!a.keep) {
        await rm(metaPath, { force: true });
        await rm(dataPath, { force: true });
      }
    }
    if (a.only !== "scoutfs") {
      await mkdir(refDir);
      await runWorkload(new NodeOps(refDir), a, dropOs);
    }
    printTable(a, info);
  } finally {
    clearInterval(sampler);
    await cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`fsapi: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
