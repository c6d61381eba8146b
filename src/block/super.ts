/*
 * Reading and writing the super block.  There are two copies at fixed
 * small block numbers; each commit writes the copy that does not hold
 * the current super block (the writer alternates, starting from the copy
 * it read), so the previous commit's copy is never touched while the new
 * one is written.  A reader verifies both and takes the valid one with
 * the greater seq: a torn super block write falls back to the previous
 * commit, which is intact by the copy-on-write rule.
 */
import { BLOCK_MAGIC, BLOCK_SM_SIZE, DATA_SUPER_SM_BLKNO, FORMAT_VERSION_MAX, FORMAT_VERSION_MIN, SUPER_SM_BLKNOS } from "../format/constants.js";
import { readHeader, sealBlock, verifyBlock } from "../format/block.js";
import { decodeSuper, encodeSuper, SUPER_FLAG_DATA_DEV, type SuperBlock } from "../format/structs.js";
import type { BlockDevice } from "./device.js";
import { CorruptionError, FsError } from "../util/errors.js";

export interface SuperRead {
  super: SuperBlock;
  /** which copy (index into SUPER_SM_BLKNOS) holds it */
  copy: number;
  /** problems with the copies, for print */
  problems: string[];
}

export async function readSuper(dev: BlockDevice): Promise<SuperRead> {
  const problems: string[] = [];
  let best: SuperBlock | undefined;
  let bestCopy = 0;
  for (const [copy, blkno] of SUPER_SM_BLKNOS.entries()) {
    const buf = await dev.read(blkno * BLOCK_SM_SIZE, BLOCK_SM_SIZE);
    const problem = verifyBlock(buf, { magic: BLOCK_MAGIC.super, blkno });
    if (problem) {
      problems.push(`super block copy at small block ${blkno}: ${problem}`);
      continue;
    }
    const s = decodeSuper(buf);
    s.fsid = readHeader(buf).fsid;
    if (!best || s.seq > best.seq) {
      best = s;
      bestCopy = copy;
    }
  }
  if (!best) {
    if (problems.every((p) => p.endsWith("all zeros"))) throw new FsError("EINVAL", `${dev.name}: no scoutfs super block found`);
    throw new CorruptionError(SUPER_SM_BLKNOS[0], problems.join("; "));
  }
  if (best.formatVersion < FORMAT_VERSION_MIN || best.formatVersion > FORMAT_VERSION_MAX) {
    throw new FsError("EINVAL", `${dev.name}: format version ${best.formatVersion} is outside supported range ${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}`);
  }
  return { super: best, copy: bestCopy, problems };
}

/** write the super block into copy 0 or 1 */
export async function writeSuper(dev: BlockDevice, s: SuperBlock, copy: number): Promise<void> {
  const buf = Buffer.alloc(BLOCK_SM_SIZE);
  encodeSuper(s, buf);
  const blkno = SUPER_SM_BLKNOS[copy]!;
  sealBlock(buf, BLOCK_MAGIC.super, s.fsid, blkno, s.seq);
  await dev.write(blkno * BLOCK_SM_SIZE, buf);
}

/** The data device's copy identifies it as belonging to the filesystem. */
export async function writeDataSuper(dev: BlockDevice, s: SuperBlock): Promise<void> {
  const buf = Buffer.alloc(BLOCK_SM_SIZE);
  encodeSuper({ ...s, flags: s.flags | SUPER_FLAG_DATA_DEV }, buf);
  sealBlock(buf, BLOCK_MAGIC.dataSuper, s.fsid, DATA_SUPER_SM_BLKNO, s.seq);
  await dev.write(DATA_SUPER_SM_BLKNO * BLOCK_SM_SIZE, buf);
}

export async function checkDataSuper(dev: BlockDevice, fsid: bigint): Promise<void> {
  const buf = await dev.read(DATA_SUPER_SM_BLKNO * BLOCK_SM_SIZE, BLOCK_SM_SIZE);
  const problem = verifyBlock(buf, { magic: BLOCK_MAGIC.dataSuper, fsid, blkno: DATA_SUPER_SM_BLKNO });
  if (problem) throw new FsError("EINVAL", `${dev.name}: not the data device of this filesystem (${problem})`);
}
