/*
 * The item cache (src/item/cache.ts) against a plain map model, over a
 * fake forest that answers range reads in small pieces (complete only up
 * to `end`) and keeps committed deletions as deletion items, as log trees
 * do.  Random sequences (with prefix rules that index the keys, so
 * that byPrefix answers nextNow for one prefix's range, and without) of
 * set, delete, lookup, next, prev, scan (the
 * walk from memory, scanNow), deleteRange (fs/context.ts, in small
 * batches), commit and invalidate, with a cache limit small enough to evict, must read exactly
 * what the model holds; a commit must hand over its dirty items in
 * strictly ascending key order; and a new cache over the forest after a
 * last commit must read the model too.  Callers scribble over the key
 * buffers they set with, which the cache must not have kept.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ItemCache, type ItemSource, type PrefixRule } from "../src/item/cache.js";
import { counters } from "../src/util/counters.js";
import { NOT_CACHED } from "../src/fs/storage.js";
import { deleteRange } from "../src/fs/context.js";
import { KEY_BYTES, type Key } from "../src/format/key.js";
import type { BtreeItem } from "../src/btree/btree.js";

class FakeForest implements ItemSource {
  readonly items = new Map<string, BtreeItem>();
  constructor(private readonly piece: number) {}
  async readRange(start: Key, end: Key, limit: number) {
    const hit = [...this.items.values()]
      .filter((it) => Buffer.compare(it.key, start) >= 0 && Buffer.compare(it.key, end) <= 0)
      .sort((a, b) => Buffer.compare(a.key, b.key));
    const n = Math.min(limit, this.piece);
    if (hit.length <= n) return { items: hit, end };
    const cut = hit.slice(0, n);
    return { items: cut, end: cut[n - 1]!.key };
  }
}

const byte = fc.oneof(fc.constantFrom(0x00, 0xff), fc.integer({ min: 0, max: 3 }));
const keyArb = fc.array(byte, { minLength: KEY_BYTES, maxLength: KEY_BYTES }).map((a) => Buffer.from(a));
const idx = fc.nat(15);
const op = fc.oneof(
  fc.record({ t: fc.constant("set" as const), k: idx, v: fc.uint8Array({ maxLength: 4 }) }),
  fc.record({ t: fc.constant("del" as const), k: idx }),
  fc.record({ t: fc.constant("lookup" as const), k: idx }),
  fc.record({ t: fc.constant("next" as const), a: idx, b: idx }),
  fc.record({ t: fc.constant("prev" as const), a: idx, b: idx }),
  fc.record({ t: fc.constant("scan" as const), a: idx, b: idx, stop: fc.option(fc.nat(4), { nil: undefined }) }),
  fc.record({ t: fc.constant("delrange" as const), a: idx, b: idx, batch: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ t: fc.constant("commit" as const) }),
  fc.record({ t: fc.constant("invalidate" as const) }),
);

const hex = (k: Key) => k.toString("hex");

/** prefix rules that index many of the random keys: nextNow's answers from the index are checked with the rest */
const byFirstByte: PrefixRule = () => 1;
const byTwoBytes: PrefixRule = (ks) => (ks.charCodeAt(0) <= 3 ? 2 : 0);

