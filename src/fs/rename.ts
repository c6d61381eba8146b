/*
 * rename(2) with RENAME_NOREPLACE and RENAME_EXCHANGE.
 *
 * The caller holds exclusive locks on both directories, the source and
 * the target inode (found by entryInos and locked in inode order), and,
 * when the directories differ, the filesystem's rename mutex: only
 * cross-directory renames change which directory is the parent of a
 * directory, so while it is held the ancestry walk of the loop check
 * (parent links are the directories' single link backrefs) cannot change.
 *
 * Checks come in the order Linux makes them: flags, the directories,
 * the source, NOREPLACE/EXCHANGE against the target, the loop traps
 * (EINVAL moving a directory under itself; a target that is an ancestor
 * of the source gives ENOTEMPTY, or EINVAL when exchanging), then
 * nothing at all when both names are one inode, then types, emptiness
 * and link limits.  The moved entries get new readdir positions in their
 * new directories; a replaced target loses a link (and is deleted or
 * orphaned at zero).  It answers first (answer_first.ts): every check,
 * readdir positions included, is made before the answer; the entries
 * move after it.
 */
import type { FsCtx } from "./context.js";
import { OpInodes, checkRetention } from "./inode.js";
import { addEntry, checkEntrySpace, findEntry, parentOf, removeEntry } from "./dirent.js";
import { AnsweredChange } from "./answer_first.js";
import { afterUnlink } from "./orphan.js";
import type { FsEnv } from "./namespace.js";
import { RENAME_EXCHANGE, RENAME_NOREPLACE } from "./types.js";
import { isDirMode, type DirentVal } from "../format/fs_items.js";
import { LINK_MAX, ROOT_INO } from "../format/constants.js";
import { FsError } from "../util/errors.js";

export function checkRenameFlags(flags: number): void {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError("EINVAL", `rename flags ${flags}`);
  if (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE) throw new FsError("EINVAL", "rename NOREPLACE with EXCHANGE");
}

/** the inodes a rename touches besides the directories, for locking */
export async function renameInos(
  ctx: FsCtx, oldDir: number, oldName: Buffer, newDir: number, newName: Buffer,
): Promise<{ inos: number[]; found: RenameEntries }> {
  const inos: number[] = [];
  const src = await findEntry(ctx, oldDir, oldName);
  if (src) inos.push(src.ino);
  const dst = await findEntry(ctx, newDir, newName);
  if (dst) inos.push(dst.ino);
  return { inos, found: { src, dst } };
}

/** what the names of a rename refer to, found under the locks of both directories */
export interface RenameEntries {
  src: DirentVal | undefined;
  dst: DirentVal | undefined;
}

/** is anc the directory dir or one of its ancestors? */
async function isAncestorOrSelf(ctx: FsCtx, anc: number, dir: number): Promise<boolean> {
  const seen = new Set<number>();
  for (let p = dir; ; ) {
    if (p === anc) return true;
    if (p === ROOT_INO || seen.has(p)) return false;
    seen.add(p);
    const up = await parentOf(ctx, p);
    if (up === p) return false;
    p = up;
  }
}

export async function renameOp(
  env: FsEnv,
  oldDir: number,
  oldName: Buffer,
  newDir: number,
  newName: Buffer,
  flags: number,
  found: RenameEntries,
): Promise<AnsweredChange<void>> {
  const { ctx } = env;
  checkRenameFlags(flags);
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  const c = new OpInodes(ctx);
  const od = await c.getLiveDir(oldDir);
  const nd = await c.getLiveDir(newDir);
  const { src, dst } = found;
  if (!src) throw new FsError("ENOENT", `${oldName.toString()} does not exist`);
  if (dst && flags & RENAME_NOREPLACE) throw new FsError("EEXIST", `${newName.toString()} exists`);
  if (!dst && exchange) throw new FsError("ENOENT", `${newName.toString()} does not exist`);
  const crossDir = oldDir !== newDir;
  if (crossDir) {
    if (await isAncestorOrSelf(ctx, src.ino, newDir)) throw new FsError("EINVAL", "rename of a directory under itself");
    if (dst && (await isAncestorOrSelf(ctx, dst.ino, oldDir))) {
      throw new FsError(exchange ? "EINVAL" : "ENOTEMPTY", "rename target is an ancestor of the source");
    }
  }
  if (dst && dst.ino === src.ino) return AnsweredChange.done(undefined);
  const sv = await c.get(src.ino);
  const dv = dst ? await c.get(dst.ino) : undefined;
  checkRetention(sv, src.ino);
  if (dst && dv) checkRetention(dv, dst.ino);
  const srcDir = isDirMode(sv.mode);
  const dstDir = dv !== undefined && isDirMode(dv.mode);
  if (!exchange && dv) {
    if (srcDir && !dstDir) throw new FsError("ENOTDIR", `${newName.toString()} is not a directory`);
    if (!srcDir && dstDir) throw new FsError("EISDIR", `${newName.toString()} is a directory`);
    if (dstDir && dv.size > 0) throw new FsError("ENOTEMPTY", `${newName.toString()} is not empty`);
  }
  if (crossDir) {
    const ndGains = srcDir && !dstDir;
    const odGains = exchange && dstDir && !srcDir;
    if (ndGains && nd.nlink >= LINK_MAX) throw new FsError("EMLINK", `directory ${newDir} has too many links`);
    if (odGains && od.nlink >= LINK_MAX) throw new FsError("EMLINK", `directory ${oldDir} has too many links`);
  }
  // the new entries' readdir positions (one directory's count when both are one)
  if (exchange && !crossDir) checkEntrySpace(newDir, nd, 2);
  else {
    checkEntrySpace(newDir, nd);
    if (exchange) checkEntrySpace(oldDir, od);
  }

  return env.holdAnswerFirst(
    () => undefined,
    async () => {
      const now = env.now();
      removeEntry(ctx, oldDir, od, src);
      if (dst) removeEntry(ctx, newDir, nd, dst);
      addEntry(ctx, newDir, nd, newName, src.ino, src.type);
      if (crossDir && srcDir) {
        od.nlink--;
        nd.nlink++;
      }
      sv.ctime = now;
      c.dirty(src.ino);
      if (dst && dv) {
        if (exchange) {
          addEntry(ctx, oldDir, od, oldName, dst.ino, dst.type);
          if (crossDir && dstDir) {
            nd.nlink--;
            od.nlink++;
          }
        } else if (dstDir) {
          dv.nlink = 0;
          nd.nlink--;
        } else {
          dv.nlink--;
        }
        dv.ctime = now;
        c.dirty(dst.ino);
      }
      od.mtime = od.ctime = now;
      nd.mtime = nd.ctime = now;
      c.dirty(oldDir);
      c.dirty(newDir);
      if (dst && dv && !exchange) await afterUnlink(ctx, c, env.opens, dst.ino, dv);
      c.flush();
    },
  );
}
