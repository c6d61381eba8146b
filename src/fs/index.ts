/*
 * The fs layer's public surface: the Filesystem API, its types, the
 * storage interfaces it is built on, and what mkfs needs to write the
 * root directory.
 */
export { Filesystem } from "./filesystem.js";
export { makeRootInodeItems } from "./inode.js";
export * from "./types.js";
export type { FsStorage, FsItems, FsTrans, FsData, FsClock, DataExtent, ItemKV } from "./storage.js";
