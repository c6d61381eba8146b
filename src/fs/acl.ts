/*
 * POSIX ACLs (draft 1003.1e, as Linux has them).
 *
 * Storage: an ACL is an ordinary xattr, system.posix_acl_access or
 * system.posix_acl_default, whose value is the kernel's xattr form: a
 * little-endian u32 version (2) then 8-byte entries { u16 tag, u16 perm,
 * u32 id }.  What is stored is always canonical: decoded, checked as
 * posix_acl_valid does, and encoded again (ids of the USER_OBJ,
 * GROUP_OBJ, MASK and OTHER entries become ACL_UNDEFINED_ID), so a value
 * read back is what the kernel would have produced.
 *
 * Invariants kept by the fs layer (filesystem.ts, namespace.ts, attr.ts):
 *  - the mode's permission bits always agree with the access ACL: user
 *    bits = USER_OBJ, group bits = MASK (GROUP_OBJ when there is no
 *    mask), other bits = OTHER.  Setting an access ACL sets the mode
 *    (aclEquivMode); chmod rewrites those three entries of a stored
 *    access ACL (aclChmod).
 *  - an access ACL equivalent to the mode (only USER_OBJ, GROUP_OBJ,
 *    OTHER) is never stored: setting one only sets the mode and removes
 *    any stored access ACL.
 *  - a default ACL exists only on directories.
 *  - a new inode (not a symlink) in a directory with a default ACL gets
 *    the default ACL masked by the create mode as its access ACL (unless
 *    the result is equivalent to the mode), its mode masked by the ACL,
 *    and no umask; a new directory also gets the default ACL as its own
 *    default.  Without a default ACL the umask is applied instead.
 *
 * Permission checks with ACLs are the kernel's (FUSE_POSIX_ACL with
 * default_permissions: it reads the ACL xattrs and caches them); this
 * module only keeps them.  The pure functions below follow the kernel's
 * posix_acl_from_xattr / posix_acl_valid / posix_acl_equiv_mode /
 * posix_acl_create_masq / posix_acl_chmod_masq; the storage functions
 * come in prepare (reads and checks, before the transaction) and apply
 * (inside hold(), cannot fail) halves like xattr.ts.
 */
import type { FsCtx } from "./context.js";
import { applyRemoveXattr, applySetXattr, findXattr, readFoundXattr, readXattrValue, type XattrFound } from "./xattr.js";
import { S_IFLNK, S_IFMT, S_ISGID, isDirMode, type InodeVal } from "../format/fs_items.js";
import { FsError } from "../util/errors.js";

export const ACL_ACCESS_NAME = "system.posix_acl_access";
export const ACL_DEFAULT_NAME = "system.posix_acl_default";

export const ACL_TAG = { USER_OBJ: 0x01, USER: 0x02, GROUP_OBJ: 0x04, GROUP: 0x08, MASK: 0x10, OTHER: 0x20 } as const;
const KNOWN_TAGS: ReadonlySet<number> = new Set(Object.values(ACL_TAG));
export const ACL_UNDEFINED_ID = 0xffff_ffff;
const ACL_XATTR_VERSION = 2;
const HEADER_BYTES = 4;
const ENTRY_BYTES = 8;
const ACL_PERMS = 0o7;
const S_IRWXUGO = 0o777;

export interface AclEntry {
  tag: number;
  /** rwx bits, 0..7 */
  perm: number;
  /** the uid of USER, the gid of GROUP, ACL_UNDEFINED_ID otherwise */
  id: number;
}

export type Acl = AclEntry[];

export type AclKind = "access" | "default";

/** which ACL an xattr name is, if it is one */
export function aclKindOfName(name: Buffer): AclKind | undefined {
  const s = name.toString("latin1");
  if (s === ACL_ACCESS_NAME) return "access";
  if (s === ACL_DEFAULT_NAME) return "default";
  return undefined;
}

