/*
 * `scoutfs statfs [-s FIELD] [-p PATH]`: the filesystem-wide fields the
 * original printed (fields.ts layout).  fsid and rid print as 16 hex
 * digits, the rest in decimal.
 */
import { requestMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import type { StatfsInfo } from "../control/protocol.js";
import { formatFields, selectField, type FieldList } from "./fields.js";

const hex16 = (dec: string): string => BigInt(dec).toString(16).padStart(16, "0");

/** the fields in the order the original prints them */
export const STATFS_FIELDS: FieldList<StatfsInfo> = [
  ["fsid", (s) => hex16(s.fsid)],
  ["rid", (s) => hex16(s.rid)],
  ["committed_seq", (s) => String(s.committedSeq)],
  ["total_meta_blocks", (s) => String(s.totalMetaBlocks)],
  ["total_data_blocks", (s) => String(s.totalDataBlocks)],
];

export function formatStatfs(s: StatfsInfo, singleField?: string): string[] {
  return formatFields(STATFS_FIELDS, s, singleField);
}

export async function statfsCommand(o: { path?: string; singleField?: string }, out: (line: string) => void): Promise<void> {
  if (o.singleField !== undefined) selectField(STATFS_FIELDS, o.singleField);
  const info = await requestMount(selectedPath(o.path), "statfs", {});
  for (const line of formatStatfs(info, o.singleField)) out(line);
}
