/*
 * archive_index: what the inode indexes and xattr search buy an archive
 * agent.  With a population of files on a FUSE-mounted scoutfs, change a
 * few and find them two ways each, in one run, one table:
 *
 *   npm run bench:archive -- [--files N[,N...]] [--changed C] [--keep]
 *
 *   index   `scoutfs walk-inodes data_seq SEQ -1`: the inodes whose
 *           contents changed since SEQ (the committed_seq read before the
 *           changes), from the data_seq index items;
 *   scan    `find MNT -newer REF` after dropping the kernel's caches: what
 *           an agent without indexes must do, stat every file;
 *   search  `scoutfs search-xattrs scoutfs.srch.bench`: the changed files
 *           also got that xattr, found through the srch items;
 *   xscan   `getfattr -R -d -m '^scoutfs\.srch\.bench$' MNT`: the walk
 *           that asks every file for its xattrs instead.
 *
 * For each population (default 100,000 and 1,000,000 files, so the table
 * shows whether the index's time grows with the population) the
 * filesystem is made on sparse image files and populated in-process
 * through the fs API (much faster than through FUSE, and the measurement
 * does not depend on how the files got there): 1,000 files per
 * directory.  Then it is mounted with `scoutfs mount`, a reference file
 * is made and synced, C random files get one byte appended and are
 * synced, and both ways must find exactly those C files (the index also
 * lists the reference file, which changed after SEQ too).  Each way runs
 * after drop_caches; the times are wall clock of the whole command.
 *
 * Root is required (mount, drop_caches).  Everything made is removed on
 * the way out unless --keep.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Mount } from "../src/client/mount.js";
import { isMounted, forceUnmount } from "../src/fuse/mount.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLI = path.join(REPO, "dist/src/cli/main.js");
const PER_DIR = 1000;

interface Row {
  files: number;
  indexMs: number;
  scanMs: number;
  indexFound: number;
  scanFound: number;
  searchMs: number;
  xscanMs: number;
  searchFound: number;
  xscanFound: number;
  populateS: number;
}

const SRCH_NAME = "scoutfs.srch.bench";

function cli(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: "utf8", maxBuffer: 1 << 30 });
}

function dropCaches(): void {
  fs.writeFileSync("/proc/sys/vm/drop_caches", "3");
}

/** wall time of a command and its stdout */
function timed(cmd: string, args: string[]): { ms: number; out: string } {
  dropCaches();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return { ms, out: r.stdout };
}

async function populate(meta: string, data: string, files: number): Promise<number> {
  const t0 = Date.now();
  const m = await Mount.openPaths(meta, data);
  try {
    let made = 0;
    for (let d = 0; made < files; d++) {
      const dir = await m.fs.mkdir(1, `d${d}`, 0o755, 0, 0);
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < PER_DIR && made < files; i++, made++) batch.push(m.fs.create(dir.ino, `f${i}`, 0o100644, 0, 0));
      await Promise.all(batch);
      if (d % 100 === 99) process.stderr.write(`  populated ${made} files\n`);
    }
  } finally {
    await m.unmount();
  }
  return (Date.now() - t0) / 1000;
}

