/*
 * Walking an inode index (meta_seq or data_seq) from committed items:
 * the index items of the forest as of the last commit, never the
 * mount's dirty items, so an archive agent sees only changes that are
 * durable.  Cost is proportional to the entries returned: index items
 * sort by (seq, index type, ino), so a walk reads just the seq range
 * asked for (both index types interleave within it, the other is skipped).
 */
import { INODE_INDEX_TYPE, ZONE } from "../format/constants.js";
import { U64_MAX, keyFields, makeKey, keyInc, keyCompare } from "../format/key.js";
import type { Forest } from "../forest/forest.js";
import { ITEM_FLAG_DELETION } from "../format/constants.js";

/** a position in an index; also an entry found (minor is always 0 in scoutfs) */
export interface WalkEntry {
  major: bigint;
  minor: number;
  ino: bigint;
}

export type IndexName = "meta_seq" | "data_seq";

/**
 * Entries of the index from first to last inclusive, in (major, minor,
 * ino) order, at most limit of them.  minor is not stored (always 0): a
 * first position with minor > 0 starts after the entries of its major's
 * ino, a last with minor > 0 includes them.
 */
export async function walkInodes(forest: Forest, index: IndexName, first: WalkEntry, last: WalkEntry, limit = 10000): Promise<WalkEntry[]> {
  const type = index === "meta_seq" ? INODE_INDEX_TYPE.metaSeq : INODE_INDEX_TYPE.dataSeq;
  const out: WalkEntry[] = [];
  if (cmpPos(first, last) > 0 || limit <= 0) return out;
  const end = makeKey(ZONE.inodeIndex, last.major, type, last.minor > 0 ? U64_MAX : last.ino, U64_MAX, 0xff);
  let start = makeKey(ZONE.inodeIndex, first.major, type, first.ino);
  while (out.length < limit) {
    const r = await forest.readRange(start, end, 1024);
    for (const it of r.items) {
      if (it.flags & ITEM_FLAG_DELETION) continue;
      const f = keyFields(it.key);
      if (f.type !== type) continue;
      const e = { major: f.first, minor: 0, ino: f.second };
      if (cmpPos(e, first) < 0 || cmpPos(e, last) > 0) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    if (keyCompare(r.end, end) >= 0) break;
    start = keyInc(r.end);
  }
  return out;
}

function cmpPos(a: WalkEntry, b: WalkEntry): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  return a.ino === b.ino ? 0 : a.ino < b.ino ? -1 : 1;
}

/** the position just after e, as the original's command steps: ino, then minor, then major carry */
export function nextPos(e: WalkEntry): WalkEntry | null {
  if (e.ino < U64_MAX) return { ...e, ino: e.ino + 1n };
  if (e.minor < 0xffffffff) return { major: e.major, minor: e.minor + 1, ino: 0n };
  if (e.major < U64_MAX) return { major: e.major + 1n, minor: 0, ino: 0n };
  return null;
}

/**
 * A position as the command line gives it: "MAJOR[.MINOR[.INO]]", each
 * part a C number (decimal, 0x hex, 0 octal; "-1" is the largest u64 as
 * strtoull makes it); minor must fit an int.  null if malformed.
 */
export function parseWalkPos(s: string): WalkEntry | null {
  const parts = s.split(".");
  if (parts.length > 3) return null;
  const vals: bigint[] = [];
  for (const p of parts) {
    const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(p);
    if (!m) return null;
    let v = BigInt(m[2]!.startsWith("0") && m[2]!.length > 1 && !/^0[xX]/.test(m[2]!) ? `0o${m[2]!.slice(1)}` : m[2]!);
    if (v > U64_MAX) return null;
    if (m[1] === "-") v = (U64_MAX + 1n - v) & U64_MAX;
    vals.push(v);
  }
  const minor = vals[1] ?? 0n;
  if (minor > 0x7fffffffn) return null;
  return { major: vals[0]!, minor: Number(minor), ino: vals[2] ?? 0n };
}

/** the original's table: a header every 25 rows, then "#  major  minor  ino"; rows numbered from countBefore */
export function formatWalk(entries: WalkEntry[], countBefore = 0): string[] {
  const lines: string[] = [];
  entries.forEach((e, j) => {
    const i = countBefore + j;
    if (i % 25 === 0) lines.push(`${"#".padEnd(20)} ${"major".padEnd(20)} ${"minor".padEnd(10)} ${"ino".padEnd(20)}`);
    lines.push(`${String(i).padEnd(20)} ${String(e.major).padEnd(20)} ${String(e.minor).padEnd(10)} ${String(e.ino).padEnd(20)}`);
  });
  return lines;
}
