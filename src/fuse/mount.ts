/*
 * Mounting and unmounting a FUSE filesystem without libfuse or fusermount.
 *
 * Mount: open /dev/fuse (O_RDWR), then run
 *   mount -i -t fuse.<subtype> -o fd=3,rootmode=40000,user_id=0,group_id=0,
 *         allow_other,default_permissions[,extra] <source> <mountpoint>
 * as a child process with our /dev/fuse fd as its fd 3 (a spawn stdio
 * entry).  `-i` keeps mount(8) from looking for a /sbin/mount.fuse.<subtype>
 * helper: the options go straight to mount(2), whose fuse driver binds the
 * connection to the fd and queues INIT without waiting for it.  The child
 * runs asynchronously (never spawnSync: the event loop must stay free), and
 * only when it has succeeded does the session start reading (a /dev/fuse fd
 * that is not mounted yet fails reads with EPERM).  mount() resolves once
 * INIT has been agreed, so a returned FuseMount is ready for use.
 *
 * Readahead: the kernel reads ahead of a sequential reader no further than
 * the connection's backing device allows (read_ahead_kb, 128 KiB by
 * default, and INIT can only lower it), so each READ is at most 128 KiB.
 * After INIT, mount() raises /sys/class/bdi/<MAJ:MIN>/read_ahead_kb to the
 * session's maxReadahead (best effort: a failure is logged, nothing else),
 * MAJ:MIN being the mount's device number from /proc/self/mountinfo (no
 * stat of our own mount, which would be a request to ourselves).
 *
 * Unmount: `umount <mountpoint>`; the kernel then ends the connection, the
 * session's reader thread sees ENODEV and exits, the session ends, and the
 * fd is closed.  A busy mount fails with EBUSY (reported) unless `lazy`
 * (`umount -l`: detached now, served until its last user lets go).  For a
 * dead daemon (no process serves the fd any more) forceUnmount() runs
 * `umount -l`, which always detaches.
 *
 * Errors are FuseMountError with the command, its status and stderr, and
 * an errno name where one fits (EPERM when not root, ENOENT for a missing
 * /dev/fuse or mountpoint, ENOTDIR, EBUSY, ETIMEDOUT).  Invariant: a failed
 * mount() leaves nothing behind: no mount (it is lazily unmounted if INIT
 * failed after mount(2) succeeded) and no open fd.
 */
import fs from "node:fs";
import { spawn } from "node:child_process";
import { FuseSession, type SessionOptions } from "./session.js";
import type { FuseOps } from "./ops.js";

export class FuseMountError extends Error {
  constructor(
    readonly errno: string,
    message: string,
    readonly stderr = "",
  ) {
    super(message);
    this.name = "FuseMountError";
  }
}

export interface MountOptions extends SessionOptions {
  /** the filesystem type is fuse.<subtype> (letters, digits, . _ -) */
  subtype: string;
  /** the source shown in /proc/mounts (default: the subtype) */
  source?: string;
  /** allow users other than the mounter (default true) */
  allowOther?: boolean;
  /** let the kernel check permissions from the mode bits and ACLs (default true) */
  defaultPermissions?: boolean;
  /** more -o options, e.g. "ro", "noatime", "nosuid" */
  extraOptions?: string[];
  /** how long mount(8) and INIT may take (default 30 s) */
  timeoutMs?: number;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** run a command asynchronously; extraFds become the child's fds 3, 4, ... */
export function runCommand(cmd: string, args: string[], opts: { timeoutMs?: number; extraFds?: number[] } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe", ...(opts.extraFds ?? [])] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, opts.timeoutMs)
      : null;
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) reject(new FuseMountError("ETIMEDOUT", `${cmd} ${args.join(" ")}: no answer in ${opts.timeoutMs} ms`, stderr));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

/** whether mountpoint is a mount point now (from /proc/self/mountinfo) */
export function isMounted(mountpoint: string): boolean {
  let info: string;
  try {
    info = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return false;
  }
  const want = fs.existsSync(mountpoint) ? safeRealpath(mountpoint) : mountpoint;
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f.length > 4 && unescapeMountinfo(f[4]!) === want) return true;
  }
  return false;
}

function safeRealpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The device number (MAJ:MIN) of the newest mount of type fstype on the
 * resolved path realMountpoint, from /proc/self/mountinfo.  The caller
 * resolves the path before mounting: resolving it afterwards stats the
 * mount's root, which from the serving process deadlocks.
 */
export function mountDevice(realMountpoint: string, fstype: string): string | null {
  let info: string;
  try {
    info = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return null;
  }
  let dev: string | null = null;
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (f.length > 4 && sep > 0 && unescapeMountinfo(f[4]!) === realMountpoint && f[sep + 1] === fstype) dev = f[2]!;
  }
  return dev;
}

/** raise the readahead of the backing device of the mount on realMountpoint to bytes (see the file comment) */
function setReadahead(realMountpoint: string, fstype: string, bytes: number, log: (msg: string) => void): void {
  const kb = Math.floor(bytes / 1024);
  if (kb <= 128) return;
  const dev = mountDevice(realMountpoint, fstype);
  if (!dev) return;
  const f = `/sys/class/bdi/${dev}/read_ahead_kb`;
  try {
    fs.writeFileSync(f, `${kb}\n`);
  } catch (e) {
    log(`fuse: cannot set ${f} to ${kb}: ${(e as Error).message}`);
  }
}

