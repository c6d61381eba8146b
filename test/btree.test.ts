import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemBlockDevice } from "../src/block/sim_device.js";
import { BlockWriter, MetaStore, type MetaAllocator } from "../src/block/store.js";
import {
  btreeApplySorted, btreeLookup, btreeModify, btreeRange, btreePrev, btreeVisitBlocks, btreeFreeAll, btreeSetSorted, type BtreeItem,
  type SortedDecision,
} from "../src/btree/btree.js";
import { makeKey, KEY_MIN, KEY_MAX, type Key } from "../src/format/key.js";
import { EMPTY_ROOT, type BtreeRoot } from "../src/format/structs.js";
import { NODE_CAPACITY, PARENT_ENTRY_BYTES, leafEntryBytes, newNode, nodeCodec, type LeafVal } from "../src/btree/node.js";
import { BTREE_MAX_VAL_LEN, BLOCK_LG_SIZE } from "../src/format/constants.js";
import { isFsError } from "../src/util/errors.js";

class TestAlloc implements MetaAllocator {
  next = 10;
  freed = new Set<number>();
  live = new Set<number>();
  async alloc() {
    const b = this.next++;
    this.live.add(b);
    return b;
  }
  free(b: number) {
    assert.ok(!this.freed.has(b), `double free ${b}`);
    this.freed.add(b);
    this.live.delete(b);
  }
}

const FSID = 0x1234n;
const k = (n: number) => makeKey(16, n, 4, n * 7, 0, 0);

function setup() {
  const dev = new MemBlockDevice("meta", 20000 * BLOCK_LG_SIZE);
  const store = new MetaStore(dev, FSID, 1 << 30);
  const alloc = new TestAlloc();
  return { dev, store, alloc };
}

async function checkTree(store: MetaStore, root: BtreeRoot, model: Map<number, Buffer>) {
  const { items } = await btreeRange(store, root, KEY_MIN, KEY_MAX);
  const want = [...model.keys()].sort((a, b) => a - b);
  assert.deepEqual(items.map((i) => i.key), want.map(k));
  for (const it of items) assert.ok(it.value.equals(model.get(it.key.readUInt32BE(5))!));
  // structure: every non-root node at least about a third full is not promised for tiny trees; check key bounds and fill of leaves when many
  let blocks = 0;
  await btreeVisitBlocks(store, root, (_ref, n) => {
    blocks++;
    assert.ok(n.bytes <= NODE_CAPACITY);
    // the node's byte count is kept up to date by every change, not recounted: check it against its entries
    const counted = n.level === 0 ? n.vals.reduce((t, v) => t + leafEntryBytes(v), 0) : n.keys.length * PARENT_ENTRY_BYTES;
    assert.equal(n.bytes, counted);
  });
  return blocks;
}

test("btree matches a map model through random inserts, updates and deletes across commits", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ del: fc.boolean(), n: fc.integer({ min: 0, max: 3000 }), len: fc.integer({ min: 0, max: BTREE_MAX_VAL_LEN }) }),
        { minLength: 1, maxLength: 600, size: "max" },
      ),
      async (ops) => {
        const { store, alloc } = setup();
        let root: BtreeRoot = { ...EMPTY_ROOT };
        const model = new Map<number, Buffer>();
        let seq = 1;
        let w = new BlockWriter(store, alloc, seq);
        for (const [i, op] of ops.entries()) {
          if (op.del) {
            const r = await btreeModify(w, root, k(op.n), { op: "delete" });
            assert.equal(r.old !== undefined, model.has(op.n));
            root = r.root;
            model.delete(op.n);
          } else {
            const v = Buffer.alloc(op.len, op.n & 0xff);
            root = (await btreeModify(w, root, k(op.n), { op: "set", val: { seq, flags: 0, value: v } })).root;
            model.set(op.n, v);
          }
          if (i % 97 === 96) {
            await w.writeAll();
            w = new BlockWriter(store, alloc, ++seq);
          }
        }
        await w.writeAll();
        await checkTree(store, root, model);
        // reread everything from the device through a cold cache
        const cold = new MetaStore(store.dev, FSID, 4 << 20);
        await checkTree(cold, root, model);
        for (const n of [0, 5, 1500, 3000]) {
          const got = await btreeLookup(cold, root, k(n));
          assert.equal(got?.value.equals(model.get(n)!) ?? false, model.has(n));
        }
      },
    ),
    { numRuns: 40, seed: 42 },
  );
});

