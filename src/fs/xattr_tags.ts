/*
 * scoutfs xattr tags: xattrs named scoutfs.TAG.TAG...rest whose tags
 * give them meaning beyond the inode.
 *
 *   hide.  not listed by listxattr (list-hidden-xattrs lists them)
 *   srch.  findable by name: a srch delta item (name hash, ino, xattr id)
 *          +1 when the xattr is created, -1 when it goes (search-xattrs)
 *   totl.  a name ending in .A.B.C and a value that is a u64: the
 *          filesystem-wide total and count of such xattrs per (A,B,C),
 *          kept as delta items (read-xattr-totals)
 *   indx.  a name ending in .MAJOR.MINOR (MAJOR < 256) and an empty
 *          value: an index item (MAJOR, MINOR, ino, xattr id)
 *          (read-xattr-index)
 *
 * Rules, as the original's: a name that starts with "scoutfs." and is
 * long enough to hold a tag must start with one or more tags, else
 * EINVAL; shorter scoutfs. names are plain xattrs.  Only a caller with
 * CAP_SYS_ADMIN may set or remove a tagged xattr (EPERM).  totl and indx
 * exclude each other.  Numbers in names and totl values are u64s as
 * kstrtoull reads them (decimal, 0 octal, 0x hex; no sign, no trailing
 * newline, at most 23 characters).  Setting an indx xattr that exists
 * changes nothing.
 *
 * Every tag item changes in the same transaction as the xattr's own
 * items (prepare outside hold(), which may read and fail; apply inside,
 * which cannot fail), and deleting an inode drops the tag items of its
 * xattrs (dropXattrTags).
 */
import type { FsCtx } from "./context.js";
import { itemRange } from "./context.js";
import { XATTR_HEADER_BYTES, decodeXattrHeader, xattrFirst, xattrLast, xattrNameOfPart0 } from "../format/fs_items.js";
import { keyFourth, keyThird, type Key } from "../format/key.js";
import { encodeSrchCount, encodeTotl, indxKey, srchKey, totlKey, type TotlName } from "../format/tag_items.js";
import { FsError } from "../util/errors.js";

export const SCOUTFS_XATTR_PREFIX = "scoutfs.";
const TAG_NAMES = ["hide.", "srch.", "totl.", "indx."] as const;
const TAG_LEN = 5;
/** the longest number text a name or totl value may hold: U64_MAX in octal */
export const TAG_U64_MAX_CHARS = 23;

export interface XattrTags {
  hide: boolean;
  srch: boolean;
  totl: boolean;
  indx: boolean;
}

const NO_TAGS: XattrTags = { hide: false, srch: false, totl: false, indx: false };

export const hasTags = (t: XattrTags): boolean => t.hide || t.srch || t.totl || t.indx;

/** the tags of an xattr name; EINVAL for a scoutfs. name that should hold tags and does not */
export function parseXattrTags(name: Buffer): XattrTags {
  const s = name.toString("latin1");
  if (s.length < SCOUTFS_XATTR_PREFIX.length + TAG_LEN + 1 || !s.startsWith(SCOUTFS_XATTR_PREFIX)) return NO_TAGS;
  const tags = { ...NO_TAGS };
  let at = SCOUTFS_XATTR_PREFIX.length;
  for (;;) {
    const tag = TAG_NAMES.find((t) => s.startsWith(t, at));
    if (!tag) break;
    tags[tag.slice(0, 4) as keyof XattrTags] = true;
    at += TAG_LEN;
  }
  if (at === SCOUTFS_XATTR_PREFIX.length) throw new FsError("EINVAL", `xattr ${s} has the scoutfs. prefix but no tag`);
  if (tags.totl && tags.indx) throw new FsError("EINVAL", `xattr ${s} has both the totl. and indx. tags`);
  return tags;
}

/** the tags of a stored name (which parsed when it was set) */
export function storedXattrTags(name: Buffer): XattrTags {
  try {
    return parseXattrTags(name);
  } catch {
    return NO_TAGS;
  }
}

/** a u64 as kstrtoull(s, 0) reads it, refusing a leading '+' and a trailing newline; undefined if invalid */
export function parseTagU64(text: string): bigint | undefined {
  const nul = text.indexOf("\0");
  const s = nul >= 0 ? text.slice(0, nul) : text;
  if (s.length === 0 || s.length > TAG_U64_MAX_CHARS || s.startsWith("+") || s.endsWith("\n")) return undefined;
  let digits = s;
  let radix = 10;
  if (/^0[xX]/.test(s)) {
    digits = s.slice(2);
    radix = 16;
  } else if (s.length > 1 && s.startsWith("0")) {
    digits = s.slice(1);
    radix = 8;
  }
  const valid = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return undefined;
  const prefix = radix === 16 ? "0x" : radix === 8 ? "0o" : "";
  const v = BigInt(prefix + digits);
  return v > 0xffff_ffff_ffff_ffffn ? undefined : v;
}

