/*
 * One process of the stress test: `node stress_worker.js CONFIG.json`.
 *
 * Until its deadline it does random single-syscall changes to the files it
 * owns in the shared directories (create, pwrite, truncate, rename, link,
 * unlink, fsync) and races the other workers for race-<k> names with
 * link(2); each op that succeeds is applied to its model and logged.  When
 * the filesystem goes away (ENOTCONN and friends, as after kill -9 of the
 * daemon) it stops and records the op in flight; so it does when a write
 * comes back short (some of the requests the kernel split it into
 * failed).  Any other error on its
 * own files is a filesystem bug: it stops and says so.  It always writes
 * its StressReport (stress_model.ts) to the report file before exiting.
 */
import fs from "node:fs";
import path from "node:path";
import { applyStressOp, cloneState, emptyState, opData, STRESS_DIRS, xorshift32, type StressOp, type StressReport, type StressState } from "./stress_model.js";

interface WorkerConfig {
  mnt: string;
  id: number;
  seconds: number;
  seed: number;
  stateFile?: string;
  reportFile: string;
}

const GONE = new Set(["ENOTCONN", "ECONNABORTED", "ENODEV", "EIO", "ESHUTDOWN"]);
const RACE_NAMES = 50;

function main(): void {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2]!, "utf8")) as WorkerConfig;
  const initial: StressState = cfg.stateFile ? (JSON.parse(fs.readFileSync(cfg.stateFile, "utf8")) as StressState) : emptyState();
  const state = cloneState(initial);
  const next = xorshift32(cfg.seed);
  const rand = (n: number): number => next() % n;
  const report: StressReport = { id: cfg.id, initial, ops: [], durableOps: 0, inFlight: null, stopped: "deadline", raceLosses: 0 };
  const prefix = `w${cfg.id}-`;
  const own = (): string[] => Object.keys(state.paths).filter((p) => path.basename(p).startsWith(prefix));
  const newName = (): string => {
    for (;;) {
      const p = `${STRESS_DIRS[rand(STRESS_DIRS.length)]}/${prefix}${rand(1 << 30).toString(36)}`;
      if (state.paths[p] === undefined) return p;
    }
  };
  const abs = (p: string) => path.join(cfg.mnt, p);
  const sizeOf = (p: string) => Buffer.from(state.contents[state.paths[p]!] ?? "", "base64").length;

  const deadline = Date.now() + cfg.seconds * 1000;
  while (Date.now() < deadline) {
    const mine = own();
    const r = rand(100);
    let o: StressOp;
    if (mine.length < 4 || r < 15) o = { op: "create", path: newName() };
    else {
      const f = mine[rand(mine.length)]!;
      if (r < 45) o = { op: "write", path: f, offset: rand(sizeOf(f) + 8192), len: 1 + rand(65536), seed: rand(2 ** 31) };
      else if (r < 53) o = { op: "truncate", path: f, size: rand(sizeOf(f) + 8192) };
      else if (r < 68) {
        const to = rand(3) === 0 ? mine[rand(mine.length)]! : newName();
        if (to === f) continue;
        o = { op: "rename", from: f, to };
      } else if (r < 75) o = { op: "link", from: f, to: newName() };
      else if (r < 85) o = { op: "unlink", path: f };
      else if (r < 90) {
        const to = `d0/race-${rand(RACE_NAMES)}`;
        if (state.paths[to] !== undefined) continue;
        o = { op: "link", from: f, to };
      } else o = { op: "fsync", path: f };
    }
    try {
      switch (o.op) {
        case "create":
          fs.closeSync(fs.openSync(abs(o.path), fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644));
          break;
        case "write": {
          const fd = fs.openSync(abs(o.path), "r+");
          try {
            const n = fs.writeSync(fd, opData(o.seed, o.len), 0, o.len, o.offset);
            // the kernel sent the write as several requests and a later one failed
            if (n !== o.len) throw Object.assign(new Error(`short write ${n} of ${o.len}`), { code: "SHORT_WRITE" });
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
        case "truncate":
          fs.truncateSync(abs(o.path), o.size);
          break;
        case "rename":
          fs.renameSync(abs(o.from), abs(o.to));
          break;
        case "link":
          fs.linkSync(abs(o.from), abs(o.to));
          break;
        case "unlink":
          fs.unlinkSync(abs(o.path));
          break;
        case "fsync": {
          const fd = fs.openSync(abs(o.path), "r");
          try {
            fs.fsyncSync(fd);
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (o.op === "link" && o.to.startsWith("d0/race-") && code === "EEXIST") {
        report.raceLosses++;
        continue;
      }
      report.inFlight = o;
      report.stopped = GONE.has(code) ? `gone: ${code}` : code === "SHORT_WRITE" ? `short write: ${(e as Error).message}` : `error: ${(e as Error).message} in ${JSON.stringify(o)}`;
      break;
    }
    applyStressOp(state, o);
    report.ops.push(o);
    if (o.op === "fsync") report.durableOps = report.ops.length;
  }
  fs.writeFileSync(cfg.reportFile, JSON.stringify(report));
}

main();
