/*
 * Copy-on-write btrees of items in 64 KiB blocks.
 *
 * Reads (lookup, range, prev) follow refs from a root through the
 * MetaStore, which verifies every block.  Changes go through a
 * BlockWriter: each block on the path from the root to the leaf is made
 * writable first (a block the writer already owns is changed in place,
 * any other is copied to a freshly allocated block and the old number
 * freed), so nothing a committed root references is ever overwritten.
 * The caller gets a new root and stores it wherever the tree's root
 * lives (super block, log trees item, allocator head).
 *
 * Balance is kept top-down in one pass: on the way down an insert splits
 * any node that might not fit one more entry, and a delete merges or
 * evens out any node below a third full with a sibling.  So a leaf
 * always has room when reached, all nodes but the root stay at least
 * about a third full, and the height is bounded by BTREE_MAX_HEIGHT.
 *
 * Items carry a seq and flags (the deletion flag of log trees); trees
 * that don't need them store zeros.
 */
import { BTREE_MAX_HEIGHT, BTREE_MAX_VAL_LEN } from "../format/constants.js";
import { keyCompare, type Key } from "../format/key.js";
import type { BlockRef, BtreeRoot } from "../format/structs.js";
import { EMPTY_ROOT } from "../format/structs.js";
import type { BlockWriter, MetaStore } from "../block/store.js";
import { CorruptionError, FsError, assert } from "../util/errors.js";
import {
  type BtreeNode, type LeafVal, childIndex, cloneNode, leafEntryBytes, lowerBound, newNode, nodeCodec,
  LEAF_ENTRY_MAX, NODE_CAPACITY, PARENT_ENTRY_BYTES,
} from "./node.js";

export interface BtreeItem extends LeafVal {
  key: Key;
}

async function readNode(store: MetaStore, ref: BlockRef, level: number): Promise<BtreeNode> {
  const n = await store.read(ref, nodeCodec);
  if (n.level !== level) throw new CorruptionError(ref.blkno, `btree node level ${n.level}, expected ${level}`);
  return n;
}

export async function btreeLookup(store: MetaStore, root: BtreeRoot, key: Key): Promise<BtreeItem | undefined> {
  if (root.height === 0) return undefined;
  let ref = root.ref;
  for (let level = root.height - 1; ; level--) {
    const n = await readNode(store, ref, level);
    if (level === 0) {
      const i = lowerBound(n.keys, key);
      if (i < n.keys.length && n.keys[i]!.equals(key)) return { key: n.keys[i]!, ...n.vals[i]! };
      return undefined;
    }
    if (n.keys.length === 0) throw new CorruptionError(ref.blkno, "empty parent node");
    ref = n.refs[childIndex(n, key)]!;
  }
}

/**
 * Visit items with start <= key <= end in ascending order until visit
 * returns false.  Returns false if stopped early.
 */
export async function btreeWalk(
  store: MetaStore, root: BtreeRoot, start: Key, end: Key, visit: (item: BtreeItem) => boolean,
): Promise<boolean> {
  if (root.height === 0) return true;
  return walkNode(store, root.ref, root.height - 1, start, end, visit);
}

async function walkNode(
  store: MetaStore, ref: BlockRef, level: number, start: Key, end: Key, visit: (item: BtreeItem) => boolean,
): Promise<boolean> {
  const n = await readNode(store, ref, level);
  if (level === 0) {
    for (let i = lowerBound(n.keys, start); i < n.keys.length; i++) {
      const k = n.keys[i]!;
      if (keyCompare(k, end) > 0) return false;
      if (!visit({ key: k, ...n.vals[i]! })) return false;
    }
    return true;
  }
  for (let i = childIndex(n, start); i < n.keys.length; i++) {
    if (keyCompare(n.keys[i]!, end) > 0) return false;
    if (!(await walkNode(store, n.refs[i]!, level - 1, start, end, visit))) return false;
  }
  return true;
}