const nameOfKind = (kind: AclKind): Buffer => Buffer.from(kind === "access" ? ACL_ACCESS_NAME : ACL_DEFAULT_NAME);

const hasId = (tag: number): boolean => tag === ACL_TAG.USER || tag === ACL_TAG.GROUP;

/** the entries of an xattr value (an empty list means "no ACL"): EINVAL if malformed, EOPNOTSUPP for another version */
export function decodeAcl(value: Buffer): Acl {
  if (value.length < HEADER_BYTES) throw new FsError("EINVAL", `ACL of ${value.length} bytes has no header`);
  if (value.readUInt32LE(0) !== ACL_XATTR_VERSION) throw new FsError("EOPNOTSUPP", `ACL version ${value.readUInt32LE(0)}`);
  if ((value.length - HEADER_BYTES) % ENTRY_BYTES !== 0) throw new FsError("EINVAL", `ACL of ${value.length} bytes is not whole entries`);
  const acl: Acl = [];
  for (let off = HEADER_BYTES; off < value.length; off += ENTRY_BYTES) {
    const tag = value.readUInt16LE(off);
    if (!KNOWN_TAGS.has(tag)) throw new FsError("EINVAL", `ACL entry tag ${tag}`);
    const id = value.readUInt32LE(off + 4);
    if (hasId(tag) && id === ACL_UNDEFINED_ID) throw new FsError("EINVAL", "ACL entry with an invalid id");
    acl.push({ tag, perm: value.readUInt16LE(off + 2), id: hasId(tag) ? id : ACL_UNDEFINED_ID });
  }
  return acl;
}

/**
 * EINVAL unless the ACL is well formed: perms within rwx; in order one
 * USER_OBJ, any USERs, one GROUP_OBJ, any GROUPs, a MASK (required when
 * there are USERs or GROUPs, optional otherwise), one OTHER, nothing after.
 */
export function checkAcl(acl: Acl): void {
  const bad = (why: string): never => {
    throw new FsError("EINVAL", `bad ACL: ${why}`);
  };
  // the kernel's state machine: the tag each position may hold next
  let state: number = ACL_TAG.USER_OBJ;
  let needsMask = false;
  let done = false;
  for (const e of acl) {
    if (done) bad("entries after OTHER");
    if (e.perm & ~ACL_PERMS) bad(`perm ${e.perm}`);
    switch (e.tag) {
      case ACL_TAG.USER_OBJ:
        if (state !== ACL_TAG.USER_OBJ) bad("USER_OBJ out of place");
        state = ACL_TAG.USER;
        break;
      case ACL_TAG.USER:
        if (state !== ACL_TAG.USER) bad("USER out of place");
        needsMask = true;
        break;
      case ACL_TAG.GROUP_OBJ:
        if (state !== ACL_TAG.USER) bad("GROUP_OBJ out of place");
        state = ACL_TAG.GROUP;
        break;
      case ACL_TAG.GROUP:
        if (state !== ACL_TAG.GROUP) bad("GROUP out of place");
        needsMask = true;
        break;
      case ACL_TAG.MASK:
        if (state !== ACL_TAG.GROUP) bad("MASK out of place");
        state = ACL_TAG.OTHER;
        break;
      case ACL_TAG.OTHER:
        if (state !== ACL_TAG.OTHER && !(state === ACL_TAG.GROUP && !needsMask)) bad("OTHER out of place or MASK missing");
        done = true;
        break;
      default:
        bad(`tag ${e.tag}`);
    }
  }
  if (!done) bad("incomplete");
}

export function encodeAcl(acl: Acl): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + ENTRY_BYTES * acl.length);
  b.writeUInt32LE(ACL_XATTR_VERSION, 0);
  acl.forEach((e, i) => {
    const off = HEADER_BYTES + i * ENTRY_BYTES;
    b.writeUInt16LE(e.tag, off);
    b.writeUInt16LE(e.perm, off + 2);
    b.writeUInt32LE(hasId(e.tag) ? e.id : ACL_UNDEFINED_ID, off + 4);
  });
  return b;
}

