/*
 * The archive agent's commands on one file's contents, each checked by
 * the file's data_version (-V), as the original's:
 *
 *   scoutfs release FILE -V VERS [-o OFF] [-l LEN]
 *       free the blocks of a block-aligned range, leaving it offline;
 *       the length defaults to the size rounded up to a block
 *   scoutfs stage ARCHIVE FILE -V VERS [-o OFF] [-l LEN]
 *       write ARCHIVE's bytes back into FILE from OFF (a block boundary);
 *       the length defaults to ARCHIVE's size.  The bytes are read here
 *       and sent to the mount in chunks of STAGE_CHUNK_BYTES.
 *   scoutfs punch-offline FILE -V VERS -o OFF -l LEN
 *       turn the offline extents of a range into holes
 *
 * FILE is opened for writing first (the kernel checks the caller may),
 * as the original opened it before its ioctl.  Offsets and lengths are
 * u64s with K/M/G/T/P suffixes; the mount applies the ioctls' rules.
 */
import fs from "node:fs";
import { locateFile, requestMount, withMount } from "../control/client.js";
import { STAGE_CHUNK_BYTES } from "../control/archive_protocol.js";
import { UsageError, parseSizeU64, parseU64 } from "./parse.js";
import { FsError, type Errno } from "../util/errors.js";

const BS = 4096n;

export interface RangeOptions {
  dataVersion?: string;
  offset?: string;
  length?: string;
}

/** -V as the original reads it: a u64, where 0 counts as not given */
function dataVersionOpt(v: string | undefined, missing: string): bigint {
  const dv = v === undefined ? 0n : parseU64(v);
  if (dv === 0n) throw new UsageError(missing);
  return dv;
}

/** a file's size, or the one-line error of a failed stat */
function sizeOf(file: string): bigint {
  try {
    return fs.statSync(file, { bigint: true }).size;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FsError((err.code ?? "EIO") as Errno, `Could not get file size of '${file}'`);
  }
}

export async function releaseCommand(file: string | undefined, o: RangeOptions): Promise<void> {
  if (file === undefined) throw new UsageError("must provide file path");
  const dv = dataVersionOpt(o.dataVersion, "must provide file version --data-version");
  const offset = o.offset === undefined ? 0n : parseSizeU64(o.offset);
  let length = o.length === undefined ? 0n : parseSizeU64(o.length);
  if (length === 0n) length = ((sizeOf(file) + BS - 1n) / BS) * BS;
  const f = await locateFile(file, "w");
  await requestMount(f.path, "release", { ino: f.ino, offset: offset.toString(), length: length.toString(), dataVersion: dv.toString() });
}

/** read up to n bytes at pos, fewer only at the end of the file */
function readFull(fd: number, buf: Buffer, n: number, pos: number): number {
  let got = 0;
  while (got < n) {
    const r = fs.readSync(fd, buf, got, n - got, pos + got);
    if (r === 0) break;
    got += r;
  }
  return got;
}

export async function stageCommand(archive: string | undefined, file: string | undefined, o: RangeOptions): Promise<void> {
  if (archive === undefined) throw new UsageError("must provide archive file path");
  if (file === undefined) throw new UsageError("must provide to-stage file path");
  const dv = dataVersionOpt(o.dataVersion, "must provide file version with --data-version");
  let offset = o.offset === undefined ? 0n : parseSizeU64(o.offset);
  let length = o.length === undefined ? 0n : parseSizeU64(o.length);
  if (length === 0n) length = sizeOf(archive);
  let afd: number;
  try {
    afd = fs.openSync(archive, "r");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FsError((err.code ?? "EIO") as Errno, `failed to open '${archive}'`);
  }
  try {
    const f = await locateFile(file, "w");
    const buf = Buffer.alloc(STAGE_CHUNK_BYTES);
    await withMount(f.path, async (c) => {
      for (let pos = 0; length > 0n; ) {
        const want = Number(length < BigInt(STAGE_CHUNK_BYTES) ? length : BigInt(STAGE_CHUNK_BYTES));
        const got = readFull(afd, buf, want, pos);
        if (got === 0) throw new FsError("EIO", `archive '${archive}' ended ${length} bytes before the length to stage`);
        const r = await c.request("stage", { ino: f.ino, offset: offset.toString(), dataVersion: dv.toString(), dataB64: buf.toString("base64", 0, got) });
        if (r.written !== got) throw new FsError("EIO", `stage wrote ${r.written} bytes, not ${got}`);
        pos += got;
        offset += BigInt(got);
        length -= BigInt(got);
      }
    });
  } finally {
    fs.closeSync(afd);
  }
}

export async function punchOfflineCommand(file: string | undefined, o: RangeOptions): Promise<void> {
  if (file === undefined) throw new UsageError("must provide path to file");
  if (o.offset === undefined) throw new UsageError("must provide offset");
  if (o.length === undefined) throw new UsageError("must provide length");
  if (o.dataVersion === undefined) throw new UsageError("must provide data_version");
  const offset = parseSizeU64(o.offset);
  const length = parseSizeU64(o.length);
  const dv = parseU64(o.dataVersion);
  const f = await locateFile(file, "w");
  await requestMount(f.path, "punchOffline", { ino: f.ino, offset: offset.toString(), length: length.toString(), dataVersion: dv.toString() });
}
