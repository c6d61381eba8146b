/*
 * `scoutfs mount` / `scoutfs umount` / mount.scoutfs: the mount(8)-style
 * front end over the FUSE mount daemon (cmd_mount.ts runMountDaemon).
 *
 * mount: the options are parsed (parseMountOptions) before anything else,
 * so a bad option never reaches a daemon; then a detached child
 * `node <cli> __daemon OPTIONS DATA MNT` is started with a big libuv
 * threadpool already in its environment (so reexecWithThreadpool() does not
 * re-execute and lose fd 3), stdin ignored, stdout/stderr appended to a
 * log file, and fd 3 a pipe on which it writes one line: "ready" once
 * mounted, or "error <message>".  The parent returns once it has read the
 * line (or fails if the child exits or closes the pipe first), leaving the
 * daemon running.  The daemon writes a pidfile next to its log, keyed by
 * the mountpoint, and removes it when it exits.  Before opening the devices
 * it claims the metadata device (device_lock.ts), so a second daemon on the
 * same devices never runs beside the first.
 *
 * umount: `umount MNT`, then wait until the pid in the pidfile is gone.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { formatMountOptions, parseMountOptions, UsageError, type MountOptions } from "./parse.js";
import { DAEMON_THREADPOOL_SIZE } from "../fuse/threadpool.js";
import { isMounted, umount } from "../fuse/mount.js";
import { FsError } from "../util/errors.js";
import { claimDevice } from "./device_lock.js";
import { processRunning } from "../util/process.js";

const CLI = fileURLToPath(new URL("./main.js", import.meta.url));
const SYS_LOG_DIR = "/var/log/scoutfs";
const READY_TIMEOUT_MS = 120_000;
const EXIT_TIMEOUT_MS = 120_000;
/** how long a new daemon waits for an unmounting one on the same metadata device */
const CLAIM_WAIT_MS = 60_000;

