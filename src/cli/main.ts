#!/usr/bin/env node
/*
 * The `scoutfs` command.  Each subcommand is registered with its group,
 * argument summary and one-line doc, which make up the top-level usage
 * (as the original prints it, with the supported format versions).
 * Errors never reach the user as a stack trace: usage errors print
 * "scoutfs CMD: message", operating errors "scoutfs: CMD failed: message",
 * both with exit status 1.
 */
import { Command, CommanderError } from "commander";
import { FORMAT_VERSION_MAX, FORMAT_VERSION_MIN } from "../format/constants.js";
import { FileBlockDevice } from "../block/device.js";
import { mkfsCommand } from "./cmd_mkfs.js";
import { printMeta } from "./print.js";
import { daemonMain, installMountHelper, mountCommand } from "./daemon.js";
import { umountCommand } from "./cmd_umount.js";
import { statfsCommand } from "./cmd_statfs.js";
import { walkInodesCommand } from "./cmd_walk_inodes.js";
import { countersCommand } from "./cmd_counters.js";
import { statCommand } from "./cmd_stat.js";
import { dfCommand } from "./cmd_df.js";
import { allocatedInosCommand, inoPathCommand, referringEntriesCommand } from "./cmd_inode_names.js";
import { UsageError } from "./parse.js";
import { ARCHIVE_COMMANDS } from "./archive_commands.js";
import { XATTR_COMMANDS } from "./xattr_commands.js";
import { QUOTA_COMMANDS } from "./quota_commands.js";
import { DEVICE_COMMANDS } from "./device_commands.js";
import { FsError, rethrowBugs } from "../util/errors.js";

export interface CmdSpec {
  name: string;
  group: "Core admin" | "Additional Information" | "Search Acceleration" | "Archival Agent Support" | "Debugging commands";
  args: string;
  doc: string;
  build: (c: Command) => Command;
}

const out = (s: string) => process.stdout.write(s + "\n");
const err = (s: string) => process.stderr.write(s + "\n");
/** a line of bytes (names need not be UTF-8) */
const outBytes = (b: Buffer) => process.stdout.write(Buffer.concat([b, NEWLINE]));
const NEWLINE = Buffer.from("\n");
const PATH_HELP = "any path inside the mount (default: $SCOUTFS_MOUNT_PATH, else the current directory)";

