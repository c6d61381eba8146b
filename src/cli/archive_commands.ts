/*
 * The registrations of the archive agent's commands (release, stage,
 * data-waiting, data-wait-err, setattr, punch-offline, move-blocks,
 * get-attr-x, set-attr-x) and of get-fiemap, spread into main.ts's command list.  Options and their
 * letters are the original's; required options are checked by the
 * commands themselves so that their messages are the original's.
 */
import type { Command } from "commander";
import type { CmdSpec } from "./main.js";
import { punchOfflineCommand, releaseCommand, stageCommand, type RangeOptions } from "./cmd_release_stage.js";
import { dataWaitErrCommand, dataWaitingCommand, type DataWaitErrOptions } from "./cmd_data_waiting.js";
import { setattrCommand, type SetattrOptions } from "./cmd_setattr.js";
import { moveBlocksCommand, type MoveBlocksOptions } from "./cmd_move_blocks.js";
import { fiemapCommand, type FiemapOptions } from "./cmd_fiemap.js";
import { ATTR_X_FIELDS, getAttrXCommand, setAttrXCommand } from "./cmd_attr_x.js";

const out = (s: string) => process.stdout.write(s + "\n");
const PATH_HELP = "any path inside the mount (default: $SCOUTFS_MOUNT_PATH, else the current directory)";

/** -V, -o, -l of release, stage and punch-offline */
function rangeOptions(c: Command, what: string, defaultLength: string): Command {
  return c
    .option("-V, --data-version <VERSION>", "Data version of the file [Required]")
    .option("-o, --offset <OFFSET>", `Offset (bytes or KMGTP units) in the file to ${what} (default: 0)`)
    .option("-l, --length <LENGTH>", `Length (bytes or KMGTP units) of the range to ${what} (default: ${defaultLength})`);
}

