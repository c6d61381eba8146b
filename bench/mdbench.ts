/*
 * mdbench: scoutfs through FUSE against the transport floor, ext4 and
 * tmpfs, in one run, one table.
 *
 *   npm run bench:md -- [--files N] [--seq-mib M] [--runs R] [--quick]
 *                       [--only scoutfs,floor,ext4,tmpfs] [--dir PATH]
 *                       [--noise] [--cpu-prof DIR] [--keep]
 *
 * Design.  The metadata workload is ../shared/bench/mdbench.c (create,
 * stat, readdir, write 4K, read 4K, rename, unlink of N files in one
 * directory, warm caches), built here with gcc -O2 into the run's temp
 * dir and run as a separate process on each target:
 *   scoutfs  mkfs on sparse image files, mounted with the project's own
 *            CLI (`main.js mount -o metadev_path=META DATA MNT`, a
 *            detached daemon), unmounted with `main.js umount`;
 *   floor    bench/memfs_fuse.ts: the trivial in-memory backend served by
 *            the same src/fuse session, with scoutfs's entry, attribute and
 *            negative timeouts and FOPEN_NOFLUSH, so the kernel makes the
 *            same round trips: FUSE's and the session's own cost;
 *   ext4     a sparse image on a loop device (mkfs.ext4, losetup, mount);
 *   tmpfs    a fresh tmpfs mount.
 * Then, on scoutfs, ext4 and tmpfs, a sequential write of --seq-mib MiB
 * (dd, 1 MiB blocks, conv=fsync: the time includes the fsync) and a
 * sequential read of it after dropping caches (scoutfs is also unmounted
 * and mounted again, so the daemon's own caches are cold too; tmpfs
 * cannot drop its pages, so its read is from memory).  MB/s is 10^6 bytes.
 *
 * The host is synced before every measurement, and scoutfs commits
 * first (settle: sync(2) does not reach a FUSE daemon).
 *
 * With --runs R every target runs mdbench R times (each in a fresh
 * mdb.<pid> directory), and then the sequential write and read R times
 * (the targets taking turns each round, each round starting with the next
 * target), and the table shows the median
 * per cell, then a second table with the best, then each run's
 * scoutfs/floor (scoutfs/ext4 for seq) ratio with their median and
 * lowest.  The machine is shared: run it when quiet, and read one run's
 * numbers as noisy.
 *
 * --noise measures how noisy: each run also runs mdbench on the floor a
 * second time, right after the first, and the per-run table gains the
 * floor's ratio to itself for each metadata op.  Nothing differs between
 * the two but time, so how far that ratio strays from 1 is how far one
 * run's scoutfs/floor ratio can stray without scoutfs changing.
 *
 * Everything made is undone on the way out, failure or not (and on
 * SIGINT/SIGTERM): mounts unmounted (lazily if they will not go), the
 * loop device detached, daemons stopped, the temp dir removed (unless
 * --keep).  Root is required (mounts, losetup, drop_caches).
 *
 * --cpu-prof DIR serves scoutfs with bench/scoutfs_fuse.ts (the daemon's
 * runMountDaemon in the foreground; the CLI's detached daemon takes no
 * node flags and NODE_OPTIONS refuses --cpu-prof) under node --cpu-prof,
 * so a .cpuprofile lands in DIR when it exits; the floor likewise in
 * DIR/floor.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs as parseFlags } from "node:util";
import { DAEMON_THREADPOOL_SIZE } from "../src/fuse/threadpool.js";
import { DAEMON_NODE_FLAGS } from "../src/cli/daemon.js";
import { SCOUTFS_SESSION_OPTIONS } from "../src/fuse/scoutfs_ops.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SHARED_SRC = path.resolve(REPO, "../shared/bench/mdbench.c");
const CLI = path.join(REPO, "dist/src/cli/main.js");
const MEMFS = path.join(REPO, "dist/bench/memfs_fuse.js");
const SCOUTFS_FG = path.join(REPO, "dist/bench/scoutfs_fuse.js");

const TARGETS = ["scoutfs", "floor", "ext4", "tmpfs"] as const;
type Target = (typeof TARGETS)[number];
const MD_OPS = ["create", "stat", "readdir", "write4k", "read4k", "rename", "unlink"] as const;
type MdOp = (typeof MD_OPS)[number];
const ROWS: { key: MdOp | "seqwrite" | "seqread"; label: string }[] = [
  { key: "create", label: "create" },
  { key: "stat", label: "stat" },
  { key: "readdir", label: "readdir" },
  { key: "write4k", label: "write 4K" },
  { key: "read4k", label: "read 4K" },
  { key: "rename", label: "rename" },
  { key: "unlink", label: "unlink" },
  { key: "seqwrite", label: "seq write MB/s" },
  { key: "seqread", label: "seq read MB/s" },
];
type RowKey = (typeof ROWS)[number]["key"];

/* ------------------------------------------------------------------ */
/* arguments                                                           */

