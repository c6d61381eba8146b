/*
 * forEachItem and scanItems (fs/context.ts): answered from memory they
 * run to the end at once; from the first item whose answer needs a read
 * they go on through the async next() (scanItems back to the walk from
 * memory after each read).  Checked against a sorted model with the "needs a
 * read" places chosen at random: every item in range is visited once, in
 * order, until visit says stop, whichever path each step took.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { forEachItem, scanItems } from "../src/fs/context.js";
import { NOT_CACHED, type FsItems, type ItemKV, type NotCached } from "../src/fs/storage.js";
import { KEY_BYTES, keyInc, makeKey, type Key } from "../src/format/key.js";

/** next/nextNow over a sorted array; nextNow says NOT_CACHED where the answer's key is marked */
class ScriptedItems implements Pick<FsItems, "next" | "nextNow" | "scanNow"> {
  reads = 0;
  constructor(
    private readonly items: ItemKV[],
    private readonly needsRead: Set<number>,
  ) {}

  private find(first: Key, last: Key): number {
    const i = this.items.findIndex((kv) => Buffer.compare(kv.key, first) >= 0);
    return i >= 0 && Buffer.compare(this.items[i]!.key, last) <= 0 ? i : -1;
  }

  nextNow(first: Key, last: Key): ItemKV | undefined | NotCached {
    const i = this.find(first, last);
    if (i >= 0 && this.needsRead.has(i)) return NOT_CACHED;
    return i >= 0 ? this.items[i] : undefined;
  }

  /** visits until an item marked as needing a read (returned: the caller reads from it) */
  scanNow(first: Key, last: Key, visit: (kv: ItemKV) => boolean | void): Key | undefined {
    for (let i = this.find(first, last); i >= 0; ) {
      const kv = this.items[i]!;
      if (this.needsRead.has(i) && !this.readOnce.has(i)) return kv.key;
      if (visit(kv) === false || kv.key.equals(last)) return undefined;
      i = this.find(keyInc(kv.key), last);
    }
    return undefined;
  }

  /** items that a next() has read: in memory from then on */
  readonly readOnce = new Set<number>();

  async next(first: Key, last: Key): Promise<ItemKV | undefined> {
    this.reads++;
    await new Promise<void>((r) => setImmediate(r));
    const i = this.find(first, last);
    if (i >= 0) this.readOnce.add(i);
    return i >= 0 ? this.items[i] : undefined;
  }
}

const key = (n: number): Key => makeKey(1, 7, 3, n);

/** a scripted range walk: items, which of them need a read, the range [lo, hi] and where visit says stop */
const walkCase = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 30 }),
    fc.array(fc.nat(29), { maxLength: 10 }),
    fc.integer({ min: 0, max: 200 }),
    fc.integer({ min: 0, max: 200 }),
    fc.option(fc.nat(29), { nil: undefined }),
  )
  .map(([ns, reads, a, b, stopAt]) => {
    const sorted = [...ns].sort((x, y) => x - y);
    const needsRead = new Set(reads);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const inRange = sorted.filter((n) => n >= lo && n <= hi);
    const want = stopAt === undefined ? inRange : inRange.slice(0, stopAt + 1);
    return { sorted, needsRead, lo, hi, inRange, want, stopAt };
  });

type Walk = (items: FsItems, first: Key, last: Key, visit: (kv: ItemKV) => boolean | void) => Promise<void> | undefined;

/** run walk over the case's items; what it visited, its return and the scripted source */
function runWalk(walk: Walk, c: { sorted: number[]; needsRead: Set<number>; lo: number; hi: number; stopAt: number | undefined }) {
  const src = new ScriptedItems(c.sorted.map((n) => ({ key: key(n), value: Buffer.from([n]) })), c.needsRead);
  const seen: number[] = [];
  const r = walk(src as unknown as FsItems, key(c.lo), key(c.hi), (kv) => {
    assert.equal(kv.key.length, KEY_BYTES);
    seen.push(kv.value[0]!);
    return c.stopAt === undefined || seen.length <= c.stopAt;
  });
  return { src, seen, r };
}

test("forEachItem visits each item in range once, in order, answered from memory or read", async () => {
  await fc.assert(
    fc.asyncProperty(walkCase, async (c) => {
      const { src, seen, r } = runWalk(forEachItem, c);
      // a promise exactly when some step needed a read; none left behind otherwise
      if (r) await r;
      else assert.equal(src.reads, 0);
      assert.deepEqual(seen, c.want);
      const firstRead = c.inRange.findIndex((n) => c.needsRead.has(c.sorted.indexOf(n)));
      const wentAsync = firstRead >= 0 && (c.stopAt === undefined || firstRead <= c.stopAt);
      assert.equal(r !== undefined, wentAsync);
    }),
    { numRuns: 500 },
  );
});

test("scanItems visits each item in range once, in order, from memory between reads", async () => {
  await fc.assert(
    fc.asyncProperty(walkCase, async (c) => {
      const { src, seen, r } = runWalk(scanItems, c);
      if (r) await r;
      assert.deepEqual(seen, c.want);
      // one read per visited item that needed one, none for the others
      const visitedNeedingRead = c.want.filter((n) => c.needsRead.has(c.sorted.indexOf(n))).length;
      assert.equal(src.reads, visitedNeedingRead);
      assert.equal(r !== undefined, visitedNeedingRead > 0);
    }),
    { numRuns: 500 },
  );
});