test("item cache reads what a map model holds, across commits, evictions and invalidation", async () => {
  let nowAnswered = 0;
  let scanWhole = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(keyArb, { minLength: 2, maxLength: 16, selector: hex }),
      fc.array(op, { maxLength: 60 }),
      fc.constantFrom(1, 2, 512),
      fc.constantFrom(600, 1 << 20),
      fc.constantFrom<PrefixRule | undefined>(undefined, byFirstByte, byTwoBytes),
      async (keys, ops, piece, limitBytes, prefixRule) => {
        const forest = new FakeForest(piece);
        const trans = { seq: 1, held: () => true };
        const cache = new ItemCache(forest, trans, limitBytes, prefixRule);
        const model = new Map<string, Buffer>();
        const K = (i: number) => keys[i % keys.length]!;
        const sorted = () => [...model.keys()].sort();
        const commit = () => {
          const dirty = cache.dirtyItems();
          for (let i = 1; i < dirty.length; i++) assert.ok(Buffer.compare(dirty[i - 1]!.key, dirty[i]!.key) < 0, "dirty items out of order");
          for (const it of dirty) {
            forest.items.set(hex(it.key), {
              key: Buffer.from(it.key), value: Buffer.from(it.value), seq: it.seq, flags: it.flags,
            });
          }
          cache.markClean();
          trans.seq++;
          assert.equal(cache.dirtyCount, 0);
        };
        for (const o of ops) {
          if (o.t === "set") {
            const v = Buffer.from(o.v);
            const kb = Buffer.from(K(o.k));
            cache.set(kb, v);
            // a caller may reuse its key buffer: the cache must have kept the key, not the buffer
            kb.fill(0xa5);
            model.set(hex(K(o.k)), v);
          } else if (o.t === "del") {
            cache.delete(Buffer.from(K(o.k)));
            model.delete(hex(K(o.k)));
          } else if (o.t === "lookup") {
            const want = model.get(hex(K(o.k))) && hex(model.get(hex(K(o.k)))!);
            // at once from memory, or NOT_CACHED; never a different answer
            const now = cache.lookupNow(K(o.k));
            if (now !== NOT_CACHED) {
              assert.deepEqual(now && hex(now), want);
              nowAnswered++;
            }
            const got = await cache.lookup(K(o.k));
            assert.deepEqual(got && hex(got), want);
            // what lookup() just read (or knew) is in memory now
            assert.notEqual(cache.lookupNow(K(o.k)), NOT_CACHED);
          } else if (o.t === "next" || o.t === "prev") {
            let [a, b] = [K(o.a), K(o.b)];
            if (Buffer.compare(a, b) > 0) [a, b] = [b, a];
            const inRange = sorted().filter((h) => h >= hex(a) && h <= hex(b));
            const want = o.t === "next" ? inRange[0] : inRange[inRange.length - 1];
            if (o.t === "next") {
              const now = cache.nextNow(a, b);
              if (now !== NOT_CACHED) {
                assert.equal(now && hex(now.key), want);
                nowAnswered++;
              }
            }
            const got = o.t === "next" ? await cache.next(a, b) : await cache.prev(b, a);
            assert.equal(got && hex(got.key), want);
            if (got) assert.ok(got.value.equals(model.get(want!)!));
          } else if (o.t === "scan") {
            // scanNow visits, in order, exactly the model's items up to where it stops or needs a read
            let [a, b] = [K(o.a), K(o.b)];
            if (Buffer.compare(a, b) > 0) [a, b] = [b, a];
            const inRange = sorted().filter((h) => h >= hex(a) && h <= hex(b));
            const seen: string[] = [];
            const from = cache.scanNow(a, b, (kv) => {
              assert.ok(kv.value.equals(model.get(hex(kv.key))!));
              seen.push(hex(kv.key));
              return o.stop === undefined || seen.length <= o.stop;
            });
            let want = from === undefined ? inRange : inRange.filter((h) => h < hex(from));
            if (o.stop !== undefined) want = want.slice(0, o.stop + 1);
            assert.deepEqual(seen, want);
            if (from !== undefined) {
              assert.ok(Buffer.compare(from, a) >= 0 && Buffer.compare(from, b) <= 0, "a read is needed inside the range");
              // stopped early only by visit, never by a read past an item it skipped
              assert.ok(o.stop === undefined || seen.length <= o.stop, "went on after visit said stop");
            } else if (o.stop === undefined || inRange.length <= o.stop) {
              scanWhole++;
            }
          } else if (o.t === "delrange") {
            // every item in range goes, cached or only in the forest, however many batches it takes
            let [a, b] = [K(o.a), K(o.b)];
            if (Buffer.compare(a, b) > 0) [a, b] = [b, a];
            const inRange = sorted().filter((h) => h >= hex(a) && h <= hex(b));
            assert.equal(await deleteRange(cache, a, b, o.batch), inRange.length);
            for (const h of inRange) model.delete(h);
          } else if (o.t === "commit") {
            commit();
          } else {
            cache.invalidateAll();
          }
          cache.cachedItems(); // asserts that the cache's sorted and hashed maps hold as many items
          cache.checkPrefixIndex();
        }
        commit();
        const fresh = new ItemCache(forest, trans);
        for (const k of keys) assert.equal(fresh.lookupNow(k), NOT_CACHED, "a new cache knows nothing without a read");
        for (const k of keys) {
          const got = await fresh.lookup(k);
          assert.equal(got && hex(got), model.get(hex(k)) && hex(model.get(hex(k))!));
        }
      },
    ),
    { numRuns: 400 },
  );
  assert.ok(nowAnswered > 20, `lookupNow/nextNow answered ${nowAnswered} times`);
  assert.ok(scanWhole > 20, `scanNow walked a whole range from memory ${scanWhole} times`);

});