/**
 * node's flags for the daemon.  A 64 MiB young generation (node's default
 * semi-space is a few MiB): every request allocates keys, values and
 * promises, and the item cache's big old-space maps point at new items,
 * so small semi-spaces meant a scavenge every ~50 ms whose cost is mostly
 * those old-to-new pointers; with 64 MiB there are a third as many and
 * metadata operations ran 5-15% faster (bench/mdbench.ts, --trace-gc),
 * for up to 128 MiB more resident memory.
 *
 * On a machine of two CPUs or fewer, --single-threaded-gc: V8's parallel
 * scavenge and concurrent marking wake helper threads that then compete
 * with the /dev/fuse reader thread and the programs using the mount for
 * the same CPUs.  On a 2-vCPU VM (bench/mdbench.ts phases, 4 runs each)
 * the daemon's other threads spent 20-30 µs less CPU per create and per
 * rename and its main thread about the same; the pauses stay short
 * because marking is still incremental.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=64",
  ...(os.availableParallelism() <= 2 ? ["--single-threaded-gc"] : []),
];

/** "/mnt/scoutfs" -> "mnt-scoutfs", "/" -> "-" */
export function mountpointKey(mnt: string): string {
  const s = path.resolve(mnt).replace(/^\/+|\/+$/g, "").replace(/\//g, "-");
  return s === "" ? "-" : s;
}

/** the directories a log/pidfile may live in, preferred first */
function logDirs(): string[] {
  return [SYS_LOG_DIR, path.join(os.tmpdir(), "scoutfs")];
}

export function usableLogDir(): string {
  for (const d of logDirs()) {
    try {
      fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      fs.accessSync(d, fs.constants.W_OK);
      return d;
    } catch {
      // try the next one
    }
  }
  throw new FsError("EACCES", `cannot create a log directory (${logDirs().join(", ")})`);
}

export function logPath(dir: string, mnt: string): string {
  return path.join(dir, `${mountpointKey(mnt)}.log`);
}
export function pidPath(dir: string, mnt: string): string {
  return path.join(dir, `${mountpointKey(mnt)}.pid`);
}

/** the pidfile of the daemon serving mnt, if any */
export function findDaemonPid(mnt: string): { pid: number; file: string } | null {
  for (const d of logDirs()) {
    const f = pidPath(d, mnt);
    try {
      const pid = Number(fs.readFileSync(f, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0) return { pid, file: f };
    } catch {
      // none here
    }
  }
  return null;
}

/** validate and normalise options; metadev_path made absolute */
export function prepareOptions(optStr: string): MountOptions {
  const o = parseMountOptions(optStr);
  return { ...o, metadevPath: path.resolve(o.metadevPath) };
}

export interface MountRequest {
  options: string;
  data: string;
  mountpoint: string;
  /** validate only (mount -f) */
  fake?: boolean;
  verbose?: (s: string) => void;
}

/** the whole `scoutfs mount`: throws UsageError / FsError; resolves once mounted */
export async function mountCommand(req: MountRequest): Promise<void> {
  const o = prepareOptions(req.options);
  const mnt = path.resolve(req.mountpoint);
  const data = path.resolve(req.data);
  if (isMounted(mnt)) {
    // a scoutfs mount whose daemon is gone (the kernel may still answer stat from its caches)
    const d = findDaemonPid(mnt);
    let dead = d !== null && !processRunning(d.pid);
    try {
      fs.statSync(mnt);
    } catch (e) {
      dead ||= ["ENOTCONN", "ECONNABORTED"].includes((e as NodeJS.ErrnoException).code ?? "");
    }
    throw new FsError("EBUSY", dead ? `${mnt} is already a mount point, of a daemon that is gone (umount -l ${mnt} clears it)` : `${mnt} is already a mount point`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(mnt);
  } catch (e) {
    throw new FsError("ENOENT", `mount point ${mnt} does not exist`);
  }
  if (!st.isDirectory()) throw new FsError("ENOTDIR", `mount point ${mnt} is not a directory`);
  if (!fs.existsSync(data)) throw new FsError("ENOENT", `data device ${data} does not exist`);
  if (!fs.existsSync(o.metadevPath)) throw new FsError("ENOENT", `metadata device ${o.metadevPath} does not exist`);
  if (req.fake) return;

  const dir = usableLogDir();
  const logFile = logPath(dir, mnt);
  const logFd = fs.openSync(logFile, "a", 0o644);
  req.verbose?.(`scoutfs: starting daemon for ${mnt}, log ${logFile}`);
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, CLI, "__daemon", formatMountOptions(o), data, mnt, dir], {
    detached: true,
    cwd: "/",
    stdio: ["ignore", logFd, logFd, "pipe"],
    env: { ...process.env, UV_THREADPOOL_SIZE: String(DAEMON_THREADPOOL_SIZE) },
  });
  fs.closeSync(logFd);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  try {
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      let settled = false;
      const settle = (e?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) reject(e);
        else resolve();
      };
      const timer = setTimeout(() => settle(new FsError("ETIMEDOUT", `daemon not ready after ${READY_TIMEOUT_MS / 1000} s (see ${logFile})`)), READY_TIMEOUT_MS);
      pipe.setEncoding("utf8");
      pipe.on("data", (s: string) => {
        buf += s;
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        if (line === "ready") settle();
        else settle(new Error(line.replace(/^error /, "")));
      });
      pipe.on("error", () => {});
      pipe.on("end", () => settle(new Error(`daemon closed its status pipe without reporting (see ${logFile})`)));
      child.once("error", (e) => settle(e));
      child.once("exit", (code, sig) => settle(new Error(`daemon exited (${sig ?? code}) before the mount was ready (see ${logFile})`)));
    });
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    throw e;
  } finally {
    (pipe as unknown as { destroy(): void }).destroy();
    child.unref();
  }
}