interface Args {
  files: number;
  seqMiB: number;
  runs: number;
  only: Set<Target>;
  dir: string;
  cpuProf?: string;
  keep: boolean;
  /** run the floor twice per run and print its ratio to itself */
  noise: boolean;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`mdbench: ${msg}\n`);
  process.stderr.write(
    "usage: node dist/bench/mdbench.js [--files N] [--seq-mib M] [--runs R] [--quick]\n" +
      "                                  [--only scoutfs,floor,ext4,tmpfs] [--dir PATH] [--noise] [--cpu-prof DIR] [--keep]\n",
  );
  process.exit(2);
}

const FLAGS = {
  files: { type: "string" },
  "seq-mib": { type: "string" },
  runs: { type: "string", default: "1" },
  quick: { type: "boolean", default: false },
  only: { type: "string", default: TARGETS.join(",") },
  dir: { type: "string", default: os.tmpdir() },
  "cpu-prof": { type: "string" },
  keep: { type: "boolean", default: false },
  noise: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function flags(argv: string[]) {
  try {
    return parseFlags({ args: argv, options: FLAGS }).values;
  } catch (e) {
    usage((e as Error).message);
  }
}

function parseArgs(argv: string[]): Args {
  const v = flags(argv);
  if (v.help) usage();
  const int = (k: string, s: string | undefined, dflt: number, min: number): number => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) usage(`bad value for --${k}: ${s}`);
    return n;
  };
  const names = v.only!.split(",").filter((s) => s !== "");
  for (const n of names) if (!(TARGETS as readonly string[]).includes(n)) usage(`--only: unknown target ${n}`);
  if (v.noise && !names.includes("floor")) usage("--noise runs the floor twice: --only must include floor");
  return {
    files: int("files", v.files, v.quick ? 500 : 20_000, 1),
    seqMiB: int("seq-mib", v["seq-mib"], v.quick ? 16 : 1024, 0),
    runs: int("runs", v.runs, 1, 1),
    only: new Set(names as Target[]),
    dir: path.resolve(v.dir!),
    cpuProf: v["cpu-prof"] !== undefined ? path.resolve(v["cpu-prof"]) : undefined,
    keep: v.keep!,
    noise: v.noise!,
  };
}

/* ------------------------------------------------------------------ */
/* running things                                                      */