/** Visit items with first <= key <= last in descending order until visit returns false. */
export async function btreeWalkBack(
  store: MetaStore, root: BtreeRoot, last: Key, first: Key, visit: (item: BtreeItem) => boolean,
): Promise<boolean> {
  if (root.height === 0) return true;
  return walkNodeBack(store, root.ref, root.height - 1, last, first, visit);
}

async function walkNodeBack(
  store: MetaStore, ref: BlockRef, level: number, last: Key, first: Key, visit: (item: BtreeItem) => boolean,
): Promise<boolean> {
  const n = await readNode(store, ref, level);
  if (level === 0) {
    let i = lowerBound(n.keys, last);
    if (i === n.keys.length || keyCompare(n.keys[i]!, last) > 0) i--;
    for (; i >= 0; i--) {
      const k = n.keys[i]!;
      if (keyCompare(k, first) < 0) return false;
      if (!visit({ key: k, ...n.vals[i]! })) return false;
    }
    return true;
  }
  for (let i = childIndex(n, last); i >= 0; i--) {
    if (!(await walkNodeBack(store, n.refs[i]!, level - 1, last, first, visit))) return false;
    if (keyCompare(n.keys[i]!, first) <= 0) return false;
  }
  return true;
}

/** Up to limit items in [start, end]; `more` is set when the limit cut the range short. */
export async function btreeRange(
  store: MetaStore, root: BtreeRoot, start: Key, end: Key, limit = Infinity,
): Promise<{ items: BtreeItem[]; more: boolean }> {
  const items: BtreeItem[] = [];
  let more = false;
  await btreeWalk(store, root, start, end, (it) => {
    if (items.length >= limit) {
      more = true;
      return false;
    }
    items.push(it);
    return true;
  });
  return { items, more };
}

export async function btreeNext(store: MetaStore, root: BtreeRoot, start: Key, end: Key): Promise<BtreeItem | undefined> {
  let found: BtreeItem | undefined;
  await btreeWalk(store, root, start, end, (it) => {
    found = it;
    return false;
  });
  return found;
}

export async function btreePrev(store: MetaStore, root: BtreeRoot, last: Key, first: Key): Promise<BtreeItem | undefined> {
  let found: BtreeItem | undefined;
  await btreeWalkBack(store, root, last, first, (it) => {
    found = it;
    return false;
  });
  return found;
}

/* ---- changes ---- */

function needsSplit(n: BtreeNode): boolean {
  return n.level === 0 ? n.bytes + LEAF_ENTRY_MAX > NODE_CAPACITY : n.bytes + 2 * PARENT_ENTRY_BYTES > NODE_CAPACITY;
}

function underfull(n: BtreeNode): boolean {
  return n.bytes < NODE_CAPACITY / 3;
}

function entryBytes(n: BtreeNode, i: number): number {
  return n.level === 0 ? leafEntryBytes(n.vals[i]!) : PARENT_ENTRY_BYTES;
}

/** move entries [from, end) of src to the end of dst */
function moveTail(src: BtreeNode, from: number, dst: BtreeNode): void {
  for (let i = from; i < src.keys.length; i++) {
    const b = entryBytes(src, i);
    src.bytes -= b;
    dst.bytes += b;
  }
  dst.keys.push(...src.keys.splice(from));
  if (src.level === 0) dst.vals.push(...src.vals.splice(from));
  else dst.refs.push(...src.refs.splice(from));
}

/** move the first count entries of src to the end of dst */
function moveHead(src: BtreeNode, count: number, dst: BtreeNode): void {
  for (let i = 0; i < count; i++) {
    const b = entryBytes(src, i);
    src.bytes -= b;
    dst.bytes += b;
  }
  dst.keys.push(...src.keys.splice(0, count));
  if (src.level === 0) dst.vals.push(...src.vals.splice(0, count));
  else dst.refs.push(...src.refs.splice(0, count));
}

