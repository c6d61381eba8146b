/*
 * `scoutfs get-attr-x FILE [-m] [-d] [-v] [-n] [-f] [-c] [-r] [-s] [-t] [-p]`
 * and `scoutfs set-attr-x FILE [-v VERSION] [-s SIZE] [-c SECS.NSECS]
 * [-r SECS.NSECS] [-t 0|1] [-p PROJECT_ID] ...`: the original's
 * extensible attributes.
 *
 * get prints the attributes its options name, all when none: with one,
 * only the value; with several, "name: value" lines in a fixed order
 * (meta_seq, data_seq, data_version, online_blocks, offline_blocks,
 * ctime, crtime, size, retention, project_id).  set takes the same
 * options with values; meta_seq, data_seq and the block counts are
 * accepted and ignored as by the original, and setting nothing does
 * nothing.
 */
import { locateFile, requestMount } from "../control/client.js";
import type { AttrXInfo } from "../control/attr_x_protocol.js";
import { IAX, IAX_ALL } from "../fs/attr_x.js";
import { UsageError, parseTimespec, parseU64 } from "./parse.js";

/** the options: the original's long names (commander keeps them as the option keys), mask bits, in print order */
export const ATTR_X_FIELDS = [
  { opt: "meta_seq", bit: IAX.metaSeq, short: "m", arg: "SEQ", help: "Inode metadata change index sequence number" },
  { opt: "data_seq", bit: IAX.dataSeq, short: "d", arg: "SEQ", help: "File data change index sequence number" },
  { opt: "data_version", bit: IAX.dataVersion, short: "v", arg: "VERSION", help: "File data contents version" },
  { opt: "online_blocks", bit: IAX.onlineBlocks, short: "n", arg: "COUNT", help: "Online data block count" },
  { opt: "offline_blocks", bit: IAX.offlineBlocks, short: "f", arg: "COUNT", help: "Offline data block count" },
  { opt: "ctime", bit: IAX.ctime, short: "c", arg: "SECS.NSECS", help: "Inode change time (POSIX ctime)" },
  { opt: "crtime", bit: IAX.crtime, short: "r", arg: "SECS.NSECS", help: "scoutfs creation time" },
  { opt: "size", bit: IAX.size, short: "s", arg: "SIZE", help: "Inode size" },
  { opt: "retention", bit: IAX.retention, short: "t", arg: "0|1", help: "Retention flag" },
  { opt: "project_id", bit: IAX.projectId, short: "p", arg: "PROJECT_ID", help: "Project ID" },
] as const;

function valueText(a: AttrXInfo, bit: number): string {
  switch (bit) {
    case IAX.metaSeq: return String(a.metaSeq);
    case IAX.dataSeq: return String(a.dataSeq);
    case IAX.dataVersion: return String(a.dataVersion);
    case IAX.onlineBlocks: return String(a.onlineBlocks);
    case IAX.offlineBlocks: return String(a.offlineBlocks);
    case IAX.ctime: return `${a.ctime.sec}.${a.ctime.nsec}`;
    case IAX.crtime: return `${a.crtime.sec}.${a.crtime.nsec}`;
    case IAX.size: return String(a.size);
    case IAX.retention: return a.retention ? "1" : "0";
    default: return a.projectId;
  }
}

export function formatAttrX(a: AttrXInfo, mask: number): string[] {
  const fields = ATTR_X_FIELDS.filter((f) => mask & f.bit);
  return fields.map((f) => (fields.length > 1 ? `${f.opt}: ${valueText(a, f.bit)}` : valueText(a, f.bit)));
}

export async function getAttrXCommand(file: string | undefined, o: Record<string, boolean | undefined>, out: (line: string) => void): Promise<void> {
  if (file === undefined) throw new UsageError("no filename given");
  let mask = ATTR_X_FIELDS.filter((f) => o[f.opt]).reduce((m, f) => m | f.bit, 0);
  if (mask === 0) mask = IAX_ALL;
  const f = await locateFile(file, "r");
  const a = await requestMount(f.path, "getAttrX", { ino: f.ino, mask });
  for (const line of formatAttrX(a, mask)) out(line);
}

export async function setAttrXCommand(file: string | undefined, o: Record<string, string | undefined>): Promise<void> {
  if (file === undefined) throw new UsageError("no filename given");
  let mask = 0;
  const u64 = (opt: string): bigint => parseU64(o[opt]!);
  for (const f of ATTR_X_FIELDS) if (o[f.opt] !== undefined) mask |= f.bit;
  // every value parses, even of the fields set ignores
  for (const opt of ["meta_seq", "data_seq", "online_blocks", "offline_blocks"]) if (o[opt] !== undefined) u64(opt);
  const dataVersion = mask & IAX.dataVersion ? u64("data_version") : 0n;
  if (mask & IAX.dataVersion && dataVersion === 0n) throw new UsageError("data version must not be 0");
  const size = mask & IAX.size ? u64("size") : 0n;
  const ctime = o.ctime !== undefined ? parseTimespec(o.ctime) : null;
  const crtime = o.crtime !== undefined ? parseTimespec(o.crtime) : null;
  const retention = mask & IAX.retention ? u64("retention") !== 0n : false;
  const projectId = mask & IAX.projectId ? u64("project_id") : 0n;
  if (mask === 0) return;
  const f = await locateFile(file, "r");
  await requestMount(f.path, "setAttrX", {
    ino: f.ino,
    mask,
    dataVersion: dataVersion.toString(),
    size: size.toString(),
    ctime,
    crtime,
    retention,
    projectId: projectId.toString(),
  });
}
