/*
 * The mount daemon: open a scoutfs Mount on the two devices, serve it over
 * FUSE (ScoutfsFuseOps via FuseMount, type fuse.scoutfs, source the data
 * device), and tear it all down when the kernel ends the session (someone
 * ran umount) or the process gets SIGTERM/SIGINT.
 *
 * Order at the end: the FUSE mount goes first (umount, lazily if busy), so
 * no request can arrive after the fs is closed; then Mount.unmount()
 * commits the open transaction, says goodbye to the server and closes the
 * devices; then the process exits (0 on a clean shutdown, 1 if the commit
 * failed).  The control socket (src/control) is served from when FUSE is
 * mounted until the end begins.  Invariants: the Mount is unmounted
 * exactly once; a failure to mount FUSE closes the Mount (committing
 * nothing new) before rethrowing.
 *
 * The caller must run with a big enough libuv threadpool
 * (reexecWithThreadpool() in src/fuse/threadpool.ts) before calling this.
 */
import { Mount, type MountOptions as ClientMountOptions } from "../client/mount.js";
import { FuseMount, isMounted, forceUnmount, type MountOptions as FuseMountOptions } from "../fuse/mount.js";
import { ScoutfsFuseOps, SCOUTFS_SESSION_OPTIONS } from "../fuse/scoutfs_ops.js";
import { invalidateAround } from "../fuse/inval.js";
import { startMountControl } from "../control/mount_control.js";
import { ControlAuth } from "../control/auth.js";

export interface MountDaemonOptions {
  /** options for the scoutfs Mount (caches, commit interval, ...) */
  client?: ClientMountOptions;
  /** more FUSE mount/session options (subtype and source are fixed) */
  fuse?: Partial<Omit<FuseMountOptions, "subtype" | "source" | "posixAcl">>;
  /** exit the process when done (default true); tests may turn it off */
  exit?: boolean;
  /** where progress and problems go (default console.error) */
  log?: (msg: string) => void;
}

export interface MountDaemon {
  readonly mount: Mount;
  readonly fuse: FuseMount;
  readonly ops: ScoutfsFuseOps;
  /** resolves with the exit status once everything is torn down */
  readonly done: Promise<number>;
  /** unmount FUSE (lazily if busy) and the Mount; resolves with the status */
  shutdown(): Promise<number>;
}

export async function runMountDaemon(meta: string, data: string, mountpoint: string, opts: MountDaemonOptions = {}): Promise<MountDaemon> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const m = await Mount.openPaths(meta, data, { log, ...opts.client });
  // the control socket learns its callers from lookups through this mount (control/auth.ts)
  const auth = new ControlAuth();
  const ops = new ScoutfsFuseOps(m.fs, { reservedLookup: (name, ctx) => auth.noteLookup(name, ctx) });
  let fuse: FuseMount;
  try {
    fuse = await FuseMount.mount(mountpoint, ops, {
      ...SCOUTFS_SESSION_OPTIONS,
      ...opts.fuse,
      posixAcl: m.fs.acl, // the acl/noacl mount option, given to the fs as client.fs.acl
      subtype: "scoutfs",
      source: data,
    });
  } catch (e) {
    await m.unmount().catch((e2: unknown) => log(`scoutfs: closing after a failed mount: ${(e2 as Error).message}`));
    throw e;
  }
  // the CLI's way in; gone before the FUSE mount is
  // pages under READ/WRITE requests in flight are left alone: the kernel holds them locked (fuse/inval.ts)
  const invalidateInode = (ino: number, off = 0, len = 0): Promise<void> =>
    invalidateAround((i, o, l) => fuse.session.notifyInvalInode(i, o, l), ops.busyRanges(ino), ino, off, len);
  const control = await startMountControl({ mount: m, invalidateInode }, auth, mountpoint, log);

  let finishing: Promise<number> | null = null;
  const finish = (): Promise<number> => {
    if (!finishing) {
      finishing = (async () => {
        let status = 0;
        await control?.close();
        if (!fuse.session.isEnded) {
          try {
            await fuse.unmount();
          } catch (e) {
            log(`scoutfs: umount ${mountpoint}: ${(e as Error).message}; detaching lazily`);
            try {
              await fuse.unmount({ lazy: true });
            } catch (e2) {
              log(`scoutfs: lazy umount ${mountpoint}: ${(e2 as Error).message}`);
              if (isMounted(mountpoint)) await forceUnmount(mountpoint).catch(() => {});
              status = 1;
            }
          }
        }
        await fuse.ended;
        try {
          await m.unmount();
        } catch (e) {
          log(`scoutfs: committing at unmount: ${(e as Error).message}`);
          status = 1;
        }
        for (const s of SIGNALS) process.off(s, onSignal);
        return status;
      })();
    }
    return finishing;
  };
  const SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
  const onSignal = () => void finish();
  for (const s of SIGNALS) process.on(s, onSignal);
  // the session ends after umount (ours from finish(), or anyone's): then commit and close
  const done = fuse.ended.then(() => finish());
  if (opts.exit ?? true) {
    void done.then((code) => {
      process.exit(code);
    });
  }
  return { mount: m, fuse, ops, done, shutdown: finish };
}