async function writable(w: BlockWriter, ref: BlockRef, level: number): Promise<{ ref: BlockRef; node: BtreeNode }> {
  const own = w.getDirty<BtreeNode>(ref);
  if (own) return { ref, node: own };
  const n = await readNode(w.store, ref, level);
  const { ref: nref, obj } = await w.cow(ref, n, nodeCodec, cloneNode);
  return { ref: nref, node: obj };
}

/** split child i of parent in two; the right half becomes child i+1 */
async function splitChild(w: BlockWriter, parent: BtreeNode, i: number, child: BtreeNode): Promise<BtreeNode> {
  const right = newNode(child.level);
  let half = 0;
  let at = 0;
  while (at < child.keys.length - 1 && half + entryBytes(child, at) <= child.bytes / 2) half += entryBytes(child, at++);
  if (at === 0) at = 1;
  moveTail(child, at, right);
  const rref = await w.create(right, nodeCodec);
  parent.keys.splice(i + 1, 0, right.keys[0]!);
  parent.refs.splice(i + 1, 0, rref);
  parent.bytes += PARENT_ENTRY_BYTES;
  return right;
}

/**
 * child i of parent is under a third full: merge it with a neighbour or
 * even the two out.  Returns the index of the child that now covers key.
 */
async function fixUnderfull(w: BlockWriter, parent: BtreeNode, i: number, key: Key): Promise<number> {
  const li = i > 0 ? i - 1 : i;
  const ri = li + 1;
  const l = await writable(w, parent.refs[li]!, parent.level - 1);
  parent.refs[li] = l.ref;
  const r = await writable(w, parent.refs[ri]!, parent.level - 1);
  parent.refs[ri] = r.ref;
  if (l.node.bytes + r.node.bytes <= NODE_CAPACITY - LEAF_ENTRY_MAX) {
    moveTail(r.node, 0, l.node);
    w.discard(r.ref);
    parent.keys.splice(ri, 1);
    parent.refs.splice(ri, 1);
    parent.bytes -= PARENT_ENTRY_BYTES;
    return li;
  }
  // even them out
  const target = (l.node.bytes + r.node.bytes) / 2;
  if (l.node.bytes < target) {
    let n = 0;
    let moved = 0;
    while (n < r.node.keys.length - 1 && l.node.bytes + moved + entryBytes(r.node, n) <= target) moved += entryBytes(r.node, n++);
    moveHead(r.node, n, l.node);
  } else {
    let from = l.node.keys.length;
    let moved = 0;
    while (from > 1 && r.node.bytes + moved + entryBytes(l.node, from - 1) <= target) moved += entryBytes(l.node, --from);
    const tmp = newNode(l.node.level);
    moveTail(l.node, from, tmp);
    moveTail(r.node, 0, tmp);
    moveTail(tmp, 0, r.node);
  }
  parent.keys[ri] = r.node.keys[0]!;
  return keyCompare(key, parent.keys[ri]!) >= 0 ? ri : li;
}

export type BtreeChange = { op: "set"; val: LeafVal } | { op: "delete" };

interface Descent {
  rootRef: BlockRef;
  height: number;
  /** the writable leaf that holds or would hold the key */
  leaf: BtreeNode;
  /** the least key of the leaves to the right (undefined: none), for a set */
  bound: Key | undefined;
}

/**
 * Make the path from the root to key's leaf writable, balancing on the way
 * down: a set splits nodes that might not take one more entry (so the
 * leaf has room for one LEAF_ENTRY_MAX), a delete mends underfull ones.
 * The tree must not be empty.
 */
