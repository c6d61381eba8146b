/*
 * The commands that read what scoutfs xattr tags keep, with the
 * original's arguments and output:
 *
 *   scoutfs list-hidden-xattrs FILE
 *       the names of FILE's scoutfs.hide. xattrs, one per line
 *       (unprintable bytes as '?')
 *   scoutfs search-xattrs XATTR-NAME [-p PATH]
 *       inode numbers that may have the .srch. xattr, ascending
 *   scoutfs read-xattr-totals [-p PATH]
 *       "A.B.C = TOTAL, COUNT" for every .totl. name with xattrs
 *   scoutfs read-xattr-index [-p PATH] [FIRST-ENTRY [LAST-ENTRY]]
 *       "MAJOR.MINOR = INO" for the .indx. entries in the range; an entry
 *       is "a.b.ino", each a C integer (0 octal, 0x hex, -1 all ones)
 *
 * The readers answer from committed changes (sync first to see recent
 * ones).  Results come from the mount in batches over one connection.
 */
import { locateFile, withMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import type { IndxEntryWire, TotlNameWire, XattrTotalInfo } from "../control/xattr_protocol.js";
import { UsageError, parseCInteger64 } from "./parse.js";
import { U64_MAX } from "../format/key.js";
import { FsError } from "../util/errors.js";

const BATCH = 1024;

/** a name with bytes that are not printable ASCII shown as '?' */
export function printableName(name: Buffer): string {
  return Array.from(name, (b) => (b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : "?")).join("");
}

export async function listHiddenXattrsCommand(file: string | undefined, out: (line: string) => void): Promise<void> {
  if (file === undefined) throw new UsageError("must specify filename");
  const f = await locateFile(file, "r");
  const { namesB64 } = await withMount(f.path, (c) => c.request("listHiddenXattrs", { ino: f.ino }));
  for (const n of namesB64) out(printableName(Buffer.from(n, "base64")));
}

export async function searchXattrsCommand(name: string | undefined, o: { path?: string }, out: (line: string) => void): Promise<void> {
  if (name === undefined) throw new UsageError("must provide xattr containing .srch. scoutfs tag");
  const nameB64 = Buffer.from(name).toString("base64");
  await withMount(selectedPath(o.path), async (c) => {
    for (let next = 0; ; ) {
      const r = await c.request("searchXattrs", { nameB64, nextIno: next, limit: BATCH * 16 });
      for (const ino of r.inos) out(String(ino));
      const last = r.inos[r.inos.length - 1];
      if (r.complete || last === undefined) return;
      next = last + 1;
    }
  });
}

export async function readXattrTotalsCommand(o: { path?: string }, out: (line: string) => void): Promise<void> {
  await withMount(selectedPath(o.path), async (c) => {
    let after: TotlNameWire | null = null;
    for (;;) {
      const totals: XattrTotalInfo[] = (await c.request("readXattrTotals", { after, limit: BATCH })).totals;
      for (const t of totals) out(`${t.name.join(".")} = ${t.total}, ${t.count}`);
      const last: XattrTotalInfo | undefined = totals[totals.length - 1];
      if (!last || last.name.every((n) => BigInt(n) === U64_MAX)) return;
      after = last.name;
    }
  });
}

interface IndxEntry {
  major: number;
  minor: bigint;
  ino: bigint;
}

export function parseIndxEntry(s: string): IndxEntry {
  const parts = s.split(".");
  const nums = parts.length === 3 ? parts.map(parseCInteger64) : [];
  if (nums.length !== 3 || nums.some((n) => n === undefined)) {
    throw new FsError(
      "EINVAL",
      `bad index position entry argument '${s}', it must be in the form "a.b.ino" where each value can be prefixed by '0' for octal or '0x' for hex`,
    );
  }
  const major = BigInt.asIntN(64, nums[0]!);
  if (major < 0n || major > 255n) throw new FsError("EINVAL", `initial major index position '${major}' must be between 0 and 255, inclusive.`);
  return { major: Number(major), minor: nums[1]!, ino: nums[2]! };
}

const entryText = (e: IndxEntry): string => `${e.major}.${e.minor}.${e.ino}`;
const toWire = (e: IndxEntry): IndxEntryWire => ({ major: e.major, minor: e.minor.toString(), ino: e.ino.toString() });
const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
const compareEntries = (a: IndxEntry, b: IndxEntry): number => a.major - b.major || cmp(a.minor, b.minor) || cmp(a.ino, b.ino);

/** the entry just after e, or undefined past the last one */
function entryAfter(e: IndxEntry): IndxEntry | undefined {
  if (e.ino < U64_MAX) return { ...e, ino: e.ino + 1n };
  if (e.minor < U64_MAX) return { major: e.major, minor: e.minor + 1n, ino: 0n };
  if (e.major < 255) return { major: e.major + 1, minor: 0n, ino: 0n };
  return undefined;
}

export async function readXattrIndexCommand(
  firstArg: string | undefined, lastArg: string | undefined, o: { path?: string }, out: (line: string) => void,
): Promise<void> {
  let first: IndxEntry | undefined = firstArg === undefined ? { major: 0, minor: 0n, ino: 0n } : parseIndxEntry(firstArg);
  const last: IndxEntry = lastArg === undefined ? { major: 255, minor: U64_MAX, ino: U64_MAX } : parseIndxEntry(lastArg);
  if (compareEntries(first, last) > 0) {
    throw new FsError("EINVAL", `first index position ${entryText(first)} must be less than last index position ${entryText(last)}`);
  }
  await withMount(selectedPath(o.path), async (c) => {
    while (first && compareEntries(first, last) <= 0) {
      const { entries } = await c.request("readXattrIndex", { first: toWire(first), last: toWire(last), limit: BATCH });
      for (const e of entries) out(`${e.major}.${e.minor} = ${e.ino}`);
      const end = entries[entries.length - 1];
      if (!end) return;
      first = entryAfter({ major: end.major, minor: BigInt(end.minor), ino: BigInt(end.ino) });
    }
  });
}
