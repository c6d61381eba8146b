/*
 * Finding inodes from their numbers, without walking the namespace: the
 * entries that name an inode (its link backrefs), the paths from the root
 * to it, and which inode numbers near one are in use.
 *
 * Each answer is a batch that continues from a position the caller gives
 * back, as the original's ioctls do: referring entries and paths continue
 * from a (dir, pos) of a link backref, so a caller sees every name that
 * was there throughout its walk exactly once.  None of these takes inode
 * locks: each item read is atomic, a path is built from one read of each
 * parent's only backref, and a path that changes during the walk may or
 * may not be seen, like the original.
 *
 * Paths are relative to the root ("a/b/file"); the root itself has none.
 */
import type { FsCtx } from "./context.js";
import { backrefs } from "./dirent.js";
import { decodeInode, inodeKey } from "../format/fs_items.js";
import { keyFirst, keyType } from "../format/key.js";
import { FS_TYPE, ROOT_INO } from "../format/constants.js";
import { FsError } from "../util/errors.js";

export interface ReferringEntry {
  dir: number;
  pos: number;
  /** DT_* type of the inode */
  type: number;
  name: Buffer;
}

/** up to max entries naming ino, at or after (fromDir, fromPos) in (dir, pos) order */
export async function referringEntries(ctx: FsCtx, ino: number, fromDir: number, fromPos: number, max: number): Promise<ReferringEntry[]> {
  const refs = await backrefs(ctx, ino, max, fromDir, fromPos);
  return refs.map(({ dir, d }) => ({ dir, pos: d.pos, type: d.type, name: d.name }));
}

/** the longest path built (PATH_MAX) */
const PATH_MAX = 4096;

export interface InoPath {
  /** the entry of the path's last component, to continue after */
  dir: number;
  pos: number;
  path: Buffer;
}

/** the path of the first entry naming ino at or after (fromDir, fromPos); undefined when there are no more */
export async function inoPath(ctx: FsCtx, ino: number, fromDir: number, fromPos: number): Promise<InoPath | undefined> {
  const [last] = await referringEntries(ctx, ino, fromDir, fromPos, 1);
  if (!last) return undefined;
  const parts: Buffer[] = [last.name];
  let bytes = last.name.length;
  for (let dir = last.dir; dir !== ROOT_INO; ) {
    const [up] = await backrefs(ctx, dir, 1);
    // an unlinked directory, or one renamed away mid-walk: no path through it now
    if (!up) return inoPath(ctx, ino, last.dir, last.pos + 1);
    parts.push(up.d.name);
    bytes += up.d.name.length + 1;
    if (bytes >= PATH_MAX) throw new FsError("ENAMETOOLONG", `the path of inode ${ino} is longer than ${PATH_MAX} bytes`);
    dir = up.dir;
  }
  return { dir: last.dir, pos: last.pos, path: Buffer.concat(parts.reverse().flatMap((p, i) => (i === 0 ? [p] : [SLASH, p]))) };
}

const SLASH = Buffer.from("/");

/** inode numbers are handed out in groups of this many (the original's lock group) */
export const INODE_GROUP_NR = 1024;

/** the inodes that exist from start to the end of its group of INODE_GROUP_NR, at most max */
export async function allocatedInos(ctx: FsCtx, start: number, max: number): Promise<number[]> {
  const end = start - (start % INODE_GROUP_NR) + INODE_GROUP_NR - 1;
  const out: number[] = [];
  let ino = start;
  while (ino <= end && out.length < max) {
    const kv = await ctx.items.next(inodeKey(ino), inodeKey(end));
    if (!kv) break;
    const found = keyFirst(kv.key);
    if (keyType(kv.key) === FS_TYPE.inode) {
      decodeInode(kv.value); // a corrupt inode item is EIO, not a number
      out.push(found);
    }
    ino = found + 1;
  }
  return out;
}
