/*
 * One mount daemon per metadata device on this host.
 *
 * Until the cluster exists every mount runs its own in-process server, so
 * two daemons on the same devices would both write super blocks and
 * corrupt the filesystem.  The case is easy to hit: umount(8) of a plain
 * FUSE mount returns before the daemon has committed and exited, so an
 * immediate remount would start a second daemon beside the first.
 *
 * The claim is a lock file named by the metadata device's identity (its
 * rdev for a block device, dev:ino for an image file, so any path to the
 * same device finds it), holding the owner's pid and mount point, put in
 * place with link(2) so it is never seen half written.  A claim whose pid
 * is gone is stale and taken over.  A live owner is waited for (it may be finishing an unmount) up to a
 * timeout, then the mount fails naming the owner.  The owner removes the
 * file when it exits, whatever way it exits short of SIGKILL; after a
 * SIGKILL the pid check makes the claim stale.
 *
 * Invariants: a claim is taken only by link(2) of a fully written file,
 * which fails if any claim exists; a claim is removed only by its owner or
 * after its pid is seen dead; release removes the file only if it is
 * still ours.  (Two takers that find the same stale claim at the same
 * instant could both remove it and one could remove the other's fresh
 * claim; mounts are user actions, so that window is left open.)
 */
import fs from "node:fs";
import path from "node:path";
import { FsError } from "../util/errors.js";
import { processRunning } from "../util/process.js";

export interface DeviceClaim {
  readonly file: string;
  release(): void;
}

/** the claim file's name for a device path */
export function claimName(devicePath: string): string {
  const st = fs.statSync(devicePath);
  return st.isBlockDevice() ? `meta-rdev-${st.rdev}.lock` : `meta-${st.dev}-${st.ino}.lock`;
}

function readOwner(file: string): { pid: number; mountpoint: string } | null {
  try {
    const [pidLine, mnt] = fs.readFileSync(file, "utf8").split("\n");
    const pid = Number(pidLine);
    return Number.isInteger(pid) && pid > 0 ? { pid, mountpoint: mnt ?? "" } : null;
  } catch {
    return null;
  }
}

/**
 * Claim the metadata device for this process, waiting up to waitMs for a
 * live owner to go if it is no longer serving its mount point (it is
 * finishing an unmount); an owner still serving fails at once.  Throws
 * EBUSY naming the owner.
 */
export async function claimDevice(
  dir: string,
  devicePath: string,
  mountpoint: string,
  waitMs: number,
  stillServing: (ownerMountpoint: string) => boolean,
): Promise<DeviceClaim> {
  const file = path.join(dir, claimName(devicePath));
  const deadline = Date.now() + waitMs;
  for (;;) {
    // written aside and linked into place, so a claim file is never seen half written
    const tmp = `${file}.${process.pid}`;
    fs.writeFileSync(tmp, `${process.pid}\n${mountpoint}\n`, { mode: 0o644 });
    try {
      fs.linkSync(tmp, file);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (readOwner(file)?.pid === process.pid) fs.rmSync(file, { force: true });
      };
      process.on("exit", release);
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    const owner = readOwner(file);
    if (!owner || !processRunning(owner.pid)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (owner.pid === process.pid) throw new FsError("EBUSY", `${devicePath} is already mounted by this process on ${owner.mountpoint}`);
    if (Date.now() >= deadline || stillServing(owner.mountpoint)) {
      throw new FsError("EBUSY", `metadata device ${devicePath} is in use by scoutfs daemon ${owner.pid} (mounted on ${owner.mountpoint})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** remove the device's claim in dir if its owner is gone (a SIGKILLed daemon's) */
export function removeStaleClaim(dir: string, devicePath: string): void {
  const file = path.join(dir, claimName(devicePath));
  const owner = readOwner(file);
  if (owner && !processRunning(owner.pid)) fs.rmSync(file, { force: true });
}
