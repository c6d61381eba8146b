/*
 * Symlink targets: stored as the bytes of the target (no NUL) in part
 * items (ino, SYMLINK, 0, 0, part) of at most BTREE_MAX_VAL_LEN bytes;
 * the inode's size is the target's length, so readlink knows how many
 * parts to read.  Targets are 1 to SYMLINK_MAX_SIZE bytes.
 */
import type { FsCtx } from "./context.js";
import { splitParts, symlinkKey, symlinkNrParts } from "../format/fs_items.js";
import { SYMLINK_MAX_SIZE } from "../format/constants.js";
import { FsError } from "../util/errors.js";

export function checkSymlinkTarget(target: Buffer): void {
  if (target.length === 0) throw new FsError("ENOENT", "empty symlink target");
  if (target.length > SYMLINK_MAX_SIZE) {
    throw new FsError("ENAMETOOLONG", `symlink target of ${target.length} bytes, more than ${SYMLINK_MAX_SIZE}`);
  }
  if (target.includes(0)) throw new FsError("EINVAL", "symlink target contains NUL");
}

/** inside hold() */
export function writeSymlink(ctx: FsCtx, ino: number, target: Buffer): void {
  splitParts(target).forEach((part, i) => ctx.items.set(symlinkKey(ino, i), part));
}

export async function readSymlink(ctx: FsCtx, ino: number, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < symlinkNrParts(size); i++) {
    const p = await ctx.items.lookup(symlinkKey(ino, i));
    if (!p) throw new FsError("EIO", `symlink ${ino} is missing part ${i}`);
    parts.push(p);
  }
  const t = Buffer.concat(parts);
  if (t.length !== size) throw new FsError("EIO", `symlink ${ino} target is ${t.length} bytes, inode says ${size}`);
  return t;
}
