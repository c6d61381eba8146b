/*
 * The demo a newcomer runs first (`npm run demo`): make a filesystem on
 * sparse image files in a local folder, mount it in-process, and run the
 * "For Kicks" example of the original README: touch files, sync, and
 * watch the meta_seq index show which inodes changed in which
 * transaction.  (The FUSE mount and the three-mount cluster replace the
 * in-process mount as they land.)
 */
import { mkdir, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { mkfsCommand } from "./cmd_mkfs.js";
import { Mount } from "../client/mount.js";
import { walkInodes, formatWalk } from "../client/walk_inodes.js";
import { isFsError } from "../util/errors.js";

const out = (s: string) => process.stdout.write(s + "\n");

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? "scoutfs-demo");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const meta = `${dir}/meta.img`;
  const data = `${dir}/data.img`;
  out(`$ scoutfs mkfs -A -Q 0,127.0.0.1,12345 -m 1G -d 4G ${meta} ${data}`);
  await mkfsCommand({ metaPath: meta, dataPath: data, quorumSlot: ["0,127.0.0.1,12345"], maxMetaSize: "1G", maxDataSize: "4G", allowSmallSize: true }, out, out);
  const m = await Mount.openPaths(meta, data);
  out(`\n(mounted in-process: rid ${m.rid.toString(16)})`);
  const walk = async () => {
    out("\n$ scoutfs walk-inodes meta_seq 0 -1 /mnt/scoutfs");
    for (const l of formatWalk(await walkInodes(m.forest, "meta_seq", 0, 2n ** 64n - 1n))) out(l);
  };
  const touch = async (name: string) => {
    out(`\n$ touch /mnt/scoutfs/${name}; sync`);
    try {
      const a = await m.fs.lookup(1, name);
      await m.fs.setattr(a.ino, { atime: "now", mtime: "now" });
    } catch (e) {
      if (!isFsError(e, "ENOENT")) throw e;
      await m.fs.create(1, name, 0o100644, 0, 0);
    }
    await m.sync();
  };
  await walk();
  await touch("one");
  await walk();
  await touch("two");
  await walk();
  await touch("one");
  await walk();
  await m.unmount();
  out(`\n(unmounted; images left in ${dir})`);
}

main().catch((e: Error) => {
  process.stderr.write(`scoutfs demo: ${e.message}\n`);
  process.exitCode = 1;
});
