/*
 * findEntry's memory of the last name it found absent (fs/dirent.ts):
 * good only while the items have not changed (FsItems.changes).  Checked
 * over the real item cache and a fake forest: the memory saves the walk
 * it is for, never hides an entry that is there (added here, added by
 * another mount and read in after the cache forgot, or named by a buffer
 * the caller has since written over), and against a model set of names
 * with forced hash collisions, findEntry always says what the model says.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ItemCache, type ItemSource } from "../src/item/cache.js";
import { addEntry, findEntry, removeEntry } from "../src/fs/dirent.js";
import type { FsCtx } from "../src/fs/context.js";
import type { FsStorage } from "../src/fs/storage.js";
import { newInodeVal } from "../src/fs/inode.js";
import { DT } from "../src/fs/types.js";
import { ITEM_FLAG_DELETION, ZONE } from "../src/format/constants.js";
import { encodeDirent, nameHash, direntKey } from "../src/format/fs_items.js";
import { makeKey, type Key } from "../src/format/key.js";
import type { BtreeItem } from "../src/btree/btree.js";

const DIR = 100;

/** a forest of items that another mount may have written */
class Forest implements ItemSource {
  readonly items = new Map<string, BtreeItem>();
  async readRange(start: Key, end: Key) {
    const hit = [...this.items.values()]
      .filter((it) => Buffer.compare(it.key, start) >= 0 && Buffer.compare(it.key, end) <= 0)
      .sort((a, b) => Buffer.compare(a.key, b.key));
    return { items: hit, end };
  }
}

function setup(hash: (name: Buffer) => number = nameHash) {
  const forest = new Forest();
  const cache = new ItemCache(forest, { seq: 1, held: () => true });
  // the whole fs zone is known: nothing there but what is set
  cache.markEmpty(makeKey(ZONE.fs), makeKey(ZONE.fs + 1));
  let walks = 0;
  const nextNow = cache.nextNow.bind(cache);
  cache.nextNow = (first, last) => {
    walks++;
    return nextNow(first, last);
  };
  const ctx: FsCtx = { st: {} as FsStorage, items: cache, hash };
  const dirVal = newInodeVal(0o40755, 0, 0, 0, { sec: 1, nsec: 0 });
  return { forest, cache, ctx, dirVal, walks: () => walks };
}

const name = (s: string) => Buffer.from(s);

test("a name found absent is not walked for again until the items change", async () => {
  const { ctx, dirVal, walks } = setup();
  assert.equal(await findEntry(ctx, DIR, name("a")), undefined);
  assert.equal(walks(), 1);
  // the CREATE after the kernel's negative LOOKUP: no walk
  assert.equal(await findEntry(ctx, DIR, name("a")), undefined);
  assert.equal(walks(), 1);
  // another name, another directory: walked
  assert.equal(await findEntry(ctx, DIR, name("b")), undefined);
  assert.equal(await findEntry(ctx, DIR + 1, name("b")), undefined);
  assert.equal(walks(), 3);
  // the name is added: found
  addEntry(ctx, DIR, dirVal, name("b"), 7, DT.REG);
  assert.equal((await findEntry(ctx, DIR + 1, name("b"))), undefined);
  assert.equal((await findEntry(ctx, DIR, name("b")))?.ino, 7);
  // the name just found absent is added: found, not remembered as absent
  assert.equal(await findEntry(ctx, DIR, name("c")), undefined);
  addEntry(ctx, DIR, dirVal, name("c"), 8, DT.REG);
  assert.equal((await findEntry(ctx, DIR, name("c")))?.ino, 8);
});

test("a caller's name buffer written over after the lookup does not answer for its new bytes", async () => {
  const { ctx, dirVal } = setup();
  addEntry(ctx, DIR, dirVal, name("bbbb"), 9, DT.REG);
  const buf = name("aaaa");
  assert.equal(await findEntry(ctx, DIR, buf), undefined);
  // a FUSE request's slot holds the next request's bytes now
  buf.write("bbbb");
  assert.equal((await findEntry(ctx, DIR, buf))?.ino, 9);
});

test("an entry another mount added is found once the cache has forgotten what it held", async () => {
  const { forest, cache, ctx } = setup();
  assert.equal(await findEntry(ctx, DIR, name("x")), undefined);
  const h = nameHash(name("x"));
  const key = direntKey(DIR, h, 5);
  forest.items.set(key.toString("hex"), { key, value: encodeDirent({ ino: 11, hash: h, pos: 5, type: DT.REG, name: name("x") }), seq: 2, flags: 0 });
  // the lock was lost: the cache drops every clean item and range
  cache.invalidateAll();
  assert.equal((await findEntry(ctx, DIR, name("x")))?.ino, 11);
});

test("findEntry answers as a model set of names does, across adds, removes and cache invalidation, with colliding hashes", async () => {
  const names = ["a", "b", "c", "d", "e"];
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ t: fc.constant("find" as const), n: fc.nat(4), dir: fc.constantFrom(DIR, DIR + 1) }),
          fc.record({ t: fc.constant("add" as const), n: fc.nat(4) }),
          fc.record({ t: fc.constant("remove" as const), n: fc.nat(4) }),
          fc.record({ t: fc.constant("forget" as const) }),
        ),
        { maxLength: 40 },
      ),
      fc.boolean(),
      async (ops, collide) => {
        const { cache, ctx, dirVal, forest } = setup(collide ? () => 7 : nameHash);
        const model = new Map<string, number>();
        let ino = 1000;
        for (const o of ops) {
          if (o.t === "find") {
            const d = await findEntry(ctx, o.dir, name(names[o.n]!));
            assert.equal(d?.ino, o.dir === DIR ? model.get(names[o.n]!) : undefined);
          } else if (o.t === "add") {
            if (model.has(names[o.n]!)) continue;
            addEntry(ctx, DIR, dirVal, name(names[o.n]!), ++ino, DT.REG);
            model.set(names[o.n]!, ino);
          } else if (o.t === "remove") {
            const d = await findEntry(ctx, DIR, name(names[o.n]!));
            if (!d) continue;
            removeEntry(ctx, DIR, dirVal, d);
            model.delete(names[o.n]!);
          } else {
            // commit what is dirty to the forest, then forget: what was cached is read again
            for (const it of cache.dirtyItems()) {
              const hex = it.key.toString("hex");
              if (!(it.flags & ITEM_FLAG_DELETION)) forest.items.set(hex, { key: it.key, value: it.value, seq: it.seq, flags: 0 });
              else forest.items.delete(hex);
            }
            cache.markClean();
            cache.invalidateAll();
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