/** `umount [-l] mountpoint`; throws FuseMountError (EBUSY, EINVAL: not mounted, ...) */
export async function umount(mountpoint: string, opts: { lazy?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const args = opts.lazy ? ["-l", mountpoint] : [mountpoint];
  const r = await runCommand("umount", args, { timeoutMs: opts.timeoutMs ?? 30_000 });
  if (r.code === 0) return;
  const err = r.stderr.trim();
  const errno = /busy/i.test(err) ? "EBUSY" : /not mounted/i.test(err) ? "EINVAL" : /permission|must be superuser/i.test(err) ? "EPERM" : "EIO";
  throw new FuseMountError(errno, `umount ${args.join(" ")} failed (status ${r.code}): ${err}`, err);
}

/** detach a mount whatever its state (a dead daemon's "Transport endpoint is not connected" mount included) */
export async function forceUnmount(mountpoint: string): Promise<void> {
  if (!isMounted(mountpoint)) return;
  await umount(mountpoint, { lazy: true });
}

function checkOption(o: string): void {
  if (o.length === 0 || /[,\s]/.test(o)) throw new FuseMountError("EINVAL", `bad mount option ${JSON.stringify(o)}`);
}

/** the -o string for mount(8) */
export function mountOptionString(fdInChild: number, opts: MountOptions): string {
  const o = [`fd=${fdInChild}`, "rootmode=40000", `user_id=${process.getuid?.() ?? 0}`, `group_id=${process.getgid?.() ?? 0}`];
  if (opts.allowOther ?? true) o.push("allow_other");
  if (opts.defaultPermissions ?? true) o.push("default_permissions");
  for (const x of opts.extraOptions ?? []) {
    checkOption(x);
    o.push(x);
  }
  return o.join(",");
}

export class FuseMount {
  private unmounting: Promise<void> | null = null;

  private constructor(
    readonly mountpoint: string,
    readonly session: FuseSession,
  ) {}

  /** resolves when the connection has ended (after unmount) and the fd is closed */
  get ended(): Promise<void> {
    return this.session.ended;
  }

  static async mount(mountpoint: string, ops: FuseOps, opts: MountOptions): Promise<FuseMount> {
    if (!/^[A-Za-z0-9_.-]+$/.test(opts.subtype)) throw new FuseMountError("EINVAL", `bad subtype ${JSON.stringify(opts.subtype)}`);
    const source = opts.source ?? opts.subtype;
    if (source.length === 0 || /[\s]/.test(source)) throw new FuseMountError("EINVAL", `bad source ${JSON.stringify(source)}`);
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(mountpoint);
    } catch (e) {
      throw new FuseMountError("ENOENT", `mount point ${mountpoint}: ${(e as Error).message}`);
    }
    if (!st.isDirectory()) throw new FuseMountError("ENOTDIR", `mount point ${mountpoint} is not a directory`);
    if (process.getuid && process.getuid() !== 0) throw new FuseMountError("EPERM", "mounting FUSE without fusermount needs root");

    // resolved now: once mounted, resolving it would stat our own mount (see mountDevice)
    const realMountpoint = safeRealpath(mountpoint);
    const optstr = mountOptionString(3, opts);
    let fd: number;
    try {
      fd = fs.openSync("/dev/fuse", fs.constants.O_RDWR);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "EIO";
      throw new FuseMountError(code, `cannot open /dev/fuse: ${(e as Error).message}`);
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const args = ["-i", "-t", `fuse.${opts.subtype}`, "-o", optstr, source, mountpoint];
    let r: CommandResult;
    try {
      r = await runCommand("mount", args, { timeoutMs, extraFds: [fd] });
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof FuseMountError) throw e;
      throw new FuseMountError("EIO", `cannot run mount: ${(e as Error).message}`);
    }
    if (r.code !== 0) {
      fs.closeSync(fd);
      const err = r.stderr.trim();
      throw new FuseMountError(
        /permission denied|must be superuser|only root/i.test(err) ? "EPERM" : "EIO",
        `mount ${args.join(" ")} failed (status ${r.code ?? r.signal}): ${err}`,
        err,
      );
    }

    const session = new FuseSession(fd, ops, opts);
    const m = new FuseMount(mountpoint, session);
    session.start();
    // close the fd once the kernel has ended the connection
    void session.ended.then(() => session.close());
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        session.initialized,
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(new FuseMountError("ETIMEDOUT", `no FUSE INIT from the kernel in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      await forceUnmount(mountpoint).catch(() => {});
      throw e instanceof FuseMountError ? e : new FuseMountError("EIO", `FUSE INIT failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    setReadahead(realMountpoint, `fuse.${opts.subtype}`, session.wantReadahead, opts.log ?? ((s) => console.error(s)));
    return m;
  }

  /**
   * Unmount and wait for the session to end.  Busy: throws EBUSY unless
   * lazy (then detaches at once and resolves when the last user is gone).
   */
  unmount(opts: { lazy?: boolean } = {}): Promise<void> {
    if (!this.unmounting) {
      this.unmounting = (async () => {
        if (!this.session.isEnded) {
          try {
            await umount(this.mountpoint, { lazy: opts.lazy });
          } catch (e) {
            // already gone (unmounted by someone else): the session ends by itself
            if (!(e instanceof FuseMountError && e.errno === "EINVAL" && !isMounted(this.mountpoint))) {
              this.unmounting = null;
              throw e;
            }
          }
        }
        await this.session.ended;
      })();
    }
    return this.unmounting;
  }
}
