/*
 * Extended attributes.  An xattr is stored in part items keyed
 * (ino, XATTR, name hash, id, part): part 0 starts with the header and
 * the whole name, the value follows across as many parts as it needs
 * (see format/fs_items.ts).  The id, from the inode's next_xattr_id
 * (which only grows), tells apart xattrs whose names share a hash; a
 * lookup walks only the part-0 items of one hash and compares names.
 *
 * Names are 1 to XATTR_MAX_NAME_LEN bytes in one of the namespaces the
 * kernel knows (user., trusted., security., system.) or scoutfs., with
 * something after the prefix; values are at most XATTR_MAX_VAL_LEN bytes.
 * Permission to use a namespace is the kernel's business; the meaning
 * and permission of scoutfs. tags (hide, srch, totl, indx) are
 * xattr_tags.ts's.  The POSIX ACL names
 * (system.posix_acl_access/default) are stored here too, but their
 * values are checked and kept in step with the mode by acl.ts.
 *
 * Changes are made inside hold() with the inode locked; the caller sets
 * ctime and writes the inode (next_xattr_id may have moved).
 */
import type { FsCtx } from "./context.js";
import {
  decodeXattrHeader,
  decodeXattrValue,
  encodeXattrParts,
  xattrFirst,
  xattrHashLast,
  xattrKey,
  xattrLast,
  xattrNameOfPart0,
  xattrNrParts,
  type InodeVal,
} from "../format/fs_items.js";
import { keyFourth, keySecond, keyThird } from "../format/key.js";
import { XATTR_MAX_NAME_LEN, XATTR_MAX_VAL_LEN } from "../format/constants.js";
import { FsError } from "../util/errors.js";
import { XATTR_CREATE, XATTR_REPLACE } from "./types.js";

export const XATTR_NAMESPACES = ["user.", "trusted.", "security.", "system.", "scoutfs."] as const;

export function checkXattrName(name: Buffer): void {
  if (name.length === 0 || name.length > XATTR_MAX_NAME_LEN) {
    throw new FsError("ERANGE", `xattr name of ${name.length} bytes, not 1 to ${XATTR_MAX_NAME_LEN}`);
  }
  if (name.includes(0)) throw new FsError("EINVAL", "xattr name contains NUL");
  const s = name.toString("latin1");
  const ns = XATTR_NAMESPACES.find((p) => s.startsWith(p));
  if (!ns) throw new FsError("EOPNOTSUPP", `xattr namespace of ${JSON.stringify(s)} is not supported`);
  if (s.length === ns.length) throw new FsError("EINVAL", "xattr name is only a namespace prefix");
}

/** where an xattr's items are */
export interface XattrFound {
  hash: number;
  id: number;
  nrParts: number;
  part0: Buffer;
}

export async function findXattr(ctx: FsCtx, ino: number, name: Buffer): Promise<XattrFound | undefined> {
  const hash = ctx.hash(name);
  const last = xattrHashLast(ino, hash);
  let from = xattrKey(ino, hash, 0, 0);
  for (;;) {
    const kv = await ctx.items.next(from, last);
    if (!kv) return undefined;
    const id = keyThird(kv.key);
    if (keyFourth(kv.key) === 0) {
      const h = decodeXattrHeader(kv.value);
      if (xattrNameOfPart0(kv.value).equals(name)) {
        return { hash, id, nrParts: xattrNrParts(h.nameLen, h.valLen), part0: kv.value };
      }
    }
    from = xattrKey(ino, hash, id + 1, 0);
  }
}

/** the value of an xattr found by findXattr */
export async function readFoundXattr(ctx: FsCtx, ino: number, f: XattrFound): Promise<Buffer> {
  const parts = [f.part0];
  for (let i = 1; i < f.nrParts; i++) {
    const p = await ctx.items.lookup(xattrKey(ino, f.hash, f.id, i));
    if (!p) throw new FsError("EIO", `xattr of inode ${ino} is missing part ${i}`);
    parts.push(p);
  }
  return decodeXattrValue(parts);
}

export async function getXattr(ctx: FsCtx, ino: number, name: Buffer): Promise<Buffer> {
  checkXattrName(name);
  const f = await findXattr(ctx, ino, name);
  if (!f) throw new FsError("ENODATA", `no xattr ${name.toString()}`);
  return readFoundXattr(ctx, ino, f);
}

/** the value of an xattr, or undefined if the inode has none of that name (the name is not checked) */
export async function readXattrValue(ctx: FsCtx, ino: number, name: Buffer): Promise<Buffer | undefined> {
  const f = await findXattr(ctx, ino, name);
  return f ? readFoundXattr(ctx, ino, f) : undefined;
}

function deleteParts(ctx: FsCtx, ino: number, f: XattrFound, from = 0): void {
  for (let i = from; i < f.nrParts; i++) ctx.items.delete(xattrKey(ino, f.hash, f.id, i));
}

/** check everything that can fail before holding the transaction */
export async function prepareSetXattr(
  ctx: FsCtx,
  ino: number,
  name: Buffer,
  value: Buffer,
  flags: number,
): Promise<XattrFound | undefined> {
  checkXattrName(name);
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) throw new FsError("EINVAL", `xattr flags ${flags}`);
  if (value.length > XATTR_MAX_VAL_LEN) throw new FsError("E2BIG", `xattr value of ${value.length} bytes`);
  const f = await findXattr(ctx, ino, name);
  if (f && flags & XATTR_CREATE) throw new FsError("EEXIST", `xattr ${name.toString()} exists`);
  if (!f && flags & XATTR_REPLACE) throw new FsError("ENODATA", `no xattr ${name.toString()}`);
  return f;
}

/** write the xattr found (or not) by prepareSetXattr; inside hold(); returns its xattr id */
export function applySetXattr(ctx: FsCtx, ino: number, v: InodeVal, name: Buffer, value: Buffer, f: XattrFound | undefined): number {
  const parts = encodeXattrParts(name, value);
  let hash: number, id: number;
  if (f) {
    deleteParts(ctx, ino, f, parts.length);
    ({ hash, id } = f);
  } else {
    hash = ctx.hash(name);
    id = v.nextXattrId++;
  }
  parts.forEach((p, i) => ctx.items.set(xattrKey(ino, hash, id, i), p));
  return id;
}

export async function prepareRemoveXattr(ctx: FsCtx, ino: number, name: Buffer): Promise<XattrFound> {
  checkXattrName(name);
  const f = await findXattr(ctx, ino, name);
  if (!f) throw new FsError("ENODATA", `no xattr ${name.toString()}`);
  return f;
}

/** inside hold() */
export function applyRemoveXattr(ctx: FsCtx, ino: number, f: XattrFound): void {
  deleteParts(ctx, ino, f);
}

/** the names of every xattr of an inode, in key order (continuation parts are skipped, not read) */
export async function listXattrNames(ctx: FsCtx, ino: number): Promise<Buffer[]> {
  const names: Buffer[] = [];
  const last = xattrLast(ino);
  let from = xattrFirst(ino);
  for (;;) {
    const kv = await ctx.items.next(from, last);
    if (!kv) return names;
    if (keyFourth(kv.key) === 0) names.push(Buffer.from(xattrNameOfPart0(kv.value)));
    from = xattrKey(ino, keySecond(kv.key), keyThird(kv.key) + 1, 0);
  }
}
