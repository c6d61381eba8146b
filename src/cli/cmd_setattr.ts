/*
 * `scoutfs setattr FILE [-V VERS] [-s SIZE [-o]] [-t CTIME] [-r CRTIME]`:
 * what a restore from an archive sets on a new, empty file (the
 * original's setattr_more): the data_version, the size (sparse, or with
 * -o offline, to be staged), ctime and crtime as SECONDS.NANOSECONDS.
 * The argument rules and their messages are the original's; the file is
 * opened for writing first.  ctime not given is set to now (the original
 * set it, and crtime, to 0 when not given); crtime not given is kept.
 */
import { locateFile, requestMount } from "../control/client.js";
import { UsageError, parseSizeU64, parseTimespec, parseU64 } from "./parse.js";

export interface SetattrOptions {
  ctime?: string;
  crtime?: string;
  dataVersion?: string;
  size?: string;
  offline?: boolean;
}

export async function setattrCommand(file: string | undefined, o: SetattrOptions): Promise<void> {
  const ctime = o.ctime === undefined ? null : parseTimespec(o.ctime);
  const crtime = o.crtime === undefined ? null : parseTimespec(o.crtime);
  const dv = o.dataVersion === undefined ? 0n : parseU64(o.dataVersion);
  if (o.dataVersion !== undefined && dv === 0n) throw new UsageError("data version must not be 0");
  const size = o.size === undefined ? 0n : parseSizeU64(o.size);
  if (file === undefined) throw new UsageError("no filename given");
  if (size > 0n && dv === 0n) throw new UsageError("must provide data-version if using --size option");
  if (size === 0n && o.offline) throw new UsageError("must provide size if using --offline option");
  const f = await locateFile(file, "w");
  await requestMount(f.path, "setattrMore", { ino: f.ino, dataVersion: dv.toString(), size: size.toString(), offline: !!o.offline, ctime, crtime });
}
