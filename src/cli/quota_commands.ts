/*
 * The registrations of the quota commands (quota-add, quota-del,
 * quota-list, quota-wipe, quota-restore), spread into main.ts's command
 * list.  Options are the original's; -p is required, as there.
 */
import type { CmdSpec } from "./main.js";
import { quotaListCommand, quotaModCommand, quotaRestoreCommand, quotaWipeCommand } from "./cmd_quota.js";

const out = (s: string) => process.stdout.write(s + "\n");
const PATH_HELP = "Path to the scoutfs filesystem (any path inside the mount) [Required]";
const RULE_HELP = 'Rule string: "PRIO V,S,F V,S,F V,S,F OP LIMIT FLAGS" (sources L/P/U/G, flag S or -, op I or D, flags C or -) [Required]';
const UNSORTED_HELP = "Process rules in unsorted filesystem storage order";

export const QUOTA_COMMANDS: CmdSpec[] = [
  {
    name: "quota-add",
    group: "Core admin",
    args: "-p PATH -r RULE",
    doc: "Add quota rule",
    build: (c) =>
      c.option("-p, --path <PATH>", PATH_HELP).option("-r, --rule <RULE_STRING>", RULE_HELP).action(async (o: { path?: string; rule?: string }) => {
        await quotaModCommand(true, o);
      }),
  },
  {
    name: "quota-del",
    group: "Core admin",
    args: "-p PATH -r RULE",
    doc: "Delete quota rule",
    build: (c) =>
      c.option("-p, --path <PATH>", PATH_HELP).option("-r, --rule <RULE_STRING>", RULE_HELP).action(async (o: { path?: string; rule?: string }) => {
        await quotaModCommand(false, o);
      }),
  },
  {
    name: "quota-list",
    group: "Core admin",
    args: "-p PATH [-U]",
    doc: "List quota rules, highest priority first, in the syntax quota-restore reads",
    build: (c) =>
      c.option("-p, --path <PATH>", PATH_HELP).option("-U, --unsorted", UNSORTED_HELP).action(async (o: { path?: string; unsorted?: boolean }) => {
        await quotaListCommand(o, out);
      }),
  },
  {
    name: "quota-wipe",
    group: "Core admin",
    args: "-p PATH [-U]",
    doc: "Delete all quota rules",
    build: (c) =>
      c.option("-p, --path <PATH>", PATH_HELP).option("-U, --unsorted", UNSORTED_HELP).action(async (o: { path?: string; unsorted?: boolean }) => {
        await quotaWipeCommand(o, out);
      }),
  },
  {
    name: "quota-restore",
    group: "Core admin",
    args: "-p PATH [-U] < RULES",
    doc: "Restore quota rules from quota-list output on stdin",
    build: (c) =>
      c.option("-p, --path <PATH>", PATH_HELP).option("-U, --unsorted", UNSORTED_HELP).action(async (o: { path?: string; unsorted?: boolean }) => {
        if (o.path === undefined) return quotaRestoreCommand(o, "", out);
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        await quotaRestoreCommand(o, Buffer.concat(chunks).toString("utf8"), out);
      }),
  },
];
