/*
 * The caller of a control request, and the permission checks the
 * original's ioctls made of theirs.
 *
 * A connection learns who is at the other end once (auth.ts) and every
 * handler gets that ControlCaller.  Ops that the original guarded with a
 * capability check requireSysAdmin / requireDacReadSearch; ops on a file
 * that the original reached through an open file check what opening it
 * would have (requireAccess on the inode's mode, owner and group, as the
 * kernel does without ACLs; root passes read and write always, and
 * execute when any execute bit is set).
 */
import { FsError } from "../util/errors.js";
import { CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, hasCap, type ProcCreds } from "../util/proc_creds.js";

export interface ControlCaller {
  uid: number;
  gid: number;
  groups: number[];
  /** the calling process */
  pid: number;
  /** holds CAP_SYS_ADMIN */
  sysAdmin: boolean;
  /** holds CAP_DAC_READ_SEARCH */
  dacReadSearch: boolean;
}

export const MAY_READ = 4;
export const MAY_WRITE = 2;
export const MAY_EXEC = 1;

export function callerOfCreds(c: ProcCreds): ControlCaller {
  return {
    uid: c.uid,
    gid: c.gid,
    groups: c.groups,
    pid: c.tgid,
    sysAdmin: hasCap(c.capEff, CAP_SYS_ADMIN),
    dacReadSearch: hasCap(c.capEff, CAP_DAC_READ_SEARCH),
  };
}

export function requireSysAdmin(c: ControlCaller): void {
  if (!c.sysAdmin) throw new FsError("EPERM", "Operation not permitted (needs CAP_SYS_ADMIN)");
}

export function requireDacReadSearch(c: ControlCaller): void {
  if (!c.dacReadSearch) throw new FsError("EPERM", "Operation not permitted (needs CAP_DAC_READ_SEARCH)");
}

export interface AccessAttr {
  mode: number;
  uid: number;
  gid: number;
}

/** would the kernel let c read (4), write (2) or execute (1) a file with these attributes */
export function mayAccess(c: ControlCaller, attr: AccessAttr, mask: number): boolean {
  if (c.uid === 0) {
    if ((mask & MAY_EXEC) === 0) return true;
    return (attr.mode & 0o111) !== 0 || (attr.mode & 0o170000) === 0o040000;
  }
  let bits: number;
  if (c.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (c.gid === attr.gid || c.groups.includes(attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & mask) === mask;
}

export function requireAccess(c: ControlCaller, attr: AccessAttr, mask: number): void {
  if (!mayAccess(c, attr, mask)) throw new FsError("EACCES", "Permission denied");
}