/** the minimal ACL (USER_OBJ, GROUP_OBJ, OTHER) a mode stands for */
export function aclOfMode(mode: number): Acl {
  return [
    { tag: ACL_TAG.USER_OBJ, perm: (mode >> 6) & ACL_PERMS, id: ACL_UNDEFINED_ID },
    { tag: ACL_TAG.GROUP_OBJ, perm: (mode >> 3) & ACL_PERMS, id: ACL_UNDEFINED_ID },
    { tag: ACL_TAG.OTHER, perm: mode & ACL_PERMS, id: ACL_UNDEFINED_ID },
  ];
}

/**
 * The mode a (valid) access ACL gives an inode of mode `mode` (the bits
 * outside 0777 are kept), and whether the ACL says no more than that mode.
 */
export function aclEquivMode(acl: Acl, mode: number): { mode: number; equivalent: boolean } {
  let bits = 0;
  let equivalent = true;
  for (const e of acl) {
    const p = e.perm & ACL_PERMS;
    if (e.tag === ACL_TAG.USER_OBJ) bits |= p << 6;
    else if (e.tag === ACL_TAG.GROUP_OBJ) bits |= p << 3;
    else if (e.tag === ACL_TAG.OTHER) bits |= p;
    else if (e.tag === ACL_TAG.MASK) {
      bits = (bits & ~0o70) | (p << 3);
      equivalent = false;
    } else equivalent = false;
  }
  return { mode: (mode & ~S_IRWXUGO) | bits, equivalent };
}

/**
 * A new inode's access ACL from its parent's default ACL and the mode it
 * was created with: USER_OBJ, OTHER and MASK (GROUP_OBJ without a mask)
 * are limited by the mode, and the mode by them.  acl is undefined when
 * the result is equivalent to the returned mode (nothing to store).
 */
export function aclCreateMasq(dflt: Acl, mode: number): { acl: Acl | undefined; mode: number } {
  const acl = dflt.map((e) => ({ ...e }));
  let m = mode;
  let equivalent = true;
  let groupObj: AclEntry | undefined;
  let mask: AclEntry | undefined;
  for (const e of acl) {
    if (e.tag === ACL_TAG.USER_OBJ) {
      e.perm &= (m >> 6) & ACL_PERMS;
      m &= (e.perm << 6) | ~0o700;
    } else if (e.tag === ACL_TAG.OTHER) {
      e.perm &= m & ACL_PERMS;
      m &= e.perm | ~0o7;
    } else if (e.tag === ACL_TAG.GROUP_OBJ) {
      groupObj = e;
    } else if (e.tag === ACL_TAG.MASK) {
      mask = e;
      equivalent = false;
    } else {
      equivalent = false;
    }
  }
  const g = mask ?? groupObj;
  if (!g) throw new FsError("EIO", "default ACL without GROUP_OBJ");
  g.perm &= (m >> 3) & ACL_PERMS;
  m &= (g.perm << 3) | ~0o70;
  return { acl: equivalent ? undefined : acl, mode: (mode & ~S_IRWXUGO) | (m & S_IRWXUGO) };
}

/** an access ACL after chmod to mode: USER_OBJ, MASK (or GROUP_OBJ) and OTHER take the mode's bits */
export function aclChmod(acl: Acl, mode: number): Acl {
  const out = acl.map((e) => ({ ...e }));
  const mask = out.find((e) => e.tag === ACL_TAG.MASK) ?? out.find((e) => e.tag === ACL_TAG.GROUP_OBJ);
  if (!mask) throw new FsError("EIO", "access ACL without GROUP_OBJ");
  for (const e of out) {
    if (e.tag === ACL_TAG.USER_OBJ) e.perm = (mode >> 6) & ACL_PERMS;
    else if (e.tag === ACL_TAG.OTHER) e.perm = mode & ACL_PERMS;
  }
  mask.perm = (mode >> 3) & ACL_PERMS;
  return out;
}

