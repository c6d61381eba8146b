/*
 * forEachItem (fs/context.ts): answered from memory it runs to the end at
 * once; from the first item whose answer needs a read it goes on through
 * the async next().  Checked against a sorted model with the "needs a
 * read" places chosen at random: every item in range is visited once, in
 * order, until visit says stop, whichever path each step took.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { forEachItem } from "../src/fs/context.js";
import { NOT_CACHED, type FsItems, type ItemKV, type NotCached } from "../src/fs/storage.js";
import { KEY_BYTES, makeKey, type Key } from "../src/format/key.js";

/** next/nextNow over a sorted array; nextNow says NOT_CACHED where the answer's key is marked */
class ScriptedItems implements Pick<FsItems, "next" | "nextNow"> {
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

  async next(first: Key, last: Key): Promise<ItemKV | undefined> {
    this.reads++;
    await new Promise<void>((r) => setImmediate(r));
    const i = this.find(first, last);
    return i >= 0 ? this.items[i] : undefined;
  }
}

const key = (n: number): Key => makeKey(1, 7, 3, n);

test("forEachItem visits each item in range once, in order, answered from memory or read", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 30 }),
      fc.array(fc.nat(29), { maxLength: 10 }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 200 }),
      fc.option(fc.nat(29), { nil: undefined }),
      async (ns, reads, a, b, stopAt) => {
        const sorted = [...ns].sort((x, y) => x - y);
        const items = sorted.map((n) => ({ key: key(n), value: Buffer.from([n]) }));
        const src = new ScriptedItems(items, new Set(reads));
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const inRange = sorted.filter((n) => n >= lo && n <= hi);
        const want = stopAt === undefined ? inRange : inRange.slice(0, stopAt + 1);
        const seen: number[] = [];
        const r = forEachItem(src as unknown as FsItems, key(lo), key(hi), (kv) => {
          assert.equal(kv.key.length, KEY_BYTES);
          seen.push(kv.value[0]!);
          return stopAt === undefined || seen.length <= stopAt;
        });
        // a promise exactly when some step needed a read; none left behind otherwise
        if (r) await r;
        else assert.equal(src.reads, 0);
        assert.deepEqual(seen, want);
        const firstRead = inRange.findIndex((n) => reads.includes(sorted.indexOf(n)));
        const wentAsync = firstRead >= 0 && (stopAt === undefined || firstRead <= stopAt);
        assert.equal(r !== undefined, wentAsync);
      },
    ),
    { numRuns: 500 },
  );
});
