/*
 * The ordered in-memory map used by caches: sorted-btree's BTree.  Under
 * NodeNext the default import of this CommonJS package is its
 * module.exports object, whose `default` is the class.
 */
import sortedBtree from "sorted-btree";
import type BTree from "sorted-btree";

export const SortedMap = sortedBtree.default;
export type SortedMap<K, V> = BTree.default<K, V>;
