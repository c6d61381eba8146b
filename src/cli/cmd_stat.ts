/*
 * `scoutfs stat [-s FIELD] FILE`: the scoutfs fields of an inode that
 * stat(2) does not show (fields.ts layout): meta_seq, data_seq,
 * data_version, online and offline blocks, and crtime as SEC.NSEC.  The
 * file is opened for reading first, as the original did for its ioctl.
 */
import { locateFile, requestMount } from "../control/client.js";
import type { StatMoreInfo } from "../control/protocol.js";
import { formatFields, selectField, type FieldList } from "./fields.js";

export const STAT_FIELDS: FieldList<StatMoreInfo> = [
  ["meta_seq", (s) => String(s.metaSeq)],
  ["data_seq", (s) => String(s.dataSeq)],
  ["data_version", (s) => String(s.dataVersion)],
  ["online_blocks", (s) => String(s.onlineBlocks)],
  ["offline_blocks", (s) => String(s.offlineBlocks)],
  ["crtime", (s) => `${s.crtime.sec}.${String(s.crtime.nsec).padStart(9, "0")}`],
];

export async function statCommand(o: { file: string; singleField?: string }, out: (line: string) => void): Promise<void> {
  if (o.singleField !== undefined) selectField(STAT_FIELDS, o.singleField);
  const f = await locateFile(o.file, "r");
  const info = await requestMount(f.path, "stat", { ino: f.ino });
  for (const line of formatFields(STAT_FIELDS, info, o.singleField)) out(line);
}
