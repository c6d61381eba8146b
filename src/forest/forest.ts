/*
 * The forest: reading items across the fs root btree and every log
 * btree.  For each key the version with the greatest seq wins, and a
 * deletion item hides every older version, so the forest reads as one
 * tree although each mount writes only its own log tree.
 *
 * A range read asks every tree for up to `limit` items; when a tree had
 * more, the answer is only complete up to the last key that tree gave,
 * so the result is cut there and `end` says how far it is complete.  The
 * caller (item cache, log merge) continues from after `end`.
 *
 * Roots come from the server's last committed super block.  A reader
 * can race with the server freeing and reusing the blocks of an old
 * root; such a block fails its seq check (StaleBlockError) and the read
 * is retried with fresh roots, a bounded number of times.
 *
 * Keys of delta zones (format/tag_items.ts) are the exception to "newest
 * wins": the values of every tree add up.  The log merge moves items
 * from finalized trees into the fs root atomically (one commit writes the
 * sum and deletes the inputs), so roots of one commit never count a
 * delta twice or miss it.
 *
 * Not yet: per-log-tree bloom filters keyed by lock, which let a reader
 * skip trees that cannot hold a key (every tree is searched today).
 */
import { ITEM_FLAG_DELETION, ZONE } from "../format/constants.js";
import { U64_MAX, keyCompare, makeKey, type Key } from "../format/key.js";
import { decodeLogTrees, type BtreeRoot, type LogTrees } from "../format/structs.js";
import type { MetaStore } from "../block/store.js";
import { btreeRange, btreeWalk, type BtreeItem } from "../btree/btree.js";
import type { Roots, ServerApi } from "../net/api.js";
import { StaleBlockError } from "../util/errors.js";
import { combineDeltas, isDeltaKey, isNullDelta } from "../format/tag_items.js";
import type { CommittedItems } from "../fs/storage.js";
import { counters } from "../util/counters.js";

export const LOG_TREES_FIRST = makeKey(ZONE.logTrees, 0);
export const LOG_TREES_LAST = makeKey(ZONE.logTrees, U64_MAX, 0xff, U64_MAX, U64_MAX, 0xff);

/** every log trees item of a logs btree */
export async function readAllLogTrees(store: MetaStore, logsRoot: BtreeRoot): Promise<LogTrees[]> {
  const out: LogTrees[] = [];
  await btreeWalk(store, logsRoot, LOG_TREES_FIRST, LOG_TREES_LAST, (it) => {
    out.push(decodeLogTrees(it.value));
    return true;
  });
  return out;
}

export interface ForestRange {
  /** newest version of each key, deletions included, in key order */
  items: BtreeItem[];
  /** the result is complete for keys <= end */
  end: Key;
}

export async function readTreesRange(
  store: MetaStore, trees: BtreeRoot[], start: Key, end: Key, limit: number,
): Promise<ForestRange> {
  let covered = end;
  const all: BtreeItem[] = [];
  for (const root of trees) {
    const r = await btreeRange(store, root, start, end, limit);
    if (r.more && r.items.length > 0) {
      const last = r.items[r.items.length - 1]!.key;
      if (keyCompare(last, covered) < 0) covered = last;
    }
    all.push(...r.items);
  }
  all.sort((a, b) => keyCompare(a.key, b.key) || b.seq - a.seq);
  const items: BtreeItem[] = [];
  for (const it of all) {
    if (keyCompare(it.key, covered) > 0) break;
    const prev = items[items.length - 1];
    if (prev && prev.key.equals(it.key)) {
      // a delta zone's trees add up; elsewhere the newest version (first in this order) wins
      if (isDeltaKey(it.key)) items[items.length - 1] = { ...prev, value: combineDeltas(it.key, prev.value, it.value) };
      continue;
    }
    items.push(it);
  }
  return { items, end: covered };
}

export class Forest {
  private cachedLogs: { ref: string; roots: BtreeRoot[] } | undefined;
  constructor(
    private readonly store: MetaStore,
    private readonly server: ServerApi,
  ) {}

  private async trees(roots: Roots): Promise<BtreeRoot[]> {
    const ref = `${roots.logsRoot.ref.blkno}.${roots.logsRoot.ref.seq}`;
    if (this.cachedLogs?.ref !== ref) {
      const lts = await readAllLogTrees(this.store, roots.logsRoot);
      this.cachedLogs = { ref, roots: lts.map((lt) => lt.itemRoot) };
    }
    return [roots.fsRoot, ...this.cachedLogs.roots];
  }

  async readRange(start: Key, end: Key, limit: number): Promise<ForestRange> {
    counters.inc("forest_read_range");
    for (let attempt = 0; ; attempt++) {
      const roots = await this.server.getRoots();
      try {
        const r = await readTreesRange(this.store, await this.trees(roots), start, end, limit);
        counters.inc("forest_read_items", r.items.length);
        return r;
      } catch (e) {
        // a block of an old root was freed and reused under us: read again from fresh roots
        if (!(e instanceof StaleBlockError) || attempt >= 20) throw e;
        counters.inc("forest_read_retry");
        this.cachedLogs = undefined;
      }
    }
  }
}

/** the committed items as the fs layer reads them: deletions and null delta sums left out */
export function committedItems(forest: Forest): CommittedItems {
  return {
    async readRange(start, end, limit) {
      const r = await forest.readRange(start, end, limit);
      const items = [];
      for (const it of r.items) {
        if (it.flags & ITEM_FLAG_DELETION) continue;
        if (isDeltaKey(it.key) && isNullDelta(it.value)) continue;
        items.push({ key: Buffer.from(it.key), value: Buffer.from(it.value) });
      }
      return { items, end: r.end };
    },
  };
}
