/*
 * A scoutfs FUSE daemon for the end-to-end tests, run as a child process:
 *
 *   node scoutfs_daemon.js [--mkfs META_BYTES DATA_BYTES] META DATA MOUNTPOINT
 *
 * With --mkfs it first creates META and DATA as sparse files of those
 * sizes and writes a new filesystem on them.  Then it runs
 * runMountDaemon() and prints "ready" on stdout once mounted.  It exits
 * (0 after a clean commit) when the mount is unmounted or on
 * SIGTERM/SIGINT.  It re-executes itself with a big enough threadpool
 * first (src/fuse/threadpool.ts explains why).
 */
import fs from "node:fs";
import { reexecWithThreadpool } from "../../src/fuse/threadpool.js";
import { FileBlockDevice } from "../../src/block/device.js";
import { writeNewFilesystem } from "../../src/cli/mkfs_core.js";
import { runMountDaemon } from "../../src/cli/cmd_mount.js";

async function mkfs(meta: string, data: string, metaBytes: number, dataBytes: number): Promise<void> {
  for (const [p, n] of [
    [meta, metaBytes],
    [data, dataBytes],
  ] as const) {
    fs.closeSync(fs.openSync(p, "w"));
    fs.truncateSync(p, n);
  }
  const m = await FileBlockDevice.open(meta);
  const d = await FileBlockDevice.open(data);
  try {
    await writeNewFilesystem({ meta: m, data: d, quorumSlots: [{ addr: "127.0.0.1", port: 12345 }] });
  } finally {
    await m.close();
    await d.close();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--mkfs") {
    const metaBytes = Number(args[1]);
    const dataBytes = Number(args[2]);
    const [meta, data] = args.slice(3);
    await mkfs(meta!, data!, metaBytes, dataBytes);
    args.splice(0, 3);
  }
  const [meta, data, mnt] = args;
  if (!meta || !data || !mnt) {
    console.error("usage: scoutfs_daemon.js [--mkfs META_BYTES DATA_BYTES] META DATA MOUNTPOINT");
    process.exit(2);
  }
  await runMountDaemon(meta, data, mnt, { client: { commitIntervalMs: 1000 } });
  process.stdout.write("ready\n");
}

if (!reexecWithThreadpool()) {
  main().catch((e: unknown) => {
    console.error(`scoutfs_daemon: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  });
}
