/*
 * The demo a newcomer runs first (`npm run demo`): make a filesystem on
 * sparse image files in a local folder, mount it with FUSE (`scoutfs
 * mount`, as root with /dev/fuse), and run the "For Kicks" example of the
 * original README through the mount: touch files, sync them, and watch
 * `scoutfs walk-inodes meta_seq` show which inodes changed in which
 * transaction.  Then unmount.  Without root or /dev/fuse it says so and
 * runs the same steps on an in-process mount.  (The three-mount cluster
 * replaces the single mount when it lands.)
 *
 * `sync` here is GNU `sync FILE`, an fsync of the file: a plain `sync`
 * (syncfs) does not reach FUSE daemons, and scoutfs commits on its own
 * within a second anyway.
 */
import fs from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { mkfsCommand } from "./cmd_mkfs.js";
import { mountCommand, umountCommand } from "./daemon.js";
import { walkInodesCommand } from "./cmd_walk_inodes.js";
import { Mount } from "../client/mount.js";
import { walkInodes, formatWalk } from "../client/walk_inodes.js";
import { U64_MAX } from "../format/key.js";
import { isFsError } from "../util/errors.js";
import { isMounted } from "../fuse/mount.js";

const out = (s: string) => process.stdout.write(s + "\n");

function fuseUsable(): boolean {
  return process.platform === "linux" && process.getuid?.() === 0 && fs.existsSync("/dev/fuse");
}

interface DemoMount {
  label: string;
  walk(): Promise<void>;
  touchAndSync(name: string): Promise<void>;
  unmount(): Promise<void>;
}

async function fuseMount(meta: string, data: string, mnt: string): Promise<DemoMount> {
  await mkdir(mnt, { recursive: true });
  out(`\n$ scoutfs mount -o metadev_path=${meta} ${data} ${mnt}`);
  await mountCommand({ options: `metadev_path=${meta}`, data, mountpoint: mnt });
  return {
    label: mnt,
    walk: () => walkInodesCommand({ index: "meta_seq", first: "0", last: "-1", path: mnt }, out),
    async touchAndSync(name) {
      const f = join(mnt, name);
      const fd = fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
      try {
        fs.futimesSync(fd, new Date(), new Date());
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    },
    async unmount() {
      out(`\n$ scoutfs umount ${mnt}`);
      await umountCommand(mnt);
    },
  };
}

async function inProcessMount(meta: string, data: string): Promise<DemoMount> {
  const m = await Mount.openPaths(meta, data);
  out(`\n(no FUSE here (needs root and /dev/fuse): mounted in-process instead, rid ${m.rid.toString(16)})`);
  return {
    label: "/mnt/scoutfs",
    async walk() {
      for (const l of formatWalk(await walkInodes(m.forest, "meta_seq", { major: 0n, minor: 0, ino: 0n }, { major: U64_MAX, minor: 0, ino: U64_MAX }))) out(l);
    },
    async touchAndSync(name) {
      try {
        const a = await m.fs.lookup(1, name);
        await m.fs.setattr(a.ino, { atime: "now", mtime: "now" });
      } catch (e) {
        if (!isFsError(e, "ENOENT")) throw e;
        await m.fs.create(1, name, 0o100644, 0, 0);
      }
      await m.sync();
    },
    unmount: () => m.unmount(),
  };
}

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? "scoutfs-demo");
  const mnt = join(dir, "mnt");
  if (isMounted(mnt)) await umountCommand(mnt);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const meta = `${dir}/meta.img`;
  const data = `${dir}/data.img`;
  out(`$ scoutfs mkfs -A -Q 0,127.0.0.1,12345 -m 1G -d 4G ${meta} ${data}`);
  await mkfsCommand({ metaPath: meta, dataPath: data, quorumSlot: ["0,127.0.0.1,12345"], maxMetaSize: "1G", maxDataSize: "4G", allowSmallSize: true }, out, out);
  const m = fuseUsable() ? await fuseMount(meta, data, mnt) : await inProcessMount(meta, data);
  try {
    const walk = async () => {
      out(`\n$ scoutfs walk-inodes meta_seq 0 -1 -p ${m.label}`);
      await m.walk();
    };
    const touch = async (name: string) => {
      out(`\n$ touch ${m.label}/${name}; sync ${m.label}/${name}`);
      await m.touchAndSync(name);
    };
    await walk();
    await touch("one");
    await walk();
    await touch("two");
    await walk();
    await touch("one");
    await walk();
  } finally {
    await m.unmount();
  }
  out(`\n(unmounted; images left in ${dir})`);
}

main().catch((e: Error) => {
  process.stderr.write(`scoutfs demo: ${e.message}\n`);
  process.exitCode = 1;
});