test("cached ranges merge what overlaps or touches, as a model of covered keys says", () => {
  // keys 0..39 differ in their last byte only, so key i + 1 follows key i with nothing between
  const key = (i: number) => {
    const k = Buffer.alloc(KEY_BYTES);
    k[KEY_BYTES - 1] = i;
    return k;
  };
  const span = fc.tuple(fc.nat(39), fc.nat(39)).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
  fc.assert(
    fc.property(fc.array(span, { minLength: 1, maxLength: 25 }), (spans) => {
      const cache = new ItemCache(new FakeForest(512), { seq: 1, held: () => true });
      const covered = new Set<number>();
      for (const [a, b] of spans) {
        cache.markEmpty(key(a), key(b));
        for (let i = a; i <= b; i++) covered.add(i);
        // one range per run of covered keys: touching ranges merged, none left overlapping
        let runs = 0;
        for (let i = 0; i < 40; i++) if (covered.has(i) && !covered.has(i - 1)) runs++;
        assert.equal(cache.cachedRanges(), runs);
        for (let i = 0; i < 40; i++) assert.equal(cache.lookupNow(key(i)), covered.has(i) ? undefined : NOT_CACHED, `key ${i}`);
      }
    }),
  );
});

test("committed deletions stay as tombstones until a walk steps over them", async () => {
  const forest = new FakeForest(512);
  const trans = { seq: 1, held: () => true };
  const cache = new ItemCache(forest, trans);
  const key = (i: number) => {
    const k = Buffer.alloc(KEY_BYTES);
    k.writeUInt32BE(i, 20);
    return k;
  };
  const first = key(0);
  const last = Buffer.alloc(KEY_BYTES, 0xff);
  cache.markEmpty(first, last);
  for (let i = 0; i < 100; i++) cache.set(key(i), Buffer.from([i]));
  cache.markClean();
  for (let i = 0; i < 100; i++) cache.delete(key(i));
  assert.equal(cache.dirtyCount, 100);
  cache.markClean();
  // the deletions are known without a forest read, and deleting again dirties nothing
  assert.equal(cache.cachedItems(), 100);
  assert.equal(await cache.lookup(key(7)), undefined);
  cache.delete(key(7));
  assert.equal(cache.dirtyCount, 0);
  // a walk over them finds nothing and takes them out
  assert.equal(await cache.next(first, last), undefined);
  assert.equal(cache.cachedItems(), 0);
  cache.set(key(5), Buffer.from([5]));
  assert.deepEqual((await cache.prev(last, first))?.key, key(5));
});