async function descend(w: BlockWriter, root: BtreeRoot, key: Key, op: "set" | "delete"): Promise<Descent> {
  let { ref: rootRef, node } = await writable(w, root.ref, root.height - 1);
  let height = root.height;
  let bound: Key | undefined;
  if (op === "set" && needsSplit(node)) {
    assert(height < BTREE_MAX_HEIGHT, "btree height limit");
    const top = newNode(height);
    top.keys.push(node.keys[0]!);
    top.refs.push(rootRef);
    top.bytes = PARENT_ENTRY_BYTES;
    rootRef = await w.create(top, nodeCodec);
    await splitChild(w, top, 0, node);
    node = top;
    height++;
  }
  while (node.level > 0) {
    let i = childIndex(node, key);
    if (op === "set" && i === 0 && keyCompare(key, node.keys[0]!) < 0) node.keys[0] = key;
    let c = await writable(w, node.refs[i]!, node.level - 1);
    node.refs[i] = c.ref;
    if (op === "set" && needsSplit(c.node)) {
      const right = await splitChild(w, node, i, c.node);
      if (keyCompare(key, node.keys[i + 1]!) >= 0) {
        i++;
        c = { ref: node.refs[i]!, node: right };
      }
    } else if (op === "delete" && underfull(c.node) && node.keys.length > 1) {
      i = await fixUnderfull(w, node, i, key);
      c = { ref: node.refs[i]!, node: w.getDirty<BtreeNode>(node.refs[i]!)! };
    }
    // a deeper separator is tighter than any above it
    if (i + 1 < node.keys.length) bound = node.keys[i + 1]!;
    node = c.node;
  }
  return { rootRef, height, leaf: node, bound };
}

function checkValLen(val: LeafVal): void {
  if (val.value.length > BTREE_MAX_VAL_LEN) {
    throw new FsError("EINVAL", `item value of ${val.value.length} bytes exceeds ${BTREE_MAX_VAL_LEN}`);
  }
}

async function newRootLeaf(w: BlockWriter): Promise<BtreeRoot> {
  return { ref: await w.create(newNode(0), nodeCodec), height: 1 };
}

/**
 * Apply one change; returns the new root and the item that was there
 * before (undefined if none).
 */
export async function btreeModify(
  w: BlockWriter, root: BtreeRoot, key: Key, change: BtreeChange,
): Promise<{ root: BtreeRoot; old: LeafVal | undefined }> {
  if (change.op === "set") checkValLen(change.val);
  if (root.height === 0) {
    if (change.op === "delete") return { root, old: undefined };
    root = await newRootLeaf(w);
  }
  let { rootRef, height, leaf: node } = await descend(w, root, key, change.op);
  const i = lowerBound(node.keys, key);
  const exists = i < node.keys.length && node.keys[i]!.equals(key);
  const old = exists ? node.vals[i] : undefined;
  if (change.op === "set") {
    if (exists) {
      node.bytes += leafEntryBytes(change.val) - leafEntryBytes(old!);
      node.vals[i] = change.val;
    } else {
      node.keys.splice(i, 0, key);
      node.vals.splice(i, 0, change.val);
      node.bytes += leafEntryBytes(change.val);
    }
  } else if (exists) {
    node.keys.splice(i, 1);
    node.vals.splice(i, 1);
    node.bytes -= leafEntryBytes(old!);
  }
  return { root: await shrinkRoot(w, rootRef, height), old };
}

/** after a change through a writable root: a root parent with one child gives way to the child; an empty root leaf empties the tree */
async function shrinkRoot(w: BlockWriter, rootRef: BlockRef, height: number): Promise<BtreeRoot> {
  let top = w.getDirty<BtreeNode>(rootRef)!;
  while (top.level > 0 && top.keys.length === 1) {
    const childRef = top.refs[0]!;
    w.discard(rootRef);
    rootRef = childRef;
    height--;
    top = w.getDirty<BtreeNode>(rootRef) ?? (await readNode(w.store, rootRef, height - 1));
  }
  if (top.level === 0 && top.keys.length === 0) {
    w.discard(rootRef);
    return { ...EMPTY_ROOT };
  }
  return { ref: rootRef, height };
}

/** what btreeApplySorted does with one key: set this value, delete (null), or leave it (undefined) */
export type SortedDecision = LeafVal | null | undefined;