test("btreeSetSorted: batches of sorted items give the tree a map model says, across commits and with deletes between", async () => {
  await fc.assert(
    fc.asyncProperty(
      // small values too: leaves then take replacements without splitting
      fc.constantFrom(64, BTREE_MAX_VAL_LEN),
      fc.array(
        fc.record({
          batch: fc.uniqueArray(fc.record({ n: fc.integer({ min: 0, max: 4000 }), len: fc.integer({ min: 0, max: BTREE_MAX_VAL_LEN }) }), {
            selector: (r) => r.n,
            maxLength: 700,
          }),
          dels: fc.array(fc.integer({ min: 0, max: 4000 }), { maxLength: 50 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      async (maxLen, rounds) => {
        const { store, alloc } = setup();
        let root: BtreeRoot = { ...EMPTY_ROOT };
        const model = new Map<number, Buffer>();
        let seq = 1;
        for (const r of rounds) {
          const w = new BlockWriter(store, alloc, seq);
          const items: BtreeItem[] = [...r.batch]
            .sort((a, b) => a.n - b.n)
            .map((it) => ({ key: k(it.n), seq, flags: it.n & 1, value: Buffer.alloc(it.len % (maxLen + 1), (it.n + seq) & 0xff) }));
          root = await btreeSetSorted(w, root, items);
          for (const it of items) model.set(it.key.readUInt32BE(5), it.value);
          for (const n of r.dels) {
            root = (await btreeModify(w, root, k(n), { op: "delete" })).root;
            model.delete(n);
          }
          await w.writeAll();
          seq++;
        }
        await checkTree(store, root, model);
        const cold = new MetaStore(store.dev, FSID, 4 << 20);
        await checkTree(cold, root, model);
        // seq and flags travel with each item
        const { items } = await btreeRange(cold, root, KEY_MIN, KEY_MAX);
        for (const it of items) assert.equal(it.flags, it.key.readUInt32BE(5) & 1);
      },
    ),
    { numRuns: 40, seed: 7 },
  );
});

/** every leaf of the tree at least about a third full, more than minLeaves of them, and every live block reachable (nothing leaked); returns the reachable blocks */
async function leavesFullNothingLeaked(store: MetaStore, alloc: TestAlloc, root: BtreeRoot, minLeaves: number): Promise<Set<number>> {
  const reachable = new Set<number>();
  let leaves = 0;
  await btreeVisitBlocks(store, root, (ref, n) => {
    reachable.add(ref.blkno);
    if (n.level === 0) {
      leaves++;
      assert.ok(n.bytes >= NODE_CAPACITY / 3 - 200, `leaf ${ref.blkno} only ${n.bytes} bytes`);
    }
  });
  assert.ok(leaves > minLeaves, `${leaves} leaves`);
  assert.deepEqual([...alloc.live].sort(), [...reachable].sort());
  return reachable;
}

/** a change of btreeApplySorted's tests: what to do with key n, decided against the tree's item */
interface Change {
  key: Buffer;
  n: number;
  act: "set" | "del" | "leave" | "ifAbsent" | "ifNewer";
  seq: number;
  len: number;
}
/** the decision for a change, pure: the same for the tree's old item and the model's */
function decideChange(c: Change, old: { seq: number } | undefined): SortedDecision {
  const val = (): LeafVal => ({ seq: c.seq, flags: c.n & 1, value: Buffer.alloc(c.len, (c.n + c.seq) & 0xff) });
  switch (c.act) {
    case "set":
      return val();
    case "del":
      return null;
    case "leave":
      return undefined;
    case "ifAbsent":
      return old ? undefined : val();
    case "ifNewer":
      // the log merge's rule: an item newer than the change stays
      return old && old.seq > c.seq ? undefined : val();
  }
}

test("btreeApplySorted: each key decided against the tree's item gives the tree a map model says, across commits", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(64, BTREE_MAX_VAL_LEN),
      fc.array(
        fc.uniqueArray(
          fc.record({
            n: fc.integer({ min: 0, max: 3000 }),
            act: fc.constantFrom("set", "del", "leave", "ifAbsent", "ifNewer"),
            seq: fc.integer({ min: 1, max: 20 }),
            len: fc.integer({ min: 0, max: BTREE_MAX_VAL_LEN }),
          }),
          { selector: (r) => r.n, maxLength: 900 },
        ),
        { minLength: 1, maxLength: 6 },
      ),
      // a small key space packs a batch's sets into few leaves: runs that fill a leaf up
      fc.constantFrom(250, 3001),
      async (maxLen, rounds, space) => {
        const { store, alloc } = setup();
        let root: BtreeRoot = { ...EMPTY_ROOT };
        const model = new Map<number, { value: Buffer; seq: number }>();
        let wseq = 1;
        for (const r of rounds) {
          const w = new BlockWriter(store, alloc, wseq++);
          const byKey = new Map(r.map((c) => [c.n % space, { ...c, n: c.n % space }]));
          const changes: Change[] = [...byKey.values()]
            .sort((a, b) => a.n - b.n)
            .map((c) => ({ ...c, key: k(c.n), len: c.len % (maxLen + 1) }) as Change);
          root = await btreeApplySorted(w, root, changes, decideChange);
          for (const c of changes) {
            const d = decideChange(c, model.get(c.n));
            if (d === null) model.delete(c.n);
            else if (d) model.set(c.n, { value: d.value, seq: d.seq });
          }
          await w.writeAll();
        }
        const values = new Map([...model].map(([n, v]) => [n, v.value]));
        await checkTree(store, root, values);
        const cold = new MetaStore(store.dev, FSID, 4 << 20);
        await checkTree(cold, root, values);
        const { items } = await btreeRange(cold, root, KEY_MIN, KEY_MAX);
        for (const it of items) {
          const n = it.key.readUInt32BE(5);
          assert.equal(it.seq, model.get(n)!.seq);
          assert.equal(it.flags, n & 1);
        }
      },
    ),
    { numRuns: 40, seed: 11 },
  );
});

test("btreeApplySorted: a run of sets larger than a leaf splits, into an empty tree and into a full one", async () => {
  const { store, alloc } = setup();
  const w = new BlockWriter(store, alloc, 1);
  const big = (n: number) => ({ seq: 1, flags: 0, value: Buffer.alloc(BTREE_MAX_VAL_LEN, n & 0xff) });
  const evens = Array.from({ length: 300 }, (_, i) => ({ key: k(2 * i), n: 2 * i }));
  let root = await btreeApplySorted(w, { ...EMPTY_ROOT }, evens, (c) => big(c.n));
  const odds = evens.map((c) => ({ key: k(c.n + 1), n: c.n + 1 }));
  root = await btreeApplySorted(w, root, odds, (c) => big(c.n));
  await w.writeAll();
  const model = new Map([...evens, ...odds].map((c) => [c.n, big(c.n).value]));
  await checkTree(store, root, model);
  assert.ok(root.height >= 2);
});

test("btreeApplySorted: deleting most keys in sorted runs keeps leaves a third full and leaks no block", async () => {
  const { store, alloc } = setup();
  let seq = 1;
  let w = new BlockWriter(store, alloc, seq);
  const N = 20000;
  const all = Array.from({ length: N }, (_, n) => ({ key: k(n), n }));
  let root = await btreeApplySorted(w, { ...EMPTY_ROOT }, all, () => ({ seq, flags: 0, value: Buffer.alloc(100, 1) }));
  await w.writeAll();
  w = new BlockWriter(store, alloc, ++seq);
  // long runs of deletions empty whole leaves; every fifth key stays
  root = await btreeApplySorted(w, root, all, (c) => (c.n % 5 === 0 ? undefined : null));
  await w.writeAll();
  const { items } = await btreeRange(store, root, KEY_MIN, KEY_MAX);
  assert.deepEqual(items.map((i) => i.key.readUInt32BE(5)), all.filter((c) => c.n % 5 === 0).map((c) => c.n));
  await leavesFullNothingLeaked(store, alloc, root, 3);
  // and all of them: the tree empties
  w = new BlockWriter(store, alloc, ++seq);
  root = await btreeApplySorted(w, root, all, () => null);
  await w.writeAll();
  assert.deepEqual(root, EMPTY_ROOT);
  assert.equal(alloc.live.size, 0);
});

test("btree keeps blocks at least a third full and frees every replaced block", async () => {
  const { store, alloc } = setup();
  let root: BtreeRoot = { ...EMPTY_ROOT };
  let seq = 1;
  let w = new BlockWriter(store, alloc, seq);
  const N = 20000;
  for (let n = 0; n < N; n++) {
    root = (await btreeModify(w, root, k((n * 7919) % N), { op: "set", val: { seq, flags: 0, value: Buffer.alloc(100, 1) } })).root;
    if (n % 3000 === 2999) {
      await w.writeAll();
      w = new BlockWriter(store, alloc, ++seq);
    }
  }
  for (let n = 0; n < N; n += 3) root = (await btreeModify(w, root, k(n), { op: "delete" })).root;
  await w.writeAll();
  assert.ok(root.height >= 2 && root.height <= 4, `height ${root.height}`);
  const reachable = await leavesFullNothingLeaked(store, alloc, root, 10);
  w = new BlockWriter(store, alloc, ++seq);
  assert.equal(await btreeFreeAll(w, root), reachable.size);
  assert.equal(alloc.live.size, 0);
});

test("btree prev finds the greatest key at or below", async () => {
  const { store, alloc } = setup();
  let root: BtreeRoot = { ...EMPTY_ROOT };
  const w = new BlockWriter(store, alloc, 1);
  for (let n = 0; n < 5000; n += 10) root = (await btreeModify(w, root, k(n), { op: "set", val: { seq: 1, flags: 0, value: Buffer.alloc(200) } })).root;
  for (const q of [0, 5, 10, 11, 4999, 2345]) {
    const got = await btreePrev(store, root, k(q), KEY_MIN);
    assert.deepEqual(got?.key, k(Math.floor(q / 10) * 10));
  }
  assert.equal(await btreePrev(store, root, k(15), k(16)), undefined);
});

test("btree refuses values over the maximum and reports a corrupt block by number", async () => {
  const { store, alloc, dev } = setup();
  const w = new BlockWriter(store, alloc, 1);
  await assert.rejects(
    btreeModify(w, { ...EMPTY_ROOT }, k(1), { op: "set", val: { seq: 1, flags: 0, value: Buffer.alloc(BTREE_MAX_VAL_LEN + 1) } }),
    (e) => isFsError(e, "EINVAL"),
  );
  let root: BtreeRoot = { ...EMPTY_ROOT };
  root = (await btreeModify(w, root, k(1), { op: "set", val: { seq: 1, flags: 0, value: Buffer.from("x") } })).root;
  await w.writeAll();
  dev.flipBit(root.ref.blkno * BLOCK_LG_SIZE + 100, 3);
  const cold = new MetaStore(dev, FSID);
  await assert.rejects(btreeLookup(cold, root, k(1)), (e: unknown) => isFsError(e, "EIO") && (e as Error).message.includes(`block ${root.ref.blkno}`));
});

// keep the import of Key used for type-checking helpers
export type _K = Key;

test("btree block count from parents equals a full walk", async () => {
  const { store, alloc } = setup();
  let root: BtreeRoot = { ...EMPTY_ROOT };
  const { btreeCountBlocks } = await import("../src/btree/btree.js");
  assert.equal(await btreeCountBlocks(store, root), 0);
  const w = new BlockWriter(store, alloc, 1);
  for (let n = 0; n < 30000; n++) {
    root = (await btreeModify(w, root, k(n), { op: "set", val: { seq: 1, flags: 0, value: Buffer.alloc(64) } })).root;
    if (n === 0 || n === 5000 || n === 29999) {
      let walked = 0;
      await btreeVisitBlocks(store, root, () => {
        walked++;
      });
      assert.equal(await btreeCountBlocks(store, root), walked);
    }
  }
  assert.ok(root.height >= 2);
});

test("a leaf written again says what its entries say, whether they are views of the block it was read from or not", () => {
  const entry = fc.record({ n: fc.integer({ min: 0, max: 5000 }), len: fc.integer({ min: 0, max: 300 }), seq: fc.integer({ min: 0, max: 2 ** 40 }), flags: fc.integer({ min: 0, max: 3 }) });
  const change = fc.record({
    at: fc.nat(),
    // keep: the parsed entry; seq/flags: a new LeafVal over the same value view; value: a new value; drop; insert before
    how: fc.constantFrom("keep", "seq", "flags", "value", "drop", "insert"),
  });
  fc.assert(
    fc.property(fc.uniqueArray(entry, { selector: (e) => e.n, minLength: 1, maxLength: 150 }), fc.array(change, { maxLength: 40 }), (raw, changes) => {
      const sorted = [...raw].sort((a, b) => a.n - b.n);
      const first = newNode(0);
      for (const e of sorted) {
        first.keys.push(k(e.n * 2 + 2)); // even and at least 2: room for an odd key before each, all above 0
        first.vals.push({ seq: e.seq, flags: e.flags, value: Buffer.alloc(e.len, e.n & 0xff) });
      }
      const blockA = Buffer.alloc(BLOCK_LG_SIZE);
      nodeCodec.serialize(first, blockA);
      const node = nodeCodec.parse(blockA, 1);
      for (const c of changes) {
        if (node.keys.length === 0) break;
        const i = c.at % node.keys.length;
        const v = node.vals[i]!;
        if (c.how === "seq") node.vals[i] = { ...v, seq: v.seq + 1 };
        else if (c.how === "flags") node.vals[i] = { ...v, flags: v.flags ^ 1 };
        else if (c.how === "value") node.vals[i] = { ...v, value: Buffer.from(v.value).fill(0xee) };
        else if (c.how === "drop") {
          node.keys.splice(i, 1);
          node.vals.splice(i, 1);
        } else if (c.how === "insert" && (i === 0 ? 0 : node.keys[i - 1]!.readUInt32BE(5)) + 1 < node.keys[i]!.readUInt32BE(5)) {
          node.keys.splice(i, 0, k(node.keys[i]!.readUInt32BE(5) - 1));
          node.vals.splice(i, 0, { seq: 7, flags: 2, value: Buffer.alloc(5, 0x55) });
        }
      }
      const blockB = Buffer.alloc(BLOCK_LG_SIZE);
      nodeCodec.serialize(node, blockB);
      const back = nodeCodec.parse(blockB, 2);
      assert.deepEqual(back.keys.map((x) => x.toString("hex")), node.keys.map((x) => x.toString("hex")));
      assert.deepEqual(
        back.vals.map((v) => [v.seq, v.flags, v.value.toString("hex")]),
        node.vals.map((v) => [v.seq, v.flags, v.value.toString("hex")]),
      );
    }),
    { numRuns: 300 },
  );
});
