/*
 * Walking an inode index (meta_seq or data_seq) from committed items:
 * the index items of the forest as of the last commit, never the
 * mount's dirty items, so an archive agent sees only changes that are
 * durable.  Cost is proportional to the entries returned: index items
 * sort by (seq, index type, ino), so a walk reads just the seq range
 * asked for (both index types interleave within it, the other is skipped).
 */
import { INODE_INDEX_TYPE, ZONE } from "../format/constants.js";
import { U64_MAX, keyFields, makeKey, type U64 } from "../format/key.js";
import type { Forest } from "../forest/forest.js";
import { keyInc, keyCompare } from "../format/key.js";
import { ITEM_FLAG_DELETION } from "../format/constants.js";

export interface WalkEntry {
  major: bigint;
  minor: number;
  ino: bigint;
}

export type IndexName = "meta_seq" | "data_seq";

export async function walkInodes(forest: Forest, index: IndexName, first: U64, last: U64, limit = 10000): Promise<WalkEntry[]> {
  const type = index === "meta_seq" ? INODE_INDEX_TYPE.metaSeq : INODE_INDEX_TYPE.dataSeq;
  const end = makeKey(ZONE.inodeIndex, last, 0xff, U64_MAX, U64_MAX, 0xff);
  let start = makeKey(ZONE.inodeIndex, first, 0);
  const out: WalkEntry[] = [];
  while (out.length < limit) {
    const r = await forest.readRange(start, end, 1024);
    for (const it of r.items) {
      if (it.flags & ITEM_FLAG_DELETION) continue;
      const f = keyFields(it.key);
      if (f.type !== type) continue;
      out.push({ major: f.first, minor: 0, ino: f.second });
      if (out.length >= limit) break;
    }
    if (keyCompare(r.end, end) >= 0) break;
    start = keyInc(r.end);
  }
  return out;
}

/** the original's table: a header every 25 rows, then "#  major  minor  ino" */
export function formatWalk(entries: WalkEntry[]): string[] {
  const lines: string[] = [];
  entries.forEach((e, i) => {
    if (i % 25 === 0) lines.push(`${"#".padEnd(20)} ${"major".padEnd(20)} ${"minor".padEnd(10)} ${"ino".padEnd(20)}`);
    lines.push(`${String(i).padEnd(20)} ${String(e.major).padEnd(20)} ${String(e.minor).padEnd(10)} ${String(e.ino).padEnd(20)}`);
  });
  return lines;
}
