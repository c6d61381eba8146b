/*
 * Helpers for tests that drive the `scoutfs` command as a user would:
 * run it (or any program) as a child and collect status and output, make
 * a fresh filesystem on sparse image files, look at /proc/mounts, and
 * clean up a mount point whatever state it was left in (mounted, dead
 * daemon, stale pidfile).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { forceUnmount, isMounted } from "../../src/fuse/mount.js";
import { findDaemonPid, logPath } from "../../src/cli/daemon.js";
import { processRunning } from "../../src/util/process.js";
import { removeStaleClaim } from "../../src/cli/device_lock.js";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** run a program; never throws for a non-zero status */
export function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((res) => {
    // scoutfs print of a busy filesystem writes many MiB
    execFile(file, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 30, ...opts }, (e, stdout, stderr) => {
      const code = e ? (typeof (e as { code?: unknown }).code === "number" ? (e as { code: number }).code : 1) : 0;
      // a failure to run or collect (not an exit status) says why in stderr
      res({ code, stdout, stderr: e && typeof (e as { code?: unknown }).code !== "number" ? `${stderr}${e.message}` : stderr });
    });
  });
}

/** the scoutfs command of this build */
export const scoutfs = (...args: string[]): Promise<Run> => run(process.execPath, [CLI, ...args]);

/** is MNT a fuse.scoutfs mount in /proc/mounts */
export function inProcMounts(mnt: string): boolean {
  return fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === mnt && l.split(" ")[2] === "fuse.scoutfs");
}

/** running (a zombie counts as gone) */
export const alive = processRunning;

/** wait up to 10 s for a process to be gone; fails the test if it is not */
export async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) throw new Error(`process ${pid} still alive`);
}

/** the stdout of a command that must succeed (asserts exit 0, showing its stderr otherwise) */
export async function succeeds(p: Promise<Run>): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** whether a command is installed in /usr/bin or /bin */
export const haveCommand = (cmd: string): boolean => ["/usr/bin", "/bin"].some((d) => fs.existsSync(path.join(d, cmd)));

/** a scoutfs command run as uid/gid 1000 with no groups or capabilities (setpriv) */
export const scoutfsAsUser = (...args: string[]): Promise<Run> =>
  run("setpriv", ["--reuid", "1000", "--regid", "1000", "--clear-groups", process.execPath, CLI, ...args]);

/** `scoutfs stat` output as field name -> value text */
export function statOutputFields(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trimEnd().split("\n").map((l) => [l.slice(0, 17).trimEnd(), l.slice(18)]));
}

/** `scoutfs stat FILE`, which must succeed, as its fields */
export async function statFileFields(file: string): Promise<Record<string, string>> {
  const r = await scoutfs("stat", file);
  if (r.code !== 0) throw new Error(`scoutfs stat ${file} failed: ${r.stderr}`);
  return statOutputFields(r.stdout);
}

/** unmount cleanly, then `scoutfs print` must find every structure of META sound (throws otherwise) */
export async function umountAndCheckPrint(mnt: string, meta: string): Promise<void> {
  const u = await scoutfs("umount", mnt);
  if (u.code !== 0) throw new Error(`umount ${mnt} failed: ${u.stderr}`);
  const p = await scoutfs("print", meta);
  if (p.code !== 0) throw new Error(`scoutfs print ${meta} failed: ${p.stderr.slice(0, 2000)}`);
}

/**
 * SIGKILL the daemon serving MNT, wait until it is gone, then detach the
 * mount point: killed first, so it never sees the unmount (a detach
 * first could let it unmount cleanly before the signal lands).
 */
export async function killDaemon(mnt: string): Promise<void> {
  const d = findDaemonPid(mnt);
  if (!d) throw new Error(`no daemon serves ${mnt}`);
  process.kill(d.pid, "SIGKILL");
  await waitGone(d.pid);
  await run("umount", ["-l", mnt]);
}

/**
 * A crash: SIGKILL the mount's daemon, clear the dead mount point with
 * `umount -l`, and mount the devices again (throws if any step fails).
 */
export async function killDaemonAndRemount(fsys: Pick<CliFs, "meta" | "data" | "mnt">): Promise<void> {
  await killDaemon(fsys.mnt);
  const r = await run(process.execPath, [CLI, "mount", "-o", `metadev_path=${fsys.meta}`, fsys.data, fsys.mnt]);
  if (r.code !== 0) throw new Error(`remount after kill -9 failed: ${r.stderr}`);
}

export interface CliFs {
  tmp: string;
  meta: string;
  data: string;
  mnt: string;
}

/** a temp dir with META and DATA sparse 1 GiB image files holding a new filesystem of the given sizes, and an empty MNT */
export async function makeCliFs(prefix: string, metaSize = "64M", dataSize = "256M"): Promise<CliFs> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const meta = path.join(tmp, "meta.img");
  const data = path.join(tmp, "data.img");
  const mnt = path.join(tmp, "mnt");
  fs.mkdirSync(mnt);
  for (const f of [meta, data]) {
    fs.closeSync(fs.openSync(f, "w"));
    fs.truncateSync(f, 2 ** 30);
  }
  const mk = await scoutfs("mkfs", "-A", "-Q", "0,127.0.0.1,12345", "-m", metaSize, "-d", dataSize, meta, data);
  if (mk.code !== 0) throw new Error(`mkfs failed: ${mk.stderr}`);
  return { tmp, meta, data, mnt };
}

/** detach MNT if mounted, kill its daemon if alive, remove pidfile, logs and the device claim of a dead daemon */
export async function cleanupMount(mnt: string, meta?: string): Promise<void> {
  const d = findDaemonPid(mnt);
  if (isMounted(mnt)) await forceUnmount(mnt).catch(() => {});
  if (d && alive(d.pid)) {
    try {
      process.kill(d.pid, "SIGKILL");
    } catch {
      // gone
    }
    await waitGone(d.pid).catch(() => {}); // so that its claim reads as stale below
  }
  if (d) fs.rmSync(d.file, { force: true });
  for (const dir of ["/var/log/scoutfs", path.join(os.tmpdir(), "scoutfs")]) {
    fs.rmSync(logPath(dir, mnt), { force: true });
    if (meta && fs.existsSync(meta)) removeStaleClaim(dir, meta);
  }
}

/** can the test put mount.scoutfs in /sbin and take it away again */
export function sbinHelperPossible(): boolean {
  try {
    fs.accessSync("/sbin", fs.constants.W_OK);
    return !fs.existsSync("/sbin/mount.scoutfs");
  } catch {
    return false;
  }
}