const commands: CmdSpec[] = [
  {
    name: "mkfs",
    group: "Core admin",
    args: "META-DEVICE DATA-DEVICE",
    doc: "Initialize a new ScoutFS filesystem",
    build: (c) =>
      c
        .argument("<META-DEVICE>")
        .argument("<DATA-DEVICE>")
        .option("-Q, --quorum-slot <NR,ADDR,PORT>", "Specify quorum slot addresses [Required]", (v, p: string[]) => [...p, v], [])
        .option("-f, --force", "Overwrite existing data on block devices")
        .option("-A, --allow-small-size", "Allow specified meta/data devices less than minimum, still warns")
        .option("-m, --max-meta-size <SIZE>", "Use a size less than the base metadata device size (bytes or KMGTP units)")
        .option("-d, --max-data-size <SIZE>", "Use a size less than the base data device size (bytes or KMGTP units)")
        .option("-z, --data-alloc-zone-blocks <BLOCKS>", "Divide data device into block zones so each mounts writes to a zone (4KB blocks)")
        .option("-V, --format-version <VERS>", `Specify a format version within supported range, (${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}, default ${FORMAT_VERSION_MAX})`)
        .action(async (meta: string, data: string, o: Record<string, unknown>) => {
          if ((o.quorumSlot as string[]).length === 0) throw new UsageError("must specify at least one quorum slot with --quorum-slot|-Q");
          await mkfsCommand(
            {
              metaPath: meta, dataPath: data, quorumSlot: o.quorumSlot as string[], maxMetaSize: o.maxMetaSize as string | undefined,
              maxDataSize: o.maxDataSize as string | undefined, dataAllocZoneBlocks: o.dataAllocZoneBlocks as string | undefined,
              force: !!o.force, allowSmallSize: !!o.allowSmallSize, formatVersion: o.formatVersion as string | undefined,
            },
            out,
            err,
          );
        }),
  },
  {
    name: "mount",
    group: "Core admin",
    args: "-o OPTIONS DATA-DEVICE MOUNTPOINT",
    doc: "Mount a ScoutFS filesystem (as mount -t scoutfs), leaving its daemon running",
    build: (c) =>
      c
        .argument("<DATA-DEVICE>")
        .argument("<MOUNTPOINT>")
        .requiredOption("-o, --options <OPTIONS>", "scoutfs(5) mount options, metadev_path=META-DEVICE required", (v, p: string | undefined) => (p ? `${p},${v}` : v))
        .option("-v, --verbose", "Say where the daemon logs")
        .action(async (data: string, mnt: string, o: { options: string; verbose?: boolean }) => {
          await mountCommand({ options: o.options, data, mountpoint: mnt, verbose: o.verbose ? err : undefined });
        }),
  },
  {
    name: "umount",
    group: "Core admin",
    args: "MOUNTPOINT",
    doc: "Unmount a ScoutFS filesystem and wait for its daemon to exit",
    build: (c) =>
      c.argument("<MOUNTPOINT>").action(async (mnt: string) => {
        await umountCommand(mnt);
      }),
  },
  {
    name: "df",
    group: "Core admin",
    args: "[-h|--human-readable] [-p|--path PATH]",
    doc: "Show metadata and data block usage",
    build: (c) =>
      c
        .helpOption("--help", "display help for command")
        .option("-p, --path <PATH>", PATH_HELP)
        .option("-h, --human-readable", "Print sizes in human readable format (e.g., 1KB 234MB 2GB)")
        .action(async (o: { path?: string; humanReadable?: boolean }) => {
          await dfCommand(o, out);
        }),
  },
  {
    name: "install-mount-helper",
    group: "Core admin",
    args: "[--prefix DIR]",
    doc: "Install mount.scoutfs so that mount -t scoutfs works",
    build: (c) =>
      c.option("--prefix <DIR>", "Directory to install mount.scoutfs in", "/sbin").action(async (o: { prefix: string }) => {
        out(installMountHelper(o.prefix));
      }),
  },
  {
    name: "counters",
    group: "Additional Information",
    args: "[-t] [PATH]",
    doc: "Print the event counters of a mount",
    build: (c) =>
      c
        .argument("[PATH]", "any path inside the mount (default: $SCOUTFS_MOUNT_PATH, else the current directory)")
        .option("-t, --table", "pack the counters into columns as wide as the terminal")
        .action(async (p: string | undefined, o: { table?: boolean }) => {
          await countersCommand({ path: p, table: !!o.table }, out);
        }),
  },
  {
    name: "statfs",
    group: "Additional Information",
    args: "[-s|--single-field FIELD-NAME] [-p|--path PATH]",
    doc: "Print filesystem-wide fields of a mount (fsid, rid, committed_seq, sizes)",
    build: (c) =>
      c
        .option("-p, --path <PATH>", PATH_HELP)
        .option("-s, --single-field <FIELD-NAME>", "print only the value of this field")
        .action(async (o: { path?: string; singleField?: string }) => {
          await statfsCommand(o, out);
        }),
  },
  {
    name: "stat",
    group: "Additional Information",
    args: "[-s|--single-field FIELD-NAME] FILE",
    doc: "Show ScoutFS extra inode information (meta_seq, data_seq, data_version, online/offline blocks, crtime)",
    build: (c) =>
      c
        .argument("<FILE>")
        .option("-s, --single-field <FIELD-NAME>", "print only the value of this field")
        .action(async (file: string, o: { singleField?: string }) => {
          await statCommand({ file, singleField: o.singleField }, out);
        }),
  },
  {
    name: "ino-path",
    group: "Search Acceleration",
    args: "INODE-NUM [-p|--path PATH]",
    doc: "Print every path from the root to an inode, one per line",
    build: (c) =>
      c
        .argument("<INODE-NUM>")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (ino: string, o: { path?: string }) => {
          await inoPathCommand({ ino, path: o.path }, outBytes);
        }),
  },
  {
    name: "get-referring-entries",
    group: "Search Acceleration",
    args: "[-p|--path PATH] INO",
    doc: "Print the directory entries that refer to an inode",
    build: (c) =>
      c
        .argument("<INO>")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (ino: string, o: { path?: string }) => {
          await referringEntriesCommand({ ino, path: o.path }, outBytes);
        }),
  },
  {
    name: "walk-inodes",
    group: "Search Acceleration",
    args: "<meta_seq|data_seq> FIRST-ENTRY LAST-ENTRY [-p|--path PATH]",
    doc: "Print range of indexed inodes (committed changes only)",
    build: (c) =>
      c
        .argument("<INDEX>", "meta_seq or data_seq")
        .argument("<FIRST-ENTRY>", "MAJOR[.MINOR[.INO]] to start at")
        .argument("<LAST-ENTRY>", "MAJOR[.MINOR[.INO]] to end at, -1 for the last")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (index: string, first: string, last: string, o: { path?: string }) => {
          await walkInodesCommand({ index, first, last, path: o.path }, out);
        }),
  },
  {
    name: "get-allocated-inos",
    group: "Debugging commands",
    args: "[-i|--ino INO] [-s|--single] [-p|--path PATH]",
    doc: "Print the allocated inode numbers from INO to the end of its group of 1024",
    build: (c) =>
      c
        .option("-i, --ino <INO>", "Start from 64bit inode number (required)")
        .option("-s, --single", "Only print single specific inode number argument")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (o: { ino?: string; single?: boolean; path?: string }) => {
          await allocatedInosCommand(o, out);
        }),
  },
  ...ARCHIVE_COMMANDS,
  ...XATTR_COMMANDS,
  ...QUOTA_COMMANDS,
  ...DEVICE_COMMANDS,
  {
    name: "print",
    group: "Debugging commands",
    args: "META-DEVICE",
    doc: "Print metadata structures",
    build: (c) =>
      c
        .argument("<META-DEVICE>")
        .option("-S, --skip-likely-huge", "Skip printing structures that are likely to be very large (print the super block only)")
        .action(async (meta: string, o: { skipLikelyHuge?: boolean }) => {
          const dev = await FileBlockDevice.open(meta, undefined, false);
          try {
            const r = await printMeta(dev, out, !!o.skipLikelyHuge);
            if (r.corruptions.length > 0) {
              for (const c of r.corruptions) err(`corruption: ${c}`);
              throw new FsError("EIO", `${r.corruptions.length} corrupt structure(s) found`);
            }
          } finally {
            await dev.close();
          }
        }),
  },
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = [
    "usage: scoutfs <command> [<args>]",
    "",
    "Selected fs defaults to current working directory.",
    "See <command> --help for more details.",
    "",
    `Supported format version: ${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}`,
  ];
  for (const g of ["Core admin", "Additional Information", "Search Acceleration", "Archival Agent Support", "Debugging commands"]) {
    const cs = commands.filter((c) => c.group === g);
    if (cs.length === 0) continue;
    lines.push("", `${g}:`);
    for (const c of cs) lines.push(`  ${c.name.padStart(width)} ${c.args}`, `  ${"".padStart(width)} ${c.doc}`);
  }
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  if (name === undefined) {
    err(usage());
    return 1;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    out(usage()); // asked for: stdout, as GNU tools do
    return 0;
  }
  if (name === "__daemon") {
    // hidden: the mount daemon started by `scoutfs mount` (daemon.ts)
    await daemonMain(argv.slice(1));
    return 0;
  }
  const spec = commands.find((c) => c.name === name);
  if (!spec) {
    err(`scoutfs: unrecognized command: '${name}'`);
    err(usage());
    return 1;
  }
  const cmd = spec.build(new Command(`scoutfs ${spec.name}`).description(spec.doc))
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  try {
    await cmd.parseAsync(argv.slice(1), { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1; // commander printed its own message or help
    if (e instanceof UsageError) {
      err(`scoutfs ${spec.name}: ${e.message}`);
      if (spec.name !== "mount") err(`Try 'scoutfs ${spec.name} --help' for more information.`); // mount: one line, as mount(8)
      return e.exitCode;
    }
    rethrowBugs(e);
    const msg = e instanceof FsError ? e.message : (e as Error).message;
    err(`scoutfs: ${spec.name} failed: ${msg}`);
    return 1;
  }
}

// output piped into a reader that stops early (| head): stop quietly, as C tools do
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const code = await main(process.argv.slice(2));
process.exitCode = code;
