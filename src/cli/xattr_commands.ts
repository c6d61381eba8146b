/*
 * The registrations of the xattr tag commands (list-hidden-xattrs,
 * search-xattrs, read-xattr-totals, read-xattr-index), spread into
 * main.ts's command list.  Arguments and option letters are the
 * original's; missing arguments are checked by the commands so that
 * their messages are the original's.
 */
import type { CmdSpec } from "./main.js";
import { listHiddenXattrsCommand, readXattrIndexCommand, readXattrTotalsCommand, searchXattrsCommand } from "./cmd_xattr_tags.js";

const out = (s: string) => process.stdout.write(s + "\n");
const PATH_HELP = "any path inside the mount (default: $SCOUTFS_MOUNT_PATH, else the current directory)";

export const XATTR_COMMANDS: CmdSpec[] = [
  {
    name: "list-hidden-xattrs",
    group: "Additional Information",
    args: "FILE",
    doc: "Print the names of the hidden (scoutfs.hide.) xattrs of a file",
    build: (c) =>
      c.argument("[FILE]").action(async (file: string | undefined) => {
        await listHiddenXattrsCommand(file, out);
      }),
  },
  {
    name: "search-xattrs",
    group: "Additional Information",
    args: "XATTR-NAME [-p|--path PATH]",
    doc: "Print the numbers of inodes that may have the given scoutfs.srch. xattr (committed changes; root only)",
    build: (c) =>
      c
        .argument("[XATTR-NAME]")
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (name: string | undefined, o: { path?: string }) => {
          await searchXattrsCommand(name, o, out);
        }),
  },
  {
    name: "read-xattr-totals",
    group: "Additional Information",
    args: "[-p|--path PATH]",
    doc: "Print the filesystem-wide totals and counts of scoutfs.totl. xattrs as \"A.B.C = TOTAL, COUNT\" (committed changes; root only)",
    build: (c) =>
      c.option("-p, --path <PATH>", PATH_HELP).action(async (o: { path?: string }) => {
        await readXattrTotalsCommand(o, out);
      }),
  },
  {
    name: "read-xattr-index",
    group: "Additional Information",
    args: "[-p|--path PATH] [FIRST-ENTRY [LAST-ENTRY]]",
    doc: "Print the inodes indexed by their scoutfs.indx. xattrs as \"MAJOR.MINOR = INO\", from FIRST-ENTRY to LAST-ENTRY (each \"a.b.ino\"; committed changes; root only)",
    build: (c) =>
      c
        .argument("[FIRST-ENTRY]", 'first position "a.b.ino" (default 0.0.0)')
        .argument("[LAST-ENTRY]", 'last position "a.b.ino" (default 255.-1.-1)')
        .option("-p, --path <PATH>", PATH_HELP)
        .action(async (first: string | undefined, last: string | undefined, o: { path?: string }) => {
          await readXattrIndexCommand(first, last, o, out);
        }),
  },
];
