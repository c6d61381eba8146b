/*
 * `scoutfs move-blocks FROM -f OFF -l LEN TO -t OFF [--stage -V VERS]`:
 * move the extents of a region of FROM into TO (no data is copied), with
 * the original's options and messages.  Both files are opened for
 * writing first.  --stage and -V (ours; the original's ioctl has them,
 * its command did not) move the blocks into offline extents of TO whose
 * data_version is VERS, staging TO without changing its inode fields.
 */
import { locateFile, requestMount } from "../control/client.js";
import { UsageError, parseSizeU64, parseU64 } from "./parse.js";
import { FsError } from "../util/errors.js";

export interface MoveBlocksOptions {
  fromOffset?: string;
  length?: string;
  toOffset?: string;
  stage?: boolean;
  dataVersion?: string;
}

export async function moveBlocksCommand(paths: string[], o: MoveBlocksOptions): Promise<void> {
  if (paths.length > 2) throw new UsageError("more than two file path arguments given");
  const [fromPath, toPath] = paths;
  if (fromPath === undefined) throw new UsageError("must provide from file path");
  if (toPath === undefined) throw new UsageError("must provide to file path");
  if (o.fromOffset === undefined) throw new UsageError("must provide from file offset --from-offset");
  if (o.length === undefined) throw new UsageError("must provide region length --length");
  if (o.toOffset === undefined) throw new UsageError("must provide to file offset --to-offset");
  if (o.stage && o.dataVersion === undefined) throw new UsageError("must provide the destination's data version --data-version with --stage");
  const fromOff = parseU64(o.fromOffset);
  const len = parseSizeU64(o.length);
  const toOff = parseSizeU64(o.toOffset);
  const dv = o.dataVersion === undefined ? 0n : parseU64(o.dataVersion);
  const from = await locateFile(fromPath, "w");
  const to = await locateFile(toPath, "w");
  if (from.mount.socketPath !== to.mount.socketPath) throw new FsError("EXDEV", `'${fromPath}' and '${toPath}' are on different mounts`);
  await requestMount(to.path, "moveBlocks", {
    fromIno: from.ino,
    toIno: to.ino,
    fromOff: fromOff.toString(),
    len: len.toString(),
    toOff: toOff.toString(),
    stage: !!o.stage,
    dataVersion: dv.toString(),
  });
}
