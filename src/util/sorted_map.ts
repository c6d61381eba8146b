/*
 * The ordered in-memory map used by caches: sorted-btree's BTree.  Under
 * NodeNext the default import of this CommonJS package is its
 * module.exports object, whose `default` is the class.
 *
 * bytesCompare is Buffer.compare's order (unsigned bytes, then length)
 * computed in JS, four bytes at a time as big-endian words.  A map's
 * comparator runs a dozen or more times per get or set; Buffer.compare
 * crosses from JS into C++ on every call, which made it the largest single
 * cost of the item cache (keys are 27 bytes).  Invariant: the sign of
 * bytesCompare(a, b) equals the sign of Buffer.compare(a, b) for all a, b.
 */
import sortedBtree from "sorted-btree";
import type BTree from "sorted-btree";

export const SortedMap = sortedBtree.default;
export type SortedMap<K, V> = BTree.default<K, V>;

export function bytesCompare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = ((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!) >>> 0;
    const y = ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  for (; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