const log = (s: string) => process.stderr.write(`mdbench: ${s}\n`);

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env });
  } catch (e) {
    const x = e as { status?: number; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed (${x.status ?? "?"}): ${(x.stderr ?? x.message).trim()}`);
  }
}

function isMountpoint(p: string): boolean {
  const lines = fs.readFileSync("/proc/self/mounts", "utf8").split("\n");
  // /proc/mounts escapes spaces as \040; our paths have none
  return lines.some((l) => l.split(" ")[1] === p);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** undo steps, run last-first; each runs once and its failure is only logged */
const undo: { what: string; fn: () => void | Promise<void> }[] = [];
async function cleanup(): Promise<void> {
  while (undo.length > 0) {
    const u = undo.pop()!;
    try {
      await u.fn();
    } catch (e) {
      log(`cleanup: ${u.what}: ${(e as Error).message}`);
    }
  }
}

/** unmount p: normally, then lazily if it stays busy */
async function unmountHard(p: string): Promise<void> {
  for (let i = 0; i < 20 && isMountpoint(p); i++) {
    try {
      sh("umount", [p]);
    } catch {
      await sleep(250);
    }
  }
  if (isMountpoint(p)) sh("umount", ["-l", p]);
}

/**
 * Write back everything dirty on the host before a measurement: the image
 * files of scoutfs and of the ext4 loop device share the host filesystem,
 * and without this a target pays for the previous one's writeback (in CPU
 * of the kernel's flusher threads on a small machine, and in the host's
 * journal commits that an fsync waits for).  Twice: the first sync can
 * push the loop device's ext4 into its image file's pages after that
 * file was already written.
 */
function syncHost(): void {
  sh("sync", []);
  sh("sync", []);
}

/**
 * Commit what a scoutfs daemon still holds dirty, then syncHost: sync(2)
 * does not reach a FUSE filesystem (the kernel sends FUSE_SYNCFS to
 * virtiofs only), so without this the daemon's timed commit of the run
 * before (twenty thousand unlinks, a tenth of a second of CPU on a
 * two-core machine, and its device syncs) lands in whatever is measured
 * next.  An fsync of the mount's root directory commits its whole
 * transaction (FSYNCDIR).
 */
function settle(mounts: ReadonlyMap<Target, Mounted>): void {
  const m = mounts.get("scoutfs");
  if (m) {
    const fd = fs.openSync(m.dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  syncHost();
}

function dropCaches(): void {
  sh("sync", []);
  fs.writeFileSync("/proc/sys/vm/drop_caches", "3\n");
}

/* ------------------------------------------------------------------ */
/* the targets                                                         */

interface Mounted {
  dir: string;
  /** unmount and mount again (cold caches); only scoutfs needs it */
  remount?: () => Promise<void>;
  stop: () => Promise<void>;
}

async function mountTmpfs(tmp: string): Promise<Mounted> {
  const dir = path.join(tmp, "tmpfs");
  fs.mkdirSync(dir);
  sh("mount", ["-t", "tmpfs", "-o", "size=80%", "mdbench", dir]);
  return { dir, stop: () => unmountHard(dir) };
}

async function mountExt4(tmp: string, seqMiB: number, files: number): Promise<Mounted> {
  const img = path.join(tmp, "ext4.img");
  const dir = path.join(tmp, "ext4");
  fs.mkdirSync(dir);
  const bytes = Math.max(1 << 30, 2 * seqMiB * 2 ** 20 + files * 8192);
  fs.closeSync(fs.openSync(img, "w"));
  fs.truncateSync(img, bytes);
  // inode tables and journal zeroed now, by mkfs: lazily, a kernel thread (ext4lazyinit) would write
  // them for minutes after the mount, in the background of whichever target's run came next
  sh("mkfs.ext4", ["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", img]);
  const loop = sh("losetup", ["--find", "--show", img]).trim();
  const detach = { what: `losetup -d ${loop}`, fn: () => void sh("losetup", ["-d", loop]) };
  undo.push(detach);
  sh("mount", ["-t", "ext4", loop, dir]);
  return {
    dir,
    stop: async () => {
      await unmountHard(dir);
      undo.splice(undo.indexOf(detach), 1);
      sh("losetup", ["-d", loop]);
    },
  };
}

/** node's flags for a profiled server (NODE_OPTIONS cannot carry --cpu-prof) */
function profFlags(dir: string | undefined): string[] {
  if (!dir) return [];
  fs.mkdirSync(dir, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

/** a FUSE server in the foreground: resolves once it printed `ready` on stderr; stop() ends it and its mount */
async function serve(name: string, args: string[], ready: string, dir: string): Promise<() => Promise<void>> {
  // the pool size in the environment already: no re-executing relay in between (see src/fuse/threadpool.ts)
  const env = { ...process.env, UV_THREADPOOL_SIZE: String(DAEMON_THREADPOOL_SIZE) };
  // the daemon's node flags for both servers, so the floor differs from scoutfs only in its backend
  const child: ChildProcess = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...args], { stdio: ["ignore", "ignore", "pipe"], env });
  let err = "";
  await new Promise<void>((res, rej) => {
    child.stderr!.setEncoding("utf8").on("data", (s: string) => {
      err += s;
      if (err.includes(ready)) res();
    });
    child.once("exit", (code) => rej(new Error(`${name} exited (${code}) before mounting: ${err.trim()}`)));
    child.once("error", rej);
  });
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(60_000)]);
    }
    if (isMountpoint(dir)) await unmountHard(dir);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
}

async function mountScoutfs(tmp: string, cpuProf: string | undefined): Promise<Mounted> {
  const meta = path.join(tmp, "meta.img");
  const data = path.join(tmp, "data.img");
  const dir = path.join(tmp, "scoutfs");
  fs.mkdirSync(dir);
  for (const [f, size] of [[meta, 16 * 2 ** 30], [data, 32 * 2 ** 30]] as const) {
    fs.closeSync(fs.openSync(f, "w"));
    fs.truncateSync(f, size);
  }
  sh(process.execPath, [CLI, "mkfs", "-Q", "0,127.0.0.1,12345", meta, data]);
  // profiled: the same daemon code in the foreground (bench/scoutfs_fuse.ts), since the CLI's daemon takes no node flags
  let stopServer: (() => Promise<void>) | null = null;
  const mount = async () => {
    if (cpuProf) stopServer = await serve("scoutfs_fuse", [...profFlags(cpuProf), SCOUTFS_FG, meta, data, dir], "scoutfs mounted at", dir);
    else sh(process.execPath, [CLI, "mount", "-o", `metadev_path=${meta}`, data, dir]);
  };
  const umount = async () => {
    if (stopServer) {
      await stopServer();
      stopServer = null;
    }
    if (!isMountpoint(dir)) return;
    try {
      sh(process.execPath, [CLI, "umount", dir]);
    } catch (e) {
      log(`scoutfs umount: ${(e as Error).message}; detaching`);
      await unmountHard(dir);
    }
  };
  await mount();
  return {
    dir,
    remount: async () => {
      await umount();
      await mount();
    },
    stop: umount,
  };
}

async function mountFloor(tmp: string, cpuProf: string | undefined): Promise<Mounted> {
  const dir = path.join(tmp, "floor");
  fs.mkdirSync(dir);
  // the kernel caches what it caches for scoutfs, so both make the same round trips
  const o = SCOUTFS_SESSION_OPTIONS;
  const same = [`--entry-timeout=${o.entryTimeout ?? 1}`, `--attr-timeout=${o.attrTimeout ?? 1}`, `--negative-timeout=${o.negativeTimeout ?? 0}`, "--no-flush"];
  const stop = await serve("memfs_fuse", [...profFlags(cpuProf ? path.join(cpuProf, "floor") : undefined), MEMFS, dir, ...same], "memfs mounted at", dir);
  return { dir, stop };
}

/* ------------------------------------------------------------------ */
/* measuring                                                           */

function runMdbench(bin: string, dir: string, n: number): Record<MdOp, number> {
  const out = sh(bin, [dir, String(n)]);
  const r: Partial<Record<MdOp, number>> = {};
  for (const line of out.trim().split("\n")) {
    const [phase, , , rate] = line.split(" ");
    if ((MD_OPS as readonly string[]).includes(phase!)) r[phase as MdOp] = Number(rate);
  }
  for (const op of MD_OPS) if (r[op] === undefined) throw new Error(`mdbench printed no ${op} line:\n${out}`);
  return r as Record<MdOp, number>;
}

/** MB/s (10^6 bytes) of writing mib MiB to file with dd (1 MiB blocks, fsync before it ends) */
function seqWrite(file: string, mib: number): number {
  const t0 = process.hrtime.bigint();
  sh("dd", ["if=/dev/zero", `of=${file}`, "bs=1M", `count=${mib}`, "conv=fsync", "status=none"]);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (mib * 2 ** 20) / 1e6 / s;
}

function seqRead(file: string, mib: number): number {
  const t0 = process.hrtime.bigint();
  sh("dd", [`if=${file}`, "of=/dev/null", "bs=1M", "status=none"]);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const size = fs.statSync(file).size;
  if (size !== mib * 2 ** 20) throw new Error(`${file} is ${size} bytes, wrote ${mib} MiB`);
  return size / 1e6 / s;
}

/** xs starting at its (k mod length)th element (k >= 0), wrapping around */
function rotate<T>(xs: readonly T[], k: number): T[] {
  const i = xs.length === 0 ? 0 : k % xs.length;
  return [...xs.slice(i), ...xs.slice(0, i)];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** the floor's second mdbench of each run (--noise) is filed as a target of its own */
const FLOOR_AGAIN = "floor again";
type Series = Target | typeof FLOOR_AGAIN;
type Samples = Map<Series, Map<RowKey, number[]>>;

function add(samples: Samples, t: Series, k: RowKey, v: number): void {
  let m = samples.get(t);
  if (!m) samples.set(t, (m = new Map()));
  let a = m.get(k);
  if (!a) m.set(k, (a = []));
  a.push(v);
}

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  return v >= 100 ? Math.round(v).toString() : v.toFixed(1);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return "-";
  return `${(a / b).toFixed(2)}`;
}

function table(samples: Samples, pick: (xs: number[]) => number, title: string): string {
  const cell = (t: Target, k: RowKey) => {
    const xs = samples.get(t)?.get(k);
    return xs && xs.length > 0 ? pick(xs) : undefined;
  };
  const head = ["op/s", "scoutfs", "floor", "ext4", "tmpfs", "scoutfs/floor", "scoutfs/ext4"];
  const rows = ROWS.map((r) => [
    r.label,
    fmt(cell("scoutfs", r.key)),
    fmt(cell("floor", r.key)),
    fmt(cell("ext4", r.key)),
    fmt(cell("tmpfs", r.key)),
    ratio(cell("scoutfs", r.key), cell("floor", r.key)),
    ratio(cell("scoutfs", r.key), cell("ext4", r.key)),
  ]);
  return render(title, head, rows, 1);
}

/** a title and columns as wide as their widest cell: the first `left` columns left-aligned, the rest right */
function render(title: string, head: string[], rows: string[][], left: number): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => (i < left ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [title, line(head), ...rows.map(line)].join("\n");
}

/**
 * The ratio of each run: scoutfs against the floor (metadata rows) or
 * ext4 (seq rows) measured back to back in that run, then the median and
 * the lowest of them.  The host's speed drifts between runs (the floor's
 * creates/s moved by half within an hour); a pair measured minutes apart
 * shares that drift, where the ratio of two medians may take its
 * numerator and denominator from different runs.
 */
function runRatioTable(samples: Samples, runs: number, title: string): string {
  const head = ["op", "of / against", ...Array.from({ length: runs }, (_, i) => `run ${i + 1}`), "median", "lowest"];
  const row = (label: string, of: Series, against: Series, key: RowKey) => {
    const ours = samples.get(of)?.get(key) ?? [];
    const theirs = samples.get(against)?.get(key) ?? [];
    const each = Array.from({ length: runs }, (_, i) => (ours[i] !== undefined && theirs[i]! > 0 ? ours[i]! / theirs[i]! : undefined));
    const got = each.filter((x): x is number => x !== undefined);
    const two = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(2));
    return [label, `${of} / ${against}`, ...each.map(two), two(got.length ? median(got) : undefined), two(got.length ? Math.min(...got) : undefined)];
  };
  const rows = ROWS.map((r) => row(r.label, "scoutfs", r.key === "seqwrite" || r.key === "seqread" ? "ext4" : "floor", r.key));
  // --noise: the floor against itself, the same pair with nothing changed but the time
  if (samples.has(FLOOR_AGAIN)) for (const op of MD_OPS) rows.push(row(ROWS.find((r) => r.key === op)!.label, FLOOR_AGAIN, "floor", op));
  return render(title, head, rows, 2);
}

/* ------------------------------------------------------------------ */

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error("must run as root (mounts, losetup, drop_caches)");
  if (!fs.existsSync(SHARED_SRC)) throw new Error(`${SHARED_SRC} not found: mdbench.c comes from the shared folder ../shared next to the repository`);
  for (const f of [CLI, MEMFS]) if (!fs.existsSync(f)) throw new Error(`${f} not found: run npm run build first`);

  const tmp = fs.mkdtempSync(path.join(a.dir, "mdbench-"));
  if (!a.keep) undo.push({ what: `rm -rf ${tmp}`, fn: () => fs.rmSync(tmp, { recursive: true, force: true }) });
  const bin = path.join(tmp, "mdbench");
  sh("gcc", ["-O2", "-Wall", "-o", bin, SHARED_SRC]);
  log(`N=${a.files}, seq ${a.seqMiB} MiB, runs ${a.runs}, in ${tmp}; ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);

  const samples: Samples = new Map();
  const order = TARGETS.filter((t) => a.only.has(t));
  const mounts = new Map<Target, Mounted>();
  for (const t of order) {
    log(`mounting ${t}`);
    const m =
      t === "scoutfs" ? await mountScoutfs(tmp, a.cpuProf)
      : t === "floor" ? await mountFloor(tmp, a.cpuProf)
      : t === "ext4" ? await mountExt4(tmp, a.seqMiB, a.files)
      : await mountTmpfs(tmp);
    mounts.set(t, m);
    undo.push({ what: `stop ${t}`, fn: m.stop });
  }

  // runs interleave the targets, so a burst of load elsewhere hits one run of each rather than all runs of one
  // (--noise: the floor's second mdbench right after its first)
  const mdOrder: Series[] = order.flatMap((t): Series[] => (t === "floor" && a.noise ? [t, FLOOR_AGAIN] : [t]));
  for (let run = 0; run < a.runs; run++) {
    for (const t of mdOrder) {
      settle(mounts);
      const r = runMdbench(bin, mounts.get(t === FLOOR_AGAIN ? "floor" : t)!.dir, a.files);
      for (const op of MD_OPS) add(samples, t, op, r[op]);
      log(`run ${run + 1} ${t}: ${MD_OPS.map((op) => `${op} ${fmt(r[op])}`).join(", ")}`);
    }
  }

  // one write (and read) is at the mercy of the host's writeback: as many rounds as mdbench runs.
  // Each round starts with the next target: the first write of the first round takes memory the
  // host may have taken back (slow on this VM), later ones reuse what the one before freed
  const seqOrder = order.filter((t) => t !== "floor");
  for (let run = 0; a.seqMiB > 0 && run < a.runs; run++) {
    for (const t of rotate(seqOrder, run)) {
      const m = mounts.get(t)!;
      const file = path.join(m.dir, "seq");
      settle(mounts);
      add(samples, t, "seqwrite", seqWrite(file, a.seqMiB));
      await m.remount?.();
      dropCaches();
      add(samples, t, "seqread", seqRead(file, a.seqMiB));
      fs.unlinkSync(file);
      log(`run ${run + 1} ${t}: seq write ${fmt(samples.get(t)!.get("seqwrite")!.at(-1))} MB/s, read ${fmt(samples.get(t)!.get("seqread")!.at(-1))} MB/s`);
    }
  }

  const desc = `N=${a.files} files in one directory, seq ${a.seqMiB} MiB`;
  console.log(table(samples, median, a.runs > 1 ? `median of ${a.runs} runs, ${desc}` : desc));
  if (a.runs > 1) console.log("\n" + table(samples, (xs) => Math.max(...xs), `best of ${a.runs} runs, ${desc}`));
  if (a.runs > 1 || a.noise) {
    const title = "scoutfs against the floor (metadata) or ext4 (seq), each run's pair measured back to back";
    console.log("\n" + runRatioTable(samples, a.runs, a.noise ? `${title}; then the floor against itself (--noise)` : title));
  }
}

let cleaning = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (cleaning) return;
    cleaning = true;
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .catch((e: unknown) => {
    log(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  })
  .finally(async () => {
    if (cleaning) return;
    cleaning = true;
    await cleanup();
  });