/** index of the first key >= k at or after from (keys ascending) */
function lowerBoundFrom(keys: Key[], k: Key, from: number): number {
  // the next change usually lands a few entries on: look there before searching the rest
  let lo = from;
  for (let n = 0; n < 4 && lo < keys.length; n++, lo++) if (keyCompare(keys[lo]!, k) >= 0) return lo;
  return lowerBound(keys, k, lo);
}

/**
 * Change many keys, given in strictly ascending order, each decided
 * against the item the tree holds for it: decide(change, old) returns the
 * value to set, null to delete, or undefined to leave the key alone.  The
 * same tree as a btreeModify per key, with one descent per run of keys
 * that land in one leaf: the item is found in the leaf the descent
 * reached, not by a lookup of its own (the server's log merge decides
 * each key by the fs root's version of it).  A run ends at the leaf's
 * bound, or before a set the leaf has no room for (decide must be pure:
 * that key is decided again after the next descent).  A leaf that a run's
 * deletions left under a third full is mended by a delete descent to it,
 * so the tree keeps btreeModify's balance.  A key the tree gains is kept
 * as the change's key Buffer itself: pass keys the tree may hold on to.
 */
export async function btreeApplySorted<T extends { key: Key }>(
  w: BlockWriter, root: BtreeRoot, changes: readonly T[], decide: (change: T, old: LeafVal | undefined) => SortedDecision,
): Promise<BtreeRoot> {
  let changed = false;
  let j = 0;
  while (j < changes.length) {
    const first = changes[j]!;
    if (root.height === 0) {
      // an empty tree: nothing to delete or leave; the first set makes a root leaf
      if (!decide(first, undefined)) {
        j++;
        continue;
      }
      root = await newRootLeaf(w);
    }
    const { rootRef, height, leaf, bound } = await descend(w, root, first.key, "set");
    root = { ref: rootRef, height };
    changed = true;
    let k = j;
    let pos = 0;
    for (; k < changes.length; k++) {
      const c = changes[k]!;
      if (k > j && bound !== undefined && keyCompare(c.key, bound) >= 0) break;
      pos = lowerBoundFrom(leaf.keys, c.key, pos);
      const exists = pos < leaf.keys.length && leaf.keys[pos]!.equals(c.key);
      const old = exists ? leaf.vals[pos] : undefined;
      const v = decide(c, old);
      if (v === undefined) continue;
      if (v === null) {
        if (exists) {
          leaf.keys.splice(pos, 1);
          leaf.vals.splice(pos, 1);
          leaf.bytes -= leafEntryBytes(old!);
        }
        continue;
      }
      checkValLen(v);
      const grow = leafEntryBytes(v) - (old ? leafEntryBytes(old) : 0);
      // the descent left room for one item: the run's first set always fits
      if (k > j && leaf.bytes + grow > NODE_CAPACITY) break;
      if (exists) leaf.vals[pos] = v;
      else {
        leaf.keys.splice(pos, 0, c.key);
        leaf.vals.splice(pos, 0, v);
      }
      leaf.bytes += grow;
      pos++;
    }
    if (root.height > 1 && underfull(leaf)) {
      const mended = await descend(w, root, first.key, "delete");
      root = { ref: mended.rootRef, height: mended.height };
    }
    j = k;
  }
  return changed ? shrinkRoot(w, root.ref, root.height) : root;
}

/**
 * Set many items, given in strictly ascending key order: the same tree
 * as btreeSet of each in turn, but one descent per run of items that
 * land in the same leaf, merged into it in one pass (a commit writes its
 * dirty items this way).  A run ends at the leaf's bound or when the
 * leaf could not take the next item.  The leaves keep the item objects
 * themselves as their entries: the caller must not change them after.
 */
