/*
 * Open handles, orphans and the deletion of inodes.
 *
 * An inode is deleted when it has no names (nlink 0) and nothing in this
 * mount holds it open.  When its last name goes while it is open, it
 * becomes an orphan: nlink 0 and an item (ZONE.orphan, ino) written in
 * the same transaction, so that if the mount dies before the last
 * release, deleteOrphans() at the next mount finds and deletes it.  The
 * last release deletes it and its orphan item together.  An O_TMPFILE
 * inode is born an orphan (nlink 0, orphan item, open); linking it
 * removes the orphan item.
 *
 * Deleting an inode removes every item it has (inode, index items,
 * xattrs with the tag items they keep elsewhere, symlink parts, extents,
 * orphan item) and frees its data
 * blocks, in one transaction.  The open counts are in memory: they
 * describe this mount's handles only.
 */
import type { FsCtx } from "./context.js";
import { deleteRange, itemRange } from "./context.js";
import { FIRST_XATTR_ID, type OpInodes } from "./inode.js";
import { freeAllData } from "./data.js";
import { dropXattrTags } from "./xattr_tags.js";
import { inodeItemsFirst, inodeItemsLast, orphanFirst, orphanKey, orphanLast, type InodeVal } from "../format/fs_items.js";
import { keyFirst } from "../format/key.js";

export class OpenCounts {
  private readonly counts = new Map<number, number>();
  /** O_TMPFILE inodes that have not been linked yet: link() may give them their first name */
  readonly tmpfiles = new Set<number>();

  open(ino: number): void {
    this.counts.set(ino, (this.counts.get(ino) ?? 0) + 1);
  }

  /** returns how many handles remain; false if it was not open */
  release(ino: number): number | false {
    const n = this.counts.get(ino);
    if (n === undefined) return false;
    if (n <= 1) this.counts.delete(ino);
    else this.counts.set(ino, n - 1);
    return n - 1;
  }

  count(ino: number): number {
    return this.counts.get(ino) ?? 0;
  }
}

/** delete an inode and everything it has (orphan: it has an orphan item); inside hold() */
export async function deleteInode(ctx: FsCtx, c: OpInodes, ino: number, orphan: boolean): Promise<void> {
  const v = await c.get(ino);
  await freeAllData(ctx, ino, v);
  // xattr ids come from nextXattrId, which only grows: at its first value the inode never had one
  if (v.nextXattrId !== FIRST_XATTR_ID) await dropXattrTags(ctx, ino);
  c.remove(ino);
  await deleteRange(ctx.items, inodeItemsFirst(ino), inodeItemsLast(ino));
  if (orphan) ctx.items.delete(orphanKey(ino));
}

/**
 * After an inode lost a name: if it has none left, delete it, or make it
 * an orphan while it is open.  Inside hold(); v must be the value loaded
 * through c and already decremented.
 */
export async function afterUnlink(ctx: FsCtx, c: OpInodes, opens: OpenCounts, ino: number, v: InodeVal): Promise<void> {
  if (v.nlink > 0) return;
  if (opens.count(ino) > 0) ctx.items.set(orphanKey(ino), Buffer.alloc(0));
  else await deleteInode(ctx, c, ino, false);
}

/** the inode numbers that have orphan items */
export async function listOrphans(ctx: FsCtx): Promise<number[]> {
  const out: number[] = [];
  for await (const kv of itemRange(ctx.items, orphanFirst(), orphanLast())) out.push(keyFirst(kv.key));
  return out;
}