test("deleteRange deletes every item in range, cached, dirty or only in the forest, batch after batch", async () => {
  const key = (i: number) => {
    const k = Buffer.alloc(KEY_BYTES);
    k.writeUInt32BE(i, 20);
    return k;
  };
  let batched = 0;
  await fc.assert(
    fc.asyncProperty(
      // per item: 0 only in the forest, 1 committed and cached, 2 dirty
      fc.array(fc.constantFrom(0, 1, 2), { maxLength: 40 }),
      fc.nat(45),
      fc.nat(45),
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom(1, 3, 512),
      async (states, x, y, batch, piece) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        const forest = new FakeForest(piece);
        const trans = { seq: 1, held: () => true };
        const cache = new ItemCache(forest, trans);
        const put = (i: number) => forest.items.set(hex(key(i)), { key: key(i), value: Buffer.from([i]), seq: 1, flags: 0 });
        states.forEach((s, i) => s !== 2 && put(i));
        // read back: clean and cached (a read may bring neighbours of state 0 along)
        for (let i = 0; i < states.length; i++) if (states[i] === 1) assert.ok(await cache.lookup(key(i)));
        states.forEach((s, i) => s === 2 && cache.set(key(i), Buffer.from([i])));
        const want = states.filter((_, i) => i >= lo && i <= hi).length;
        assert.equal(await deleteRange(cache, key(lo), key(hi), batch), want);
        if (want > batch) batched++;
        for (let i = 0; i < Math.max(states.length, hi + 1); i++) {
          const got = await cache.lookup(key(i));
          const there = i < states.length && (i < lo || i > hi);
          assert.equal(got !== undefined, there, `item ${i} after deleting [${lo}, ${hi}]`);
        }
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(batched > 15, `deleteRange needed more than one batch ${batched} times`);
});

test("nextNow answers a range inside one prefix from the prefix index as the sorted walk does", async () => {
  // indexed keys start with 7 and share a prefix by their next byte; keys starting with 8 are not indexed
  const rule: PrefixRule = (ks) => (ks.charCodeAt(0) === 7 ? 2 : 0);
  const key = (indexed: boolean, p: number, s: number) => {
    const k = Buffer.alloc(KEY_BYTES);
    k[0] = indexed ? 7 : 8;
    k[1] = p;
    k[20] = s;
    return k;
  };
  const before = counters.get("item_next_by_prefix");
  const op = fc.oneof(
    fc.record({ t: fc.constant("set" as const), p: fc.nat(2), s: fc.nat(7), v: fc.nat(255) }),
    fc.record({ t: fc.constant("del" as const), p: fc.nat(2), s: fc.nat(7) }),
    fc.record({ t: fc.constant("next" as const), p: fc.nat(2), a: fc.nat(7), b: fc.nat(7) }),
    fc.record({ t: fc.constant("commit" as const) }),
    fc.record({ t: fc.constant("invalidate" as const) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 50 }), fc.boolean(), async (ops, indexed) => {
      const forest = new FakeForest(512);
      const trans = { seq: 1, held: () => true };
      const cache = new ItemCache(forest, trans, 1 << 20, rule);
      // the forest starts empty: all of it is known (until invalidate; next() reads ranges back in)
      cache.markEmpty(key(indexed, 0, 0), key(indexed, 255, 255));
      const model = new Map<string, number>();
      for (const o of ops) {
        if (o.t === "set") {
          cache.set(key(indexed, o.p, o.s), Buffer.from([o.v]));
          model.set(hex(key(indexed, o.p, o.s)), o.v);
        } else if (o.t === "del") {
          cache.delete(key(indexed, o.p, o.s));
          model.delete(hex(key(indexed, o.p, o.s)));
        } else if (o.t === "next") {
          const [lo, hi] = o.a <= o.b ? [o.a, o.b] : [o.b, o.a];
          let want: number | undefined;
          for (let s = hi; s >= lo; s--) if (model.has(hex(key(indexed, o.p, s)))) want = s;
          const now = cache.nextNow(key(indexed, o.p, lo), key(indexed, o.p, hi));
          if (now !== NOT_CACHED) {
            assert.equal(now && now.key[20], want);
            if (now) assert.equal(now.value[0], model.get(hex(now.key)));
          }
          const got = await cache.next(key(indexed, o.p, lo), key(indexed, o.p, hi));
          assert.equal(got && got.key[20], want);
        } else if (o.t === "commit") {
          for (const it of cache.dirtyItems()) {
            forest.items.set(hex(it.key), {
              key: Buffer.from(it.key), value: Buffer.from(it.value), seq: it.seq, flags: it.flags,
            });
          }
          cache.markClean();
          trans.seq++;
        } else {
          cache.invalidateAll();
        }
        cache.checkPrefixIndex();
      }
    }),
    { numRuns: 300 },
  );
  const answered = counters.get("item_next_by_prefix") - before;
  assert.ok(answered > 30, `nextNow answered from the prefix index ${answered} times`);
});

test("a range of one prefix that is only partly cached is not answered from the prefix index", async () => {
  const rule: PrefixRule = (ks) => (ks.charCodeAt(0) === 7 ? 2 : 0);
  const key = (s: number) => {
    const k = Buffer.alloc(KEY_BYTES);
    k[0] = 7;
    k[1] = 1;
    k[20] = s;
    return k;
  };
  const forest = new FakeForest(512);
  // another mount's item, committed: in the forest only
  forest.items.set(hex(key(5)), { key: key(5), value: Buffer.from([5]), seq: 1, flags: 0 });
  const cache = new ItemCache(forest, { seq: 2, held: () => true }, 1 << 20, rule);
  assert.equal(await cache.next(key(0), key(2)), undefined);
  // [0, 2] is cached and holds nothing; 5 is past the cached range's end
  const now = cache.nextNow(key(1), key(7));
  assert.ok(now === NOT_CACHED || now?.key[20] === 5, "answered past the cached range");
  assert.equal((await cache.next(key(1), key(7)))?.key[20], 5);
  // now [0, 7] is cached: the index answers, and finds it
  assert.equal((cache.nextNow(key(1), key(7)) as { key: Buffer }).key[20], 5);
});
