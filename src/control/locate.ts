/*
 * Finding a mount's control socket from any path inside the mount.
 *
 * A mount is known by its device number: every path inside a FUSE mount
 * stats with the mount's st_dev (an anonymous MAJ:MIN the kernel gives the
 * connection, unique among live mounts), so the daemon finds that number
 * for its mount point in /proc/self/mountinfo once it is mounted and names
 * its socket after it:
 * <dir>/dev-MAJ:MIN.sock, dir the first usable of CONTROL_DIRS.  The command
 * stats the path it was given, and looks the number up in
 * /proc/self/mountinfo only to say what the path is on when it is not a
 * scoutfs mount.  No daemon-written registry to go stale and no mount point
 * string to compare (symlinks, bind mounts and moved mounts all keep the
 * device number).
 *
 * The path a command uses: -p PATH, else $SCOUTFS_MOUNT_PATH, else the
 * current directory.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FsError } from "../util/errors.js";

export const MOUNT_PATH_ENV = "SCOUTFS_MOUNT_PATH";
export const SCOUTFS_FSTYPE = "fuse.scoutfs";

/** where control sockets live, preferred first (the second for daemons that cannot write /run) */
export const CONTROL_DIRS = ["/run/scoutfs", path.join(os.tmpdir(), "scoutfs-control")];

export interface DevNumber {
  major: number;
  minor: number;
}

/** split a stat st_dev as glibc's major()/minor() do */
export function splitDev(dev: bigint): DevNumber {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

export const devName = (d: DevNumber): string => `${d.major}:${d.minor}`;

export function controlSocketName(d: DevNumber): string {
  return `dev-${devName(d)}.sock`;
}

/** the device number of the filesystem path is on; errors say what went wrong with path */
export async function devOfPath(p: string): Promise<DevNumber> {
  try {
    return splitDev((await fs.promises.stat(p, { bigint: true })).dev);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTCONN") throw new FsError("ENOTCONN", `${p}: the daemon of its mount is gone (umount -l clears the mount)`);
    if (code === "ENOENT") throw new FsError("ENOENT", `${p}: no such file or directory`);
    if (code === "EACCES") throw new FsError("EACCES", `${p}: permission denied`);
    throw new FsError("EIO", `cannot stat ${p}: ${(e as Error).message}`);
  }
}

/** where the daemon of the mount with device number d puts its socket (creating the directory) */
export function controlSocketPathForDaemon(d: DevNumber): string {
  for (const dir of CONTROL_DIRS) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      fs.accessSync(dir, fs.constants.W_OK);
      return path.join(dir, controlSocketName(d));
    } catch {
      // try the next one
    }
  }
  throw new FsError("EACCES", `cannot create a control socket directory (${CONTROL_DIRS.join(", ")})`);
}

export interface MountinfoEntry {
  dev: DevNumber;
  mountPoint: string;
  fstype: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo */
const unescapeMountinfo = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** the lines of /proc/PID/mountinfo (proc(5)) */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const entries: MountinfoEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    const dev = /^(\d+):(\d+)$/.exec(f[2] ?? "");
    if (sep < 0 || !dev || f[4] === undefined || f[sep + 1] === undefined) continue;
    entries.push({
      dev: { major: Number(dev[1]), minor: Number(dev[2]) },
      mountPoint: unescapeMountinfo(f[4]),
      fstype: f[sep + 1]!,
      source: unescapeMountinfo(f[sep + 2] ?? ""),
    });
  }
  return entries;
}

function readMountinfo(): MountinfoEntry[] {
  try {
    return parseMountinfo(fs.readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return [];
  }
}

function mountOfDev(d: DevNumber): MountinfoEntry | undefined {
  return readMountinfo().find((e) => e.dev.major === d.major && e.dev.minor === d.minor);
}

/**
 * The device number of the scoutfs mount on mountpoint, from mountinfo (the
 * newest mount there wins).  For the daemon: it learns the number without
 * sending its own FUSE session a request (and without filling the
 * kernel's caches for nobody).  Only the parent directory is resolved, as
 * resolving the mount point itself would ask the mount.
 */
export function devOfScoutfsMountPoint(mountpoint: string): DevNumber {
  const abs = path.resolve(mountpoint);
  const canonical = abs === "/" ? abs : path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  const m = readMountinfo()
    .filter((e) => e.mountPoint === canonical && e.fstype === SCOUTFS_FSTYPE)
    .pop();
  if (!m) throw new FsError("ENOENT", `no ${SCOUTFS_FSTYPE} mount on ${canonical} in /proc/self/mountinfo`);
  return m.dev;
}

/** -p PATH, else $SCOUTFS_MOUNT_PATH, else the current directory */
export function selectedPath(pathOption: string | undefined): string {
  if (pathOption !== undefined && pathOption !== "") return pathOption;
  const env = process.env[MOUNT_PATH_ENV];
  if (env !== undefined && env !== "") return env;
  return process.cwd();
}

export interface LocatedMount {
  dev: DevNumber;
  /** from mountinfo, when it lists the device */
  mountPoint: string | undefined;
  /** the first control directory holding a socket for dev (the preferred one if none does) */
  socketPath: string;
}

/** the scoutfs mount p is in, or an FsError naming p and what it is on instead */
export async function locateMount(p: string): Promise<LocatedMount> {
  const dev = await devOfPath(p);
  const m = mountOfDev(dev);
  if (m && m.fstype !== SCOUTFS_FSTYPE) {
    throw new FsError("ENOTTY", `${p} is not in a scoutfs filesystem (it is in ${m.fstype} mounted at ${m.mountPoint})`);
  }
  const candidates = CONTROL_DIRS.map((dir) => path.join(dir, controlSocketName(dev)));
  const socketPath = candidates.find((s) => fs.existsSync(s));
  if (!m && !socketPath) throw new FsError("ENOTTY", `${p} is not in a scoutfs filesystem (device ${devName(dev)})`);
  return { dev, mountPoint: m?.mountPoint, socketPath: socketPath ?? candidates[0]! };
}
