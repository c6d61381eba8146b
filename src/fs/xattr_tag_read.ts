/*
 * Reading what xattr tags keep, filesystem-wide, without walking the
 * namespace: totals of .totl. xattrs, entries of .indx. xattrs, and the
 * inodes that may have a .srch. xattr of a given name.
 *
 * All three read committed items (CommittedItems: the last commit of
 * every mount, deltas summed), as the original's readers do: a change
 * shows once its transaction has committed (sync).  Each call returns at
 * most `limit` results in key order and says where to continue.
 *
 * search: srch items are keyed by name hash, so names that share a hash
 * give false positives (never false negatives once committed); an inode
 * is listed once however many of its xattrs match.
 */
import type { CommittedItems, ItemKV } from "./storage.js";
import { U64_MAX, keyInc, keyCompare, type Key } from "../format/key.js";
import {
  decodeSrchCount, decodeTotl, indxKey, indxPosOfKey, srchHashFirst, srchHashLast, totlFirst, totlKey, totlLast,
  totlNameOfKey, type TotlName,
} from "../format/tag_items.js";
import { keySecond } from "../format/key.js";

/** visit committed items of [start, last] in order until visit returns false; true if the range was exhausted */
async function walkCommitted(
  committed: CommittedItems, start: Key, last: Key, batch: number, visit: (kv: ItemKV) => boolean,
): Promise<boolean> {
  let from = start;
  for (;;) {
    const r = await committed.readRange(from, last, batch);
    for (const kv of r.items) if (!visit(kv)) return false;
    if (keyCompare(r.end, last) >= 0) return true;
    from = keyInc(r.end);
  }
}

export interface XattrTotal {
  name: TotlName;
  total: bigint;
  count: bigint;
}

/** the totals after position `after` (all when undefined), up to limit */
export async function readXattrTotals(committed: CommittedItems, after: TotlName | undefined, limit: number): Promise<XattrTotal[]> {
  const out: XattrTotal[] = [];
  if (after && after.every((n) => n === U64_MAX)) return out;
  const start = after ? keyInc(totlKey(after)) : totlFirst();
  await walkCommitted(committed, start, totlLast(), Math.min(limit, 1024), (kv) => {
    const v = decodeTotl(kv.value);
    out.push({ name: totlNameOfKey(kv.key), total: v.total, count: v.count });
    return out.length < limit;
  });
  return out;
}

export interface IndxEntry {
  major: number;
  minor: bigint;
  ino: bigint;
}

export const compareIndxEntries = (a: IndxEntry, b: IndxEntry): number =>
  a.major - b.major || (a.minor < b.minor ? -1 : a.minor > b.minor ? 1 : 0) || (a.ino < b.ino ? -1 : a.ino > b.ino ? 1 : 0);

/** the index entries from first to last inclusive, each (major, minor, ino) once, up to limit */
export async function readXattrIndex(committed: CommittedItems, first: IndxEntry, last: IndxEntry, limit: number): Promise<IndxEntry[]> {
  const out: IndxEntry[] = [];
  const start = indxKey({ ...first, xid: 0n });
  const end = indxKey({ ...last, xid: U64_MAX });
  await walkCommitted(committed, start, end, Math.min(limit, 1024), (kv) => {
    const p = indxPosOfKey(kv.key);
    const prev = out[out.length - 1];
    if (prev && prev.major === p.major && prev.minor === p.minor && prev.ino === p.ino) return true;
    if (out.length === limit) return false;
    out.push({ major: p.major, minor: p.minor, ino: p.ino });
    return true;
  });
  return out;
}

export interface SrchResult {
  inos: number[];
  /** nothing after the last ino returned matches */
  complete: boolean;
}

/** inodes from nextIno to lastIno that may have an xattr whose srch name hash is hash, up to limit */
export async function searchXattrs(
  committed: CommittedItems, hash: number, nextIno: number, lastIno: number | bigint, limit: number,
): Promise<SrchResult> {
  const inos: number[] = [];
  const complete = await walkCommitted(committed, srchHashFirst(hash, nextIno), srchHashLast(hash, lastIno), 4096, (kv) => {
    if (decodeSrchCount(kv.value) <= 0n) return true;
    const ino = keySecond(kv.key);
    if (inos[inos.length - 1] === ino) return true;
    if (inos.length === limit) return false;
    inos.push(ino);
    return true;
  });
  return { inos, complete };
}
