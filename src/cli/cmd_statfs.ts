/*
 * `scoutfs statfs [-s FIELD] [-p PATH]`: the filesystem-wide fields the
 * original printed, one "name value" line each (name left-justified in 17
 * columns, then a space), or only the value of the field -s names.  fsid
 * and rid print as 16 hex digits, the rest in decimal.  The field name is
 * checked before the mount is asked, as the original does.
 */
import { FsError } from "../util/errors.js";
import { requestMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import type { StatfsInfo } from "../control/protocol.js";

const hex16 = (dec: string): string => BigInt(dec).toString(16).padStart(16, "0");

/** the fields in the order the original prints them */
export const STATFS_FIELDS: ReadonlyArray<readonly [string, (s: StatfsInfo) => string]> = [
  ["fsid", (s) => hex16(s.fsid)],
  ["rid", (s) => hex16(s.rid)],
  ["committed_seq", (s) => String(s.committedSeq)],
  ["total_meta_blocks", (s) => String(s.totalMetaBlocks)],
  ["total_data_blocks", (s) => String(s.totalDataBlocks)],
];

/** the field -s names; EINVAL naming the known fields */
export function statfsField(name: string): (s: StatfsInfo) => string {
  const f = STATFS_FIELDS.find(([n]) => n === name);
  if (!f) throw new FsError("EINVAL", `unknown field: '${name}' (fields: ${STATFS_FIELDS.map(([n]) => n).join(", ")})`);
  return f[1];
}

export function formatStatfs(s: StatfsInfo, singleField?: string): string[] {
  if (singleField !== undefined) return [statfsField(singleField)(s)];
  return STATFS_FIELDS.map(([name, value]) => `${name.padEnd(17)} ${value(s)}`);
}

export async function statfsCommand(o: { path?: string; singleField?: string }, out: (line: string) => void): Promise<void> {
  if (o.singleField !== undefined) statfsField(o.singleField);
  const info = await requestMount(selectedPath(o.path), "statfs", {});
  for (const line of formatStatfs(info, o.singleField)) out(line);
}
