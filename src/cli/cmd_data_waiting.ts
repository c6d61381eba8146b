/*
 * The tasks waiting for offline blocks, as the original's commands show
 * and fail them:
 *
 *   scoutfs data-waiting -I INO -B BLOCK [-p PATH]
 *       "ino N iblock N ops read,write,change_size" for every block with
 *       waiters after (INO, BLOCK) (0 0: all), in (ino, iblock) order,
 *       asked of the mount in batches over one connection
 *   scoutfs data-wait-err -I INO -V VERS -F OFF -C COUNT -O OP -E ERR [-p PATH]
 *       fail the waiters of OP ("read", "write", "change_size") on the
 *       blocks of [OFF, OFF+COUNT) of INO with the errno -ERR; prints
 *       "data_wait_err found N waiters."  VERS is required and ignored,
 *       as by the original since its data_version check was dropped.
 */
import { requestMount, withMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import { UsageError, parseSizeU64, parseU64 } from "./parse.js";
import { DATA_WAIT_OP } from "../fs/data_waiting.js";
import { FsError } from "../util/errors.js";

const BATCH = 256;
const OPS: ReadonlyArray<readonly [number, string]> = [
  [DATA_WAIT_OP.read, "read"],
  [DATA_WAIT_OP.write, "write"],
  [DATA_WAIT_OP.changeSize, "change_size"],
];

/** "read,write": the names of the op bits, comma-separated */
export function formatOps(op: number): string {
  return OPS.filter(([bit]) => (op & bit) !== 0)
    .map(([, name]) => name)
    .join(",");
}

function u64Opt(v: string | undefined, missing: string, bad: string): bigint {
  if (v === undefined) throw new UsageError(missing);
  try {
    return parseU64(v);
  } catch {
    throw new UsageError(bad);
  }
}

export async function dataWaitingCommand(o: { inode?: string; block?: string; path?: string }, out: (line: string) => void): Promise<void> {
  let ino = u64Opt(o.inode, "no inode given", "inode parse error");
  let iblock = u64Opt(o.block, "no blkno given", "blkno parse error");
  await withMount(selectedPath(o.path), async (c) => {
    for (;;) {
      const { entries } = await c.request("dataWaiting", { afterIno: ino.toString(), afterIblock: iblock.toString(), limit: BATCH });
      for (const e of entries) out(`ino ${e.ino} iblock ${e.iblock} ops ${formatOps(e.op)}`);
      const last = entries[entries.length - 1];
      if (!last) return;
      ino = BigInt(last.ino);
      iblock = BigInt(last.iblock);
    }
  });
}

export interface DataWaitErrOptions {
  inode?: string;
  version?: string;
  offset?: string;
  count?: string;
  op?: string;
  err?: string;
  path?: string;
}

/** -E: a negative errno, as a C integer */
function errOpt(v: string | undefined): number {
  if (v === undefined) throw new UsageError("no error given");
  const m = /^-?(0[xX][0-9a-fA-F]+|[0-9]+)$/.exec(v);
  if (!m) throw new UsageError("error parse error");
  const n = BigInt(v.startsWith("-") ? `-${m[1]!}` : m[1]!);
  if (n >= 0n || n < -4095n) throw new UsageError("errno out of range");
  return Number(n);
}

export async function dataWaitErrCommand(o: DataWaitErrOptions, out: (line: string) => void): Promise<void> {
  const ino = u64Opt(o.inode, "no inode given", "inode parse error");
  u64Opt(o.version, "no version given", "version parse error");
  if (o.offset === undefined) throw new UsageError("no offset given");
  let offset: bigint;
  try {
    offset = parseSizeU64(o.offset);
  } catch {
    throw new UsageError("offset parse error");
  }
  const count = u64Opt(o.count, "no count given", "count parse error");
  if (o.op === undefined) throw new UsageError("no operation given");
  const err = errOpt(o.err);
  const op = OPS.find(([, name]) => name === o.op)?.[0];
  if (op === undefined) throw new FsError("EINVAL", `invalid data wait op: '${o.op}'`);
  // no inode 0 or past 2^53 exists: the original answers ESTALE for an inode not in use
  if (ino === 0n || ino > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError("ESTALE", `inode ${ino} is not in use`);
  const r = await requestMount(selectedPath(o.path), "dataWaitErr", { ino: Number(ino), offset: offset.toString(), count: count.toString(), op, err });
  out(`data_wait_err found ${r.count} waiters.`);
}
