/*
 * `scoutfs get-fiemap FILE [-P|-L] [-b]`: a file's extents as the
 * original prints them (modelled on filefrag): one line per extent,
 *
 *   N: offset: LOGICAL PHYSICAL length: LENGTH flags: OUL
 *
 * in 4 KiB blocks (-b: bytes), -P printing only the physical offset and
 * -L only the logical one; the flags are O for offline (contents in the
 * archive, physical 0), U for unwritten (allocated, reading as zeros) and
 * L on the last extent, '.' where unset; then "extents: N".  Extents are
 * asked of the mount in batches over one connection.
 */
import { locateFile, withMount } from "../control/client.js";
import type { FiemapExtentInfo } from "../control/archive_protocol.js";
import { UsageError } from "./parse.js";

const BATCH = 1024;
const BS = 4096;

export interface FiemapOptions {
  physical?: boolean;
  logical?: boolean;
  byte?: boolean;
}

export function formatFiemapLine(n: number, e: FiemapExtentInfo, last: boolean, o: FiemapOptions): string {
  const unit = o.byte ? BS : 1;
  const l = e.logical * unit;
  const p = e.physical * unit;
  const offsets = o.physical ? `${p}` : o.logical ? `${l}` : `${l} ${p}`;
  const flags = `${e.offline ? "O" : "."}${e.unwritten ? "U" : "."}${last ? "L" : "."}`;
  return `${n}: offset: ${offsets} length: ${e.length * unit} flags: ${flags}`;
}

export async function fiemapCommand(file: string | undefined, o: FiemapOptions, out: (line: string) => void): Promise<void> {
  if (o.physical && o.logical) throw new UsageError("can't pass both -P and -L options");
  if (file === undefined) throw new UsageError("no filename given");
  const f = await locateFile(file, "r");
  let n = 0;
  await withMount(f.path, async (c) => {
    let pending: FiemapExtentInfo | undefined;
    for (let from = 0; ; ) {
      const { extents } = await c.request("fiemap", { ino: f.ino, fromBlock: from, limit: BATCH });
      for (const e of extents) {
        if (pending) out(formatFiemapLine(n++, pending, false, o));
        pending = e;
      }
      const last = extents[extents.length - 1];
      if (!last) break;
      from = last.logical + last.length;
    }
    if (pending) out(formatFiemapLine(n++, pending, true, o));
  });
  out(`extents: ${n}`);
}
