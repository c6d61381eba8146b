/*
 * `scoutfs df [-h] [-p PATH]`: metadata and data space of a mount as the
 * original's table: Type, Size (block size), Total, Used, Free, Use%,
 * each column right-aligned to its widest cell and followed by two
 * spaces.  Counts are blocks, or with -h bytes in the original's
 * two-decimal units.  Free metadata excludes the blocks the server keeps
 * for its own commits, as the original's df subtracts its reserve; Use%
 * rounds down.
 */
import { requestMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import type { StatfsInfo } from "../control/protocol.js";
import { formatBaseSize } from "./devices.js";
import { BLOCK_LG_SIZE, DATA_BLOCK_SIZE } from "../format/constants.js";

function row(type: string, sizeName: string, blockBytes: number, total: number, free: number, human: boolean): string[] {
  const used = total - free;
  const n = (blocks: number): string => (human ? formatBaseSize(blocks * blockBytes) : String(blocks));
  const pct = total > 0 ? Math.floor((used * 100) / total) : 0;
  return [type, sizeName, n(total), n(used), n(free), String(pct)];
}

export function formatDf(s: StatfsInfo, human: boolean): string[] {
  const metaFree = Math.max(0, s.freeMetaBlocks - s.reservedMetaBlocks);
  const cells = [
    ["Type", "Size", "Total", "Used", "Free", "Use%"],
    row("MetaData", "64KB", BLOCK_LG_SIZE, s.totalMetaBlocks, metaFree, human),
    row("Data", "4KB", DATA_BLOCK_SIZE, s.totalDataBlocks, s.freeDataBlocks, human),
  ];
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((cell, c) => `${cell.padStart(widths[c]!)}  `).join(""));
}

export async function dfCommand(o: { path?: string; humanReadable?: boolean }, out: (line: string) => void): Promise<void> {
  const info = await requestMount(selectedPath(o.path), "statfs", {});
  for (const line of formatDf(info, !!o.humanReadable)) out(line);
}