/** the last nr dot-separated u64s of a name; EINVAL unless there are nr of them */
function parseDottedU64s(name: string, nr: number): bigint[] {
  const out: bigint[] = new Array<bigint>(nr);
  let end = name.length;
  let u = nr - 1;
  for (let i = name.length - 1; u >= 0 && i >= 0; i--) {
    if (name[i] !== ".") continue;
    const v = parseTagU64(name.slice(i + 1, end));
    if (v === undefined) throw new FsError("EINVAL", `xattr ${name} does not end in ${nr} dotted numbers`);
    out[u--] = v;
    end = i;
  }
  if (u !== -1) throw new FsError("EINVAL", `xattr ${name} does not end in ${nr} dotted numbers`);
  return out;
}

export function parseTotlName(name: Buffer): TotlName {
  const [a, b, c] = parseDottedU64s(name.toString("latin1"), 3) as [bigint, bigint, bigint];
  return [a, b, c];
}

export function parseIndxName(name: Buffer): { major: number; minor: bigint } {
  const [major, minor] = parseDottedU64s(name.toString("latin1"), 2) as [bigint, bigint];
  if (major > 255n) throw new FsError("EINVAL", `indx major ${major} is not below 256`);
  return { major: Number(major), minor };
}

function parseTotlValue(value: Buffer): bigint {
  const v = parseTagU64(value.toString("latin1"));
  if (v === undefined) throw new FsError("EINVAL", "a totl. xattr's value must be an unsigned 64-bit number");
  return v;
}

/** the changes of tag items that one set or removal of a tagged xattr makes */
export interface TagChange {
  totl?: { key: Key; total: bigint; count: bigint };
  srch?: { hash: number; count: bigint };
  indx?: { major: number; minor: bigint; add: boolean };
  /** the xattr must not change at all (an indx xattr set again) */
  noop: boolean;
}

/**
 * What setting (newValue) or removing (undefined) a tagged xattr changes,
 * given its current value (undefined when it does not exist).  Checks
 * names and values (EINVAL); call before hold().
 */
export function prepareTagChange(
  ctx: FsCtx, name: Buffer, tags: XattrTags, oldValue: Buffer | undefined, newValue: Buffer | undefined,
): TagChange {
  const change: TagChange = { noop: false };
  if (tags.totl) {
    const key = totlKey(parseTotlName(name));
    const total = (newValue ? parseTotlValue(newValue) : 0n) - (oldValue ? parseTotlValue(oldValue) : 0n);
    const count = BigInt(newValue ? 1 : 0) - BigInt(oldValue ? 1 : 0);
    change.totl = { key, total, count };
  }
  if (tags.indx) {
    const { major, minor } = parseIndxName(name);
    if (newValue && newValue.length !== 0) throw new FsError("EINVAL", "an indx. xattr has no value");
    if (newValue && oldValue) return { noop: true };
    change.indx = { major, minor, add: newValue !== undefined };
  }
  if (tags.srch && !(newValue && oldValue)) {
    change.srch = { hash: ctx.hash(name), count: newValue ? 1n : -1n };
  }
  return change;
}

/** write the tag items of a prepared change for xattr id xid of ino; inside hold() */
export function applyTagChange(ctx: FsCtx, ino: number, xid: number, c: TagChange): void {
  if (c.totl && (c.totl.total !== 0n || c.totl.count !== 0n)) {
    ctx.items.delta(c.totl.key, encodeTotl({ total: c.totl.total, count: c.totl.count }));
  }
  if (c.srch) ctx.items.delta(srchKey(c.srch.hash, ino, xid), encodeSrchCount(c.srch.count));
  if (c.indx) {
    const key = indxKey({ major: c.indx.major, minor: c.indx.minor, ino: BigInt(ino), xid: BigInt(xid) });
    if (c.indx.add) ctx.items.set(key, Buffer.alloc(0));
    else ctx.items.delete(key);
  }
}

/**
 * An inode is being deleted: undo the tag items of each of its tagged
 * xattrs (before its xattr items go); inside hold().  A totl value is
 * short enough to be whole in part 0.
 */
export async function dropXattrTags(ctx: FsCtx, ino: number): Promise<void> {
  for await (const kv of itemRange(ctx.items, xattrFirst(ino), xattrLast(ino))) {
    if (keyFourth(kv.key) !== 0) continue;
    const name = xattrNameOfPart0(kv.value);
    const tags = storedXattrTags(name);
    if (!tags.srch && !tags.totl && !tags.indx) continue;
    const h = decodeXattrHeader(kv.value);
    const start = XATTR_HEADER_BYTES + h.nameLen;
    const value = kv.value.subarray(start, start + h.valLen);
    applyTagChange(ctx, ino, keyThird(kv.key), prepareTagChange(ctx, name, tags, value, undefined));
  }
}