async function measure(tmp: string, files: number, changed: number): Promise<Row> {
  const dir = path.join(tmp, `pop-${files}`);
  fs.mkdirSync(dir, { recursive: true });
  const meta = path.join(dir, "meta.img");
  const data = path.join(dir, "data.img");
  const mnt = path.join(dir, "mnt");
  fs.mkdirSync(mnt);
  for (const f of [meta, data]) {
    fs.closeSync(fs.openSync(f, "w"));
    fs.truncateSync(f, 16 * 2 ** 30);
  }
  cli(["mkfs", "-A", "-f", "-Q", "0,127.0.0.1,12345", meta, data]);
  process.stderr.write(`${files} files: populating\n`);
  const populateS = await populate(meta, data, files);
  cli(["mount", "-o", `metadev_path=${meta}`, data, mnt]);
  try {
    const ref = path.join(mnt, "reference");
    fs.writeFileSync(ref, "");
    execFileSync("sync", [ref]);
    // changes after this seq are what the agent has not seen
    const seq = Number(cli(["statfs", "-s", "committed_seq", "-p", mnt]).trim());
    const want = new Set<string>();
    while (want.size < changed) {
      const n = Math.floor(Math.random() * files);
      want.add(path.join(mnt, `d${Math.floor(n / PER_DIR)}`, `f${n % PER_DIR}`));
    }
    // mtimes must pass the reference's at find's resolution
    await new Promise((r) => setTimeout(r, 20));
    for (const f of want) fs.appendFileSync(f, "x");
    execFileSync("setfattr", ["-n", SRCH_NAME, "-v", "1", ...want]);
    execFileSync("sync", [...want].slice(0, 1));

    const index = timed(process.execPath, [CLI, "walk-inodes", "data_seq", String(seq + 1), "-1", "-p", mnt]);
    const indexInos = new Set(index.out.split("\n").filter((l) => /^\d/.test(l)).map((l) => l.trim().split(/ +/)[3]!));
    const scan = timed("find", [mnt, "-newer", ref, "-type", "f"]);
    const scanFiles = scan.out.split("\n").filter((l) => l !== "");
    const wantInos = new Set([...want].map((f) => String(fs.statSync(f).ino)));
    const indexFound = [...wantInos].filter((i) => indexInos.has(i)).length;
    const search = timed(process.execPath, [CLI, "search-xattrs", SRCH_NAME, "-p", mnt]);
    const searchInos = new Set(search.out.split("\n").filter((l) => l !== ""));
    const xscan = timed("getfattr", ["-R", "-d", "-m", `^${SRCH_NAME.replace(/\./g, "\\.")}$`, "--absolute-names", mnt]);
    const xscanFiles = new Set(xscan.out.split("\n").filter((l) => l.startsWith("# file: ")).map((l) => l.slice(8)));
    return {
      files,
      indexMs: index.ms,
      scanMs: scan.ms,
      indexFound,
      scanFound: scanFiles.filter((f) => want.has(f)).length,
      searchMs: search.ms,
      xscanMs: xscan.ms,
      searchFound: [...wantInos].filter((i) => searchInos.has(i)).length,
      xscanFound: [...want].filter((f) => xscanFiles.has(f)).length,
      populateS,
    };
  } finally {
    cli(["umount", mnt]);
  }
}

function table(rows: Row[], changed: number): string {
  const head = [
    "files", "walk-inodes ms", "find -newer ms", "find/walk", "found (walk, find)",
    "search-xattrs ms", "getfattr -R ms", "getfattr/search", "found (search, getfattr)", "populate s",
  ];
  const body = rows.map((r) => [
    String(r.files),
    r.indexMs.toFixed(1),
    r.scanMs.toFixed(1),
    `${(r.scanMs / r.indexMs).toFixed(0)}x`,
    `${r.indexFound}/${changed}, ${r.scanFound}/${changed}`,
    r.searchMs.toFixed(1),
    r.xscanMs.toFixed(1),
    `${(r.xscanMs / r.searchMs).toFixed(0)}x`,
    `${r.searchFound}/${changed}, ${r.xscanFound}/${changed}`,
    r.populateS.toFixed(0),
  ]);
  const all = [head, ...body];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(w[c]!) : cell.padStart(w[c]!))).join("  ")).join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { files: { type: "string", default: "100000,1000000" }, changed: { type: "string", default: "100" }, keep: { type: "boolean", default: false } },
  });
  const pops = values.files.split(",").map(Number);
  const changed = Number(values.changed);
  if (pops.some((n) => !Number.isSafeInteger(n) || n < 1) || !Number.isSafeInteger(changed) || changed < 1) {
    console.error("usage: archive_index [--files N[,N...]] [--changed C] [--keep]");
    process.exit(2);
  }
  if (pops.some((n) => n < changed)) throw new Error("--changed must not exceed any population");
  if (process.getuid?.() !== 0) throw new Error("run as root (mount, drop_caches, scoutfs. xattrs)");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "archive-bench-"));
  const rows: Row[] = [];
  try {
    for (const n of pops) rows.push(await measure(tmp, n, changed));
  } finally {
    for (const n of pops) {
      const mnt = path.join(tmp, `pop-${n}`, "mnt");
      if (isMounted(mnt)) await forceUnmount(mnt).catch(() => {});
    }
    if (!values.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`\nfind the ${changed} changed (and xattr-tagged) files (each way after drop_caches; wall clock of the whole command)\n`);
  console.log(table(rows, changed));
}

await main();
