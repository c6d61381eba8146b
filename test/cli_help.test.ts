/*
 * `scoutfs --help` is true: it names the supported format version range
 * and every command of the original's scoutfs(8), and each command's own
 * --help exits 0, describes that command, and offers every option its
 * one-line summary in `scoutfs --help` mentions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { scoutfs } from "./support/cli_harness.js";
import { FORMAT_VERSION_MAX, FORMAT_VERSION_MIN } from "../src/format/constants.js";

/** the commands the original's scoutfs utility registers */
const ORIGINAL_COMMANDS = [
  "change-format-version", "change-quorum-config", "counters", "data-wait-err", "data-waiting", "df", "get-allocated-inos",
  "get-attr-x", "get-fiemap", "get-referring-entries", "ino-path", "list-hidden-xattrs", "mkfs", "move-blocks",
  "prepare-empty-data-device", "print", "punch-offline", "quota-add", "quota-del", "quota-list", "quota-restore", "quota-wipe",
  "read-xattr-index", "read-xattr-totals", "release", "resize-devices", "search-xattrs", "set-attr-x", "setattr", "stage", "stat",
  "statfs", "walk-inodes",
];

/** command name -> its summary of arguments, from the top-level help */
function summaries(help: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of help.split("\n")) {
    const m = /^ {2,}([a-z][a-z-]*)(?: (.*))?$/.exec(line);
    // command lines are right-aligned names; description lines start further in and are sentences
    if (m && line.indexOf(m[1]!) < 28 && !/^[A-Z]/.test(m[1]!)) out.set(m[1]!, m[2] ?? "");
  }
  return out;
}

test("scoutfs --help lists every command and the format version range; each command's --help offers what it claims", async () => {
  const top = await scoutfs("--help");
  assert.equal(top.code, 0);
  assert.match(top.stdout, new RegExp(`Supported format version: ${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}\\n`));
  const cmds = summaries(top.stdout);
  for (const name of ORIGINAL_COMMANDS) assert.ok(cmds.has(name), `scoutfs --help lists ${name}`);
  assert.ok(cmds.size >= ORIGINAL_COMMANDS.length);

  for (const [name, args] of cmds) {
    const h = await scoutfs(name, "--help");
    assert.equal(h.code, 0, `${name} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`^Usage: scoutfs ${name}\\b`), `${name} --help names the command`);
    // every -x and --long the summary mentions is an option of the command
    const claimed = [...args.matchAll(/(?<![\w-])(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]!);
    for (const opt of claimed) {
      const shown = new RegExp(`(^|[\\s,])${opt.replace(/-/g, "\\-")}([\\s,=<]|$)`, "m");
      assert.match(h.stdout, shown, `${name} --help offers ${opt}, which scoutfs --help mentions`);
    }
  }

  const unknown = await scoutfs("no-such-command");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^scoutfs: unrecognized command: 'no-such-command'/);
});