export const ARCHIVE_COMMANDS: CmdSpec[] = [
  {
    name: "release",
    group: "Archival Agent Support",
    args: "FILE --data-version VERSION [-o OFFSET] [-l LENGTH]",
    doc: "Mark file region offline and free extents",
    build: (c) =>
      rangeOptions(c.argument("[FILE]"), "release", "the file's size rounded up to 4 KiB").action(async (file: string | undefined, o: RangeOptions) => {
        await releaseCommand(file, o);
      }),
  },
  {
    name: "stage",
    group: "Archival Agent Support",
    args: "ARCHIVE-FILE STAGE-FILE --data-version VERSION [-o OFFSET] [-l LENGTH]",
    doc: "Write archive file contents to an offline file",
    build: (c) =>
      rangeOptions(c.argument("[ARCHIVE-FILE]").argument("[STAGE-FILE]"), "stage", "the size of ARCHIVE-FILE").action(
        async (archive: string | undefined, file: string | undefined, o: RangeOptions) => {
          await stageCommand(archive, file, o);
        },
      ),
  },
  {
    name: "data-waiting",
    group: "Archival Agent Support",
    args: "--inode INODE-NUM --block BLOCK-NUM [-p|--path PATH]",
    doc: "Print operations waiting for data blocks",
    build: (c) =>
      c
        .option("-I, --inode <INODE-NUM>", "List waiters after this inode number (0: all) [Required]")
        .option("-B, --block <BLKNO-NUM>", "List waiters after this block of the first inode [Required]")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (o: { inode?: string; block?: string; path?: string }) => {
          await dataWaitingCommand(o, out);
        }),
  },
  {
    name: "data-wait-err",
    group: "Archival Agent Support",
    args: "--inode INODE-NUM --version VER-NUM --offset OFF-NUM --count COUNT --op OP --err ERR [-p|--path PATH]",
    doc: "Return error from matching waiters",
    build: (c) =>
      c
        .option("-I, --inode <INODE-NUM>", "Inode number [Required]")
        .option("-V, --version <VER-NUM>", "Data version (ignored, as by the original) [Required]")
        .option("-F, --offset <OFF-NUM>", "Offset (bytes or KMGTP units) of the range of blocks [Required]")
        .option("-C, --count <COUNT>", "Count of bytes of the range of blocks [Required]")
        .option("-O, --op <OP>", 'Operation: "read", "write", "change_size" [Required]')
        .option("-E, --err <ERR>", "Negative errno the waiters fail with, e.g. -5 for EIO [Required]")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (o: DataWaitErrOptions) => {
          await dataWaitErrCommand(o, out);
        }),
  },
  {
    name: "setattr",
    group: "Archival Agent Support",
    args: "FILE [-V VERSION [-s SIZE [-o]]] [-t CTIME] [-r CRTIME]",
    doc: "Set attributes on newly-created zero-length file",
    build: (c) =>
      c
        .argument("[FILE]")
        .option("-t, --ctime <TIMESPEC>", 'Set change time using "<seconds-since-epoch>.<nanoseconds>" format (default: now)')
        .option("-r, --crtime <TIMESPEC>", 'Set creation time using "<seconds-since-epoch>.<nanoseconds>" format')
        .option("-V, --data-version <VERSION>", "Set data version")
        .option("-s, --size <SIZE>", "Set file size (bytes or KMGTP units). Requires --data-version")
        .option("-o, --offline", "Set file contents as offline, not sparse. Requires --size")
        .action(async (file: string | undefined, o: SetattrOptions) => {
          await setattrCommand(file, o);
        }),
  },
  {
    name: "punch-offline",
    group: "Archival Agent Support",
    args: "PATH --data-version VERSION --offset OFFSET --length LENGTH",
    doc: "Make a (sparse) hole in the offline extents of a file at offset and with length",
    build: (c) =>
      c
        .argument("[PATH]")
        .option("-V, --data-version <VERSION>", "Data version of the file [Required]")
        .option("-o, --offset <OFFSET>", "Offset (bytes or KMGTP units) of the range, a multiple of 4 KiB [Required]")
        .option("-l, --length <LENGTH>", "Length (bytes or KMGTP units) of the range, a multiple of 4 KiB [Required]")
        .action(async (file: string | undefined, o: RangeOptions) => {
          await punchOfflineCommand(file, o);
        }),
  },
  {
    name: "move-blocks",
    group: "Archival Agent Support",
    args: "FROM_FILE --from-offset OFFSET --length LENGTH TO_FILE --to-offset OFFSET",
    doc: "Move a fixed-size region of extents from one regular file to another",
    build: (c) =>
      c
        .argument("[FILES...]", "FROM_FILE then TO_FILE")
        .option("-f, --from-offset <OFFSET>", "Byte offset in from file of region to move [Required]")
        .option("-l, --length <LENGTH>", "Length in bytes (or KMGTP units) of region to move between files [Required]")
        .option("-t, --to-offset <OFFSET>", "Byte offset (or KMGTP units) in to file where region will be moved to [Required]")
        .option("-s, --stage", "Move into offline extents of TO_FILE, staging it (needs --data-version)")
        .option("-V, --data-version <VERSION>", "With --stage: the data version of TO_FILE")
        .action(async (files: string[], o: MoveBlocksOptions) => {
          await moveBlocksCommand(files, o);
        }),
  },
  {
    name: "get-attr-x",
    group: "Archival Agent Support",
    args: "FILE [-m] [-d] [-v] [-n] [-f] [-c] [-r] [-s] [-t] [-p]",
    doc: "Print extensible file attributes (all when no option names some; one value alone, several as \"name: value\")",
    build: (c) => {
      c.argument("[FILE]");
      for (const f of ATTR_X_FIELDS) c.option(`-${f.short}, --${f.opt}`, f.help);
      return c.action(async (file: string | undefined, o: Record<string, boolean | undefined>) => {
        await getAttrXCommand(file, o, out);
      });
    },
  },
  {
    name: "set-attr-x",
    group: "Archival Agent Support",
    args: "FILE [-v VERSION] [-s SIZE] [-c SECS.NSECS] [-r SECS.NSECS] [-t 0|1] [-p PROJECT_ID]",
    doc: "Set extensible file attributes (root only; meta_seq, data_seq and block counts are accepted and ignored)",
    build: (c) => {
      c.argument("[FILE]");
      for (const f of ATTR_X_FIELDS) c.option(`-${f.short}, --${f.opt} <${f.arg}>`, f.help);
      return c.action(async (file: string | undefined, o: Record<string, string | undefined>) => {
        await setAttrXCommand(file, o);
      });
    },
  },
  {
    name: "get-fiemap",
    group: "Debugging commands",
    args: "FILE [-P|--physical] [-L|--logical] [-b|--byte]",
    doc: "Print fiemap extent mapping",
    build: (c) =>
      c
        .argument("[FILE]")
        .option("-P, --physical", "Output physical offsets only")
        .option("-L, --logical", "Output logical offsets only")
        .option("-b, --byte", "Output byte values instead of blocks")
        .action(async (file: string | undefined, o: FiemapOptions) => {
          await fiemapCommand(file, o, out);
        }),
  },
];
