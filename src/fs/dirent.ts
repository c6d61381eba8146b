/*
 * Directory entries.  An entry is three items with one DirentVal value
 * (see format/fs_items.ts): the DIRENT item keyed by name hash and
 * readdir position (for lookup), the READDIR item keyed by position (for
 * readdir), and the LINK_BACKREF item under the target keyed by directory
 * and position (for finding the names of an inode, and the parent of a
 * directory, which has exactly one backref).
 *
 * Lookup walks only the DIRENT items of one hash (normally one), never
 * the directory.  Positions come from the directory inode's
 * next_readdir_pos, which only grows: a position is never reused, so a
 * readdir that continues from a position neither repeats nor skips
 * entries that were there throughout.
 *
 * A directory's size is the sum of the lengths of its entries' names, so
 * emptiness is known without looking at the entries.
 */
import type { FsCtx } from "./context.js";
import { forEachItem, scanItems } from "./context.js";
import {
  decodeDirent,
  direntHashLast,
  direntKey,
  encodeDirent,
  linkBackrefFirst,
  linkBackrefKey,
  linkBackrefLast,
  readdirKey,
  readdirLast,
  type DirentVal,
  type InodeVal,
} from "../format/fs_items.js";
import { DIRENT_LAST_POS } from "../format/constants.js";
import { keySecond } from "../format/key.js";
import { FsError } from "../util/errors.js";

/**
 * the entry of name in dir; at once (no promise) when its items are in
 * memory.  The last name found absent is remembered until the items
 * change (FsItems.changes): through FUSE a create or rename is the
 * kernel's negative LOOKUP of the new name, then the CREATE or RENAME
 * that looks for it again, with nothing changed in between.
 */
export function findEntry(ctx: FsCtx, dir: number, name: Buffer): DirentVal | undefined | Promise<DirentVal | undefined> {
  const changes = ctx.items.changes;
  const absent = ctx.lastAbsent;
  if (absent && absent.changes === changes && absent.dir === dir && absent.name.equals(name)) return undefined;
  const hash = ctx.hash(name);
  let found: DirentVal | undefined;
  const reading = forEachItem(ctx.items, direntKey(dir, hash, 0), direntHashLast(dir, hash), (kv) => {
    const d = decodeDirent(kv.value);
    if (!d.name.equals(name)) return true;
    found = d;
    return false;
  });
  // remembered only if nothing changed meanwhile (a read brings items in, which counts as a change)
  const remember = () => {
    // a copy: a caller's name may be a view of a buffer that is used again (a FUSE request's)
    if (!found && ctx.items.changes === changes) ctx.lastAbsent = { dir, name: Buffer.from(name), changes };
    return found;
  };
  return reading ? reading.then(remember) : remember();
}

/** ENOSPC unless dir has readdir positions left for `count` more entries: checked before a change that adds them */
export function checkEntrySpace(dir: number, dirVal: InodeVal, count = 1): void {
  if (dirVal.nextReaddirPos + count - 1 > DIRENT_LAST_POS) throw new FsError("ENOSPC", `directory ${dir} used every readdir position`);
}

/** add an entry to a loaded directory inode (the caller marks it dirty and sets times, and checked checkEntrySpace); inside hold() */
export function addEntry(ctx: FsCtx, dir: number, dirVal: InodeVal, name: Buffer, ino: number, type: number): DirentVal {
  checkEntrySpace(dir, dirVal);
  const d: DirentVal = { ino, hash: ctx.hash(name), pos: dirVal.nextReaddirPos++, type, name };
  const v = encodeDirent(d);
  ctx.items.set(direntKey(dir, d.hash, d.pos), v);
  ctx.items.set(readdirKey(dir, d.pos), v);
  ctx.items.set(linkBackrefKey(ino, dir, d.pos), v);
  dirVal.size += name.length;
  return d;
}

/** remove an entry found by findEntry (the caller marks the dir dirty); inside hold() */
export function removeEntry(ctx: FsCtx, dir: number, dirVal: InodeVal, d: DirentVal): void {
  ctx.items.delete(direntKey(dir, d.hash, d.pos));
  ctx.items.delete(readdirKey(dir, d.pos));
  ctx.items.delete(linkBackrefKey(d.ino, dir, d.pos));
  dirVal.size -= d.name.length;
}

/** up to max entries at positions >= pos */
export async function readEntries(ctx: FsCtx, dir: number, pos: number, max: number): Promise<DirentVal[]> {
  const out: DirentVal[] = [];
  if (max <= 0) return out;
  // scanItems, not itemRange: an async generator step and a descent of the cache per entry were most of a readdir
  await scanItems(ctx.items, readdirKey(dir, pos), readdirLast(dir), (kv) => {
    out.push(decodeDirent(kv.value));
    return out.length < max;
  });
  return out;
}

/** the entries that name an inode, as (dir, dirent), in (dir, pos) order from (fromDir, fromPos) */
export async function backrefs(ctx: FsCtx, ino: number, max = Infinity, fromDir = 0, fromPos = 0): Promise<{ dir: number; d: DirentVal }[]> {
  const out: { dir: number; d: DirentVal }[] = [];
  if (max <= 0) return out;
  const first = fromDir === 0 && fromPos === 0 ? linkBackrefFirst(ino) : linkBackrefKey(ino, fromDir, fromPos);
  await scanItems(ctx.items, first, linkBackrefLast(ino), (kv) => {
    out.push({ dir: keySecond(kv.key), d: decodeDirent(kv.value) });
    return out.length < max;
  });
  return out;
}

/** the parent of a directory: the directory of its only entry; the root (no entry) is its own parent */
export async function parentOf(ctx: FsCtx, dirIno: number): Promise<number> {
  const refs = await backrefs(ctx, dirIno, 1);
  return refs.length > 0 ? refs[0]!.dir : dirIno;
}