/** `scoutfs umount MNT`: umount, then wait for the daemon to exit */
export async function umountCommand(mountpoint: string): Promise<void> {
  const mnt = path.resolve(mountpoint);
  if (!isMounted(mnt)) throw new FsError("EINVAL", `${mnt}: not mounted`);
  const d = findDaemonPid(mnt);
  await umount(mnt);
  if (!d) return;
  const deadline = Date.now() + EXIT_TIMEOUT_MS;
  while (processRunning(d.pid)) {
    if (Date.now() > deadline) throw new FsError("ETIMEDOUT", `daemon ${d.pid} still running ${EXIT_TIMEOUT_MS / 1000} s after umount`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** the hidden `scoutfs __daemon OPTIONS DATA MNT LOGDIR` (fd 3: status pipe) */
export async function daemonMain(args: string[]): Promise<void> {
  const [optStr, data, mnt, dir] = args;
  const report = (line: string) => {
    try {
      fs.writeSync(3, line + "\n");
      fs.closeSync(3);
    } catch {
      // started without a status pipe: nothing to tell
    }
  };
  const stamp = () => new Date().toISOString();
  if (!optStr || !data || !mnt || !dir) {
    report("error usage: scoutfs __daemon OPTIONS DATA MNT LOGDIR");
    throw new UsageError("usage: scoutfs __daemon OPTIONS DATA MNT LOGDIR");
  }
  const pidFile = pidPath(dir, mnt);
  try {
    const o = parseMountOptions(optStr);
    console.error(`${stamp()} scoutfs: mounting ${data} on ${mnt} (${optStr}), pid ${process.pid}`);
    await claimDevice(dir, o.metadevPath, mnt, CLAIM_WAIT_MS, isMounted);
    const { runMountDaemon } = await import("./cmd_mount.js");
    const d = await runMountDaemon(o.metadevPath, data, mnt, {
      client: { inoAllocPerLock: o.inoAllocPerLock, fs: { acl: o.acl } },
      log: (s) => console.error(`${stamp()} ${s}`),
      exit: false,
    });
    fs.writeFileSync(pidFile, `${process.pid}\n`);
    process.on("exit", () => {
      try {
        if (fs.readFileSync(pidFile, "utf8").trim() === String(process.pid)) fs.unlinkSync(pidFile);
      } catch {
        // gone already
      }
    });
    void d.done.then((code) => {
      console.error(`${stamp()} scoutfs: ${mnt} unmounted, exit ${code}`);
      process.exit(code);
    });
    console.error(`${stamp()} scoutfs: mounted ${mnt}`);
    report("ready");
  } catch (e) {
    const msg = (e as Error).message.replace(/\n/g, " ");
    console.error(`${stamp()} scoutfs: mount failed: ${(e as Error).stack ?? msg}`);
    report(`error ${msg}`);
    process.exit(1);
  }
}

/** the sh wrapper mount(8) runs as /sbin/mount.scoutfs */
export function helperScript(): string {
  const helper = fileURLToPath(new URL("./mount_helper.js", import.meta.url));
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# installed by scoutfs install-mount-helper\nexec ${q(process.execPath)} ${q(helper)} "$@"\n`;
}

export function installMountHelper(prefix: string): string {
  fs.mkdirSync(prefix, { recursive: true });
  const dst = path.join(prefix, "mount.scoutfs");
  const tmp = `${dst}.tmp${process.pid}`;
  fs.writeFileSync(tmp, helperScript(), { mode: 0o755 });
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, dst);
  return dst;
}

/** generic mount(8) options a helper may be handed that are not scoutfs's */
const GENERIC = new Set(["rw", "defaults", "auto", "noauto", "nofail", "_netdev", "nouser", "user", "users", "owner", "group", "loud", "silent"]);
export function stripGenericOptions(s: string): string {
  return s
    .split(",")
    .filter((p) => p !== "" && !GENERIC.has(p) && !p.startsWith("x-") && !p.startsWith("comment="))
    .join(",");
}
