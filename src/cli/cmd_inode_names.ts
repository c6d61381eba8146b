/*
 * From inode numbers to names, without walking the namespace:
 *
 *   scoutfs ino-path INO [-p PATH]               every path of INO from the
 *                                                root, one per line ("a/b/f")
 *   scoutfs get-referring-entries INO [-p PATH]  "dir D pos P type T name N"
 *                                                for each entry naming INO
 *   scoutfs get-allocated-inos -i INO [-s] [-p PATH]
 *                                                the inodes in use from INO to
 *                                                the end of its group of 1024
 *                                                (-s: only INO, if in use)
 *
 * Each asks the mount in batches, continuing after the last entry seen,
 * over one control connection.  An inode number beyond what this
 * filesystem hands out (2^53) names nothing: the command prints nothing,
 * as the original does for an unused number.
 */
import { requestMount, withMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import { UsageError, parseU64 } from "./parse.js";

const BATCH = 1024;

/** INO as a number, or null when it is beyond every inode number we use */
function inodeArg(arg: string): number | null {
  let v: bigint;
  try {
    v = parseU64(arg);
  } catch {
    throw new UsageError("inode parse error");
  }
  if (v === 0n) throw new UsageError("must provide inode number");
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(v);
}

export async function inoPathCommand(o: { ino: string; path?: string }, out: (line: Buffer) => void): Promise<void> {
  const ino = inodeArg(o.ino);
  if (ino === null) return;
  await withMount(selectedPath(o.path), async (c) => {
    // each answer is one path; continue after the entry it ended with
    for (let from = { dirIno: 0, dirPos: 0 }; ; ) {
      const r = await c.request("inoPath", { ino, ...from });
      if (!r) return;
      out(Buffer.from(r.pathB64, "base64"));
      from = { dirIno: r.dirIno, dirPos: r.dirPos + 1 };
    }
  });
}

export async function referringEntriesCommand(o: { ino: string; path?: string }, out: (line: Buffer) => void): Promise<void> {
  const ino = inodeArg(o.ino);
  if (ino === null) return;
  await withMount(selectedPath(o.path), async (c) => {
    for (let from = { dirIno: 0, dirPos: 0 }; ; ) {
      const { entries } = await c.request("referringEntries", { ino, ...from, limit: BATCH });
      for (const e of entries) {
        out(Buffer.concat([Buffer.from(`dir ${e.dirIno} pos ${e.dirPos} type ${e.type} name `), Buffer.from(e.nameB64, "base64")]));
      }
      const last = entries[entries.length - 1];
      if (!last || entries.length < BATCH) return;
      from = { dirIno: last.dirIno, dirPos: last.dirPos + 1 };
    }
  });
}

export async function allocatedInosCommand(o: { ino?: string; single?: boolean; path?: string }, out: (line: string) => void): Promise<void> {
  if (o.ino === undefined) throw new UsageError("must provide --ino starting inode number option");
  let start: bigint;
  try {
    start = parseU64(o.ino);
  } catch {
    throw new UsageError(`invalid inode number '${o.ino}'`);
  }
  if (start > BigInt(Number.MAX_SAFE_INTEGER)) return;
  const { inos } = await requestMount(selectedPath(o.path), "allocatedInos", { start: Number(start), limit: o.single ? 1 : 1024 });
  for (const ino of inos) {
    if (o.single && ino !== Number(start)) break;
    out(String(ino));
  }
}