export async function btreeSetSorted(w: BlockWriter, root: BtreeRoot, items: readonly BtreeItem[]): Promise<BtreeRoot> {
  let j = 0;
  while (j < items.length) {
    const first = items[j]!;
    checkValLen(first);
    if (root.height === 0) root = await newRootLeaf(w);
    const { rootRef, height, leaf, bound } = await descend(w, root, first.key, "set");
    // the run: the descent left room for one item at least
    let end = j + 1;
    let bytes = leaf.bytes + leafEntryBytes(first);
    while (end < items.length) {
      const it = items[end]!;
      if (bound !== undefined && keyCompare(it.key, bound) >= 0) break;
      checkValLen(it);
      const b = leafEntryBytes(it);
      if (bytes + b > NODE_CAPACITY) break;
      bytes += b;
      end++;
    }
    mergeIntoLeaf(leaf, items, j, end);
    root = { ref: rootRef, height };
    j = end;
  }
  return root;
}

/** merge items [from, to) (ascending) into a leaf, replacing equal keys */
function mergeIntoLeaf(leaf: BtreeNode, items: readonly BtreeItem[], from: number, to: number): void {
  const keys: Key[] = [];
  const vals: LeafVal[] = [];
  let bytes = 0;
  let a = 0;
  let b = from;
  while (a < leaf.keys.length || b < to) {
    const c = a === leaf.keys.length ? 1 : b === to ? -1 : keyCompare(leaf.keys[a]!, items[b]!.key);
    if (c < 0) {
      keys.push(leaf.keys[a]!);
      vals.push(leaf.vals[a]!);
      bytes += leafEntryBytes(leaf.vals[a++]!);
    } else {
      const it = items[b++]!;
      if (c === 0) a++;
      keys.push(it.key);
      // the item is its own leaf entry (a LeafVal with a key): leaf entries are replaced, never changed
      vals.push(it);
      bytes += leafEntryBytes(it);
    }
  }
  leaf.keys = keys;
  leaf.vals = vals;
  leaf.bytes = bytes;
}

export async function btreeSet(w: BlockWriter, root: BtreeRoot, key: Key, value: Buffer, seq = 0, flags = 0): Promise<BtreeRoot> {
  return (await btreeModify(w, root, key, { op: "set", val: { seq, flags, value } })).root;
}

export async function btreeDelete(w: BlockWriter, root: BtreeRoot, key: Key): Promise<BtreeRoot> {
  return (await btreeModify(w, root, key, { op: "delete" })).root;
}

/** Visit every block of a tree (parents before children). */
export async function btreeVisitBlocks(
  store: MetaStore, root: BtreeRoot, visit: (ref: BlockRef, node: BtreeNode) => void | Promise<void>,
): Promise<void> {
  if (root.height === 0) return;
  const rec = async (ref: BlockRef, level: number): Promise<void> => {
    const n = await readNode(store, ref, level);
    await visit(ref, n);
    if (level > 0) for (const r of n.refs) await rec(r, level - 1);
  };
  await rec(root.ref, root.height - 1);
}

/** The number of blocks in a tree, reading only its parent blocks (leaves are counted from their parents' refs). */
export async function btreeCountBlocks(store: MetaStore, root: BtreeRoot): Promise<number> {
  if (root.height === 0) return 0;
  const rec = async (ref: BlockRef, level: number): Promise<number> => {
    if (level === 0) return 1;
    const n = await readNode(store, ref, level);
    if (level === 1) return 1 + n.refs.length;
    let total = 1;
    for (const r of n.refs) total += await rec(r, level - 1);
    return total;
  };
  return rec(root.ref, root.height - 1);
}

/** Free every block of a tree (the caller stops referencing the root). */
export async function btreeFreeAll(w: BlockWriter, root: BtreeRoot): Promise<number> {
  const refs: BlockRef[] = [];
  await btreeVisitBlocks(w.store, root, (ref) => {
    refs.push(ref);
  });
  for (const r of refs) w.discard(r);
  return refs.length;
}