/* ------------------------------------------------------------------ */
/* keeping ACLs in xattrs                                              */

/** a change to one ACL xattr of one inode, prepared outside the transaction */
export interface AclWrite {
  name: Buffer;
  /** the canonical value to store, or undefined to remove it */
  value: Buffer | undefined;
  found: XattrFound | undefined;
  /** the inode's new mode, when it changes */
  mode?: number;
}

/** the stored ACL of one kind, if any */
export async function readAcl(ctx: FsCtx, ino: number, kind: AclKind): Promise<Acl | undefined> {
  const value = await readXattrValue(ctx, ino, nameOfKind(kind));
  return value ? decodeAcl(value) : undefined;
}

/** setxattr of an ACL name on ino (loaded as v): what to store and the new mode (without setgid if killSgid) */
export async function prepareSetAcl(ctx: FsCtx, ino: number, v: InodeVal, kind: AclKind, value: Buffer, killSgid = false): Promise<AclWrite> {
  const acl = decodeAcl(value);
  if (acl.length > 0) checkAcl(acl);
  const name = nameOfKind(kind);
  const found = await findXattr(ctx, ino, name);
  if (kind === "default") {
    if (!isDirMode(v.mode)) {
      if (acl.length > 0) throw new FsError("EACCES", "default ACL on a non-directory");
      return { name, value: undefined, found };
    }
    return { name, value: acl.length > 0 ? encodeAcl(acl) : undefined, found };
  }
  if (acl.length === 0) return { name, value: undefined, found };
  const eq = aclEquivMode(acl, v.mode);
  const mode = killSgid ? eq.mode & ~S_ISGID : eq.mode;
  return { name, value: eq.equivalent ? undefined : encodeAcl(acl), found, mode };
}

/** chmod of ino to mode (the whole new mode): the rewritten access ACL, if one is stored */
export async function prepareChmodAcl(ctx: FsCtx, ino: number, mode: number): Promise<AclWrite | undefined> {
  if ((mode & S_IFMT) === S_IFLNK) return undefined;
  const name = nameOfKind("access");
  const found = await findXattr(ctx, ino, name);
  if (!found) return undefined;
  const acl = decodeAcl(await readFoundXattr(ctx, ino, found));
  const out = aclChmod(acl, mode);
  const eq = aclEquivMode(out, mode);
  return { name, value: eq.equivalent ? undefined : encodeAcl(out), found };
}

/** write a prepared ACL change (and the mode); inside hold(), with v to be flushed by the caller */
export function applyAclWrite(ctx: FsCtx, ino: number, v: InodeVal, w: AclWrite): void {
  if (w.value) applySetXattr(ctx, ino, v, w.name, w.value, w.found);
  else if (w.found) applyRemoveXattr(ctx, ino, w.found);
  if (w.mode !== undefined) v.mode = w.mode;
}

/**
 * A new inode's mode and ACLs: from dflt (its parent's default ACL,
 * read before the transaction) if there is one, else the mode less the
 * umask.  Symlinks get neither.  v is the new inode (no xattrs yet);
 * inside hold(), before the caller flushes v.
 */
export function applyInheritedAcl(ctx: FsCtx, ino: number, v: InodeVal, dflt: Acl | undefined, umask: number): void {
  if ((v.mode & S_IFMT) === S_IFLNK) return;
  if (!dflt) {
    v.mode &= ~(umask & S_IRWXUGO);
    return;
  }
  if (isDirMode(v.mode)) applySetXattr(ctx, ino, v, nameOfKind("default"), encodeAcl(dflt), undefined);
  const masq = aclCreateMasq(dflt, v.mode);
  v.mode = masq.mode;
  if (masq.acl) applySetXattr(ctx, ino, v, nameOfKind("access"), encodeAcl(masq.acl), undefined);
}
