/*
 * Who a process is, read from /proc/PID/status: its filesystem uid and
 * gid (what the kernel checks file access with), its supplementary
 * groups, its thread group id, and its effective capabilities.
 *
 * The FUSE request header names the calling task by its thread id; a
 * thread's /proc/TID/status describes the same credentials as its
 * process's, so either works.  The answer is only as good as the pid: a
 * process that exits between asking and our read gives undefined (never a
 * guess), and a reused pid is the caller's risk as with any pid.
 */
import fs from "node:fs";

export interface ProcCreds {
  /** fsuid: the uid file access is checked with */
  uid: number;
  /** fsgid */
  gid: number;
  groups: number[];
  /** the thread group (process) id */
  tgid: number;
  /** effective capability set, one bit per CAP_* number */
  capEff: bigint;
}

/** capability numbers (linux/capability.h) */
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_SYS_ADMIN = 21;

export function hasCap(capEff: bigint, cap: number): boolean {
  return ((capEff >> BigInt(cap)) & 1n) === 1n;
}

/** the credentials of pid, or undefined if it is gone or unreadable */
export function readProcCreds(pid: number): ProcCreds | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  return parseProcStatus(text);
}

/** readProcCreds without blocking the event loop (for request paths) */
export async function readProcCredsAsync(pid: number): Promise<ProcCreds | undefined> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = await fs.promises.readFile(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  return parseProcStatus(text);
}

/** the fields of a /proc/PID/status text; undefined if one is missing */
export function parseProcStatus(text: string): ProcCreds | undefined {
  const field = (name: string): string | undefined => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(text);
    return m?.[1]?.trim();
  };
  const ids = (name: string): number[] | undefined => {
    const v = field(name);
    if (v === undefined) return undefined;
    const nums = v === "" ? [] : v.split(/\s+/).map(Number);
    return nums.every((n) => Number.isSafeInteger(n) && n >= 0) ? nums : undefined;
  };
  const uids = ids("Uid");
  const gids = ids("Gid");
  const groups = ids("Groups");
  const tgid = ids("Tgid");
  const cap = field("CapEff");
  // Uid/Gid list real, effective, saved and filesystem ids
  if (!uids || uids.length < 4 || !gids || gids.length < 4 || !groups || !tgid || tgid.length !== 1) return undefined;
  if (cap === undefined || !/^[0-9a-fA-F]{1,16}$/.test(cap)) return undefined;
  return { uid: uids[3]!, gid: gids[3]!, groups, tgid: tgid[0]!, capEff: BigInt(`0x${cap}`) };
}
