/*
 * `scoutfs walk-inodes {meta_seq|data_seq} FIRST LAST [-p PATH]`: print
 * the inodes of an index from FIRST to LAST, asking the mount in batches
 * over its control socket.  Positions are MAJOR[.MINOR[.INO]] ("-1" is
 * the largest).  Output is the original's table: a header line every 25
 * entries, then "#  major  minor  ino" columns.  Only committed changes
 * are listed (the mount walks its committed items).
 */
import { UsageError } from "./parse.js";
import { withMount } from "../control/client.js";
import { indexPosToWire } from "../control/protocol.js";
import { selectedPath } from "../control/locate.js";
import { formatWalk, nextPos, parseWalkPos, type IndexName, type WalkEntry } from "../client/walk_inodes.js";

const BATCH = 1024;

export interface WalkInodesOptions {
  index: string;
  first: string;
  last: string;
  path?: string;
}

export async function walkInodesCommand(o: WalkInodesOptions, out: (line: string) => void): Promise<void> {
  const index = o.index.toLowerCase();
  if (index !== "meta_seq" && index !== "data_seq") throw new UsageError(`unknown index '${o.index}', try 'meta_seq' or 'data_seq'`);
  const first = parseWalkPos(o.first);
  if (!first) throw new UsageError(`invalid first position '${o.first}', try '1.2.3' or '-1'`);
  const last = parseWalkPos(o.last);
  if (!last) throw new UsageError(`invalid last position '${o.last}', try '1.2.3' or '-1'`);
  const where = selectedPath(o.path);

  await withMount(where, async (c) => {
    let total = 0;
    let from: WalkEntry | null = first;
    while (from) {
      const r = await c.request("walkInodes", { index: index as IndexName, first: indexPosToWire(from), last: indexPosToWire(last), limit: BATCH });
      if (r.entries.length === 0) break;
      const entries = r.entries.map((e) => ({ major: BigInt(e.major), minor: e.minor, ino: BigInt(e.ino) }));
      for (const line of formatWalk(entries, total)) out(line);
      total += entries.length;
      from = nextPos(entries[entries.length - 1]!);
    }
  });
}
