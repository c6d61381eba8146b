/*
 * scoutfs_fuse: serves a scoutfs filesystem through FUSE in the
 * foreground (runMountDaemon, the code `scoutfs mount` runs in its
 * detached daemon), so that it can be started with node flags such as
 * --cpu-prof, which NODE_OPTIONS does not pass and the CLI's daemon does
 * not get.
 *
 *   node [--cpu-prof --cpu-prof-dir=DIR] dist/bench/scoutfs_fuse.js META DATA MOUNTPOINT
 *
 * Prints "scoutfs mounted at MOUNTPOINT" on stderr once mounted; on
 * SIGINT/SIGTERM or an umount it commits, unmounts and exits (so the
 * profile is written).  Run it with UV_THREADPOOL_SIZE set (as the CLI
 * does) or it re-executes itself with it, flags included.
 */
import { reexecWithThreadpool } from "../src/fuse/threadpool.js";
import { runMountDaemon } from "../src/cli/cmd_mount.js";

async function main(): Promise<void> {
  const [meta, data, mnt] = process.argv.slice(2);
  if (!meta || !data || !mnt) {
    console.error("usage: node dist/bench/scoutfs_fuse.js META DATA MOUNTPOINT");
    process.exitCode = 2;
    return;
  }
  if (reexecWithThreadpool()) return;
  await runMountDaemon(meta, data, mnt, { exit: true });
  console.error(`scoutfs mounted at ${mnt} (pid ${process.pid})`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
