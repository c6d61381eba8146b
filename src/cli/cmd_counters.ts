/*
 * `scoutfs counters [-t] [PATH]`: a mount's counters, sorted by name, one
 * "name value" pair per line: names left-justified and values
 * right-justified, each to the widest of its column.  The original took the
 * mount's sysfs directory; here PATH is any path inside the mount (default
 * as -p elsewhere: $SCOUTFS_MOUNT_PATH, else the current directory).
 *
 * -t packs the pairs into as many columns as fit the terminal: counters
 * run down the columns, columns are two spaces apart, each sized to its own
 * widest name and value, with the fewest rows that fit the width.  Like the
 * original, -t needs a terminal on stdout or stdin to learn the width, and
 * prints one column without one.
 */
import fs from "node:fs";
import tty from "node:tty";
import { requestMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";

type Pair = readonly [name: string, value: string];

const maxLen = (ss: string[]): number => ss.reduce((m, s) => Math.max(m, s.length), 0);

/** the columns of pairs laid out in `rows` rows, and the width they take */
function layout(pairs: Pair[], rows: number): { columns: Pair[][]; width: number } {
  const columns: Pair[][] = [];
  for (let i = 0; i < pairs.length; i += rows) columns.push(pairs.slice(i, i + rows));
  const width = columns.reduce((w, col, c) => w + (c > 0 ? 2 : 0) + maxLen(col.map((p) => p[0])) + 1 + maxLen(col.map((p) => p[1])), 0);
  return { columns, width };
}

/** the output lines; terminalWidth null: one column */
export function formatCounters(pairs: Pair[], terminalWidth: number | null): string[] {
  if (pairs.length === 0) return [];
  let rows = pairs.length;
  if (terminalWidth !== null) {
    for (let r = 1; r < pairs.length; r++) {
      if (layout(pairs, r).width <= terminalWidth) {
        rows = r;
        break;
      }
    }
  }
  const { columns } = layout(pairs, rows);
  const widths = columns.map((col) => [maxLen(col.map((p) => p[0])), maxLen(col.map((p) => p[1]))] as const);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    columns.forEach((col, c) => {
      const p = col[r];
      if (p) cells.push(`${p[0].padEnd(widths[c]![0])} ${p[1].padStart(widths[c]![1])}`);
    });
    lines.push(cells.join("  "));
  }
  return lines;
}

/** the terminal's width from stdout, else stdin (as the original), else null */
export function terminalWidth(): number | null {
  if (process.stdout.isTTY && process.stdout.columns > 0) return process.stdout.columns;
  if (!tty.isatty(0)) return null;
  let fd = -1;
  try {
    // a stream of our own on the terminal behind stdin: destroying it closes only this fd
    fd = fs.openSync("/proc/self/fd/0", "r+");
    const ws = new tty.WriteStream(fd);
    const cols = ws.columns;
    ws.destroy();
    fd = -1;
    return cols > 0 ? cols : null;
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return null;
  }
}

export async function countersCommand(o: { path?: string; table: boolean }, out: (line: string) => void): Promise<void> {
  const { counters } = await requestMount(selectedPath(o.path), "counters", {});
  const pairs: Pair[] = Object.entries(counters)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([n, v]) => [n, String(v)]);
  for (const line of formatCounters(pairs, o.table ? terminalWidth() : null)) out(line);
}
