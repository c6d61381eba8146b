/*
 * The header that starts every metadata block, large or small, and its
 * checksum.
 *
 *   magic u32 | crc u32 | fsid u64 | blkno u64 | seq u64      (little-endian)
 *
 * The crc is crc32c of every byte of the block after the crc field.  A
 * reader always knows what it expects (the magic of the kind of block,
 * the fsid of the filesystem, the blkno it read, and the seq recorded in
 * the reference it followed), so any mismatch is corruption or a stale
 * reference, named with the block number.
 */
import { crc32c } from "@node-rs/crc32";
import { BLOCK_HEADER_BYTES } from "./constants.js";

export interface BlockHeader {
  magic: number;
  crc: number;
  fsid: bigint;
  blkno: number;
  seq: number;
}

export function blockCrc(block: Buffer): number {
  return crc32c(block.subarray(8)) >>> 0;
}

export function readHeader(block: Buffer): BlockHeader {
  return {
    magic: block.readUInt32LE(0),
    crc: block.readUInt32LE(4),
    fsid: block.readBigUInt64LE(8),
    blkno: Number(block.readBigUInt64LE(16)),
    seq: Number(block.readBigUInt64LE(24)),
  };
}

/** Fill in the header and checksum of a block whose payload is already written. */
export function sealBlock(block: Buffer, magic: number, fsid: bigint, blkno: number, seq: number): void {
  block.writeUInt32LE(magic, 0);
  block.writeBigUInt64LE(fsid, 8);
  block.writeBigUInt64LE(BigInt(blkno), 16);
  block.writeBigUInt64LE(BigInt(seq), 24);
  block.writeUInt32LE(blockCrc(block), 4);
}

export interface BlockExpect {
  magic: number;
  fsid?: bigint;
  blkno: number;
  /** the seq recorded in the reference that led here; undefined for super/quorum blocks */
  seq?: number;
}

/** Returns undefined when the block is what was expected, else the problem in words. */
export function verifyBlock(block: Buffer, want: BlockExpect): string | undefined {
  const h = readHeader(block);
  if (h.magic !== want.magic) {
    if (h.magic === 0 && h.crc === 0 && block.every((b) => b === 0)) return "block is all zeros";
    return `bad magic 0x${h.magic.toString(16)} (expected 0x${want.magic.toString(16)})`;
  }
  const crc = blockCrc(block);
  if (crc !== h.crc) return `bad crc 0x${h.crc.toString(16)} (computed 0x${crc.toString(16)})`;
  if (want.fsid !== undefined && h.fsid !== want.fsid) return `wrong fsid ${h.fsid.toString(16)}`;
  if (h.blkno !== want.blkno) return `wrong blkno ${h.blkno} in header`;
  if (want.seq !== undefined && h.seq !== want.seq) return `stale: seq ${h.seq} in header, reference has ${want.seq}`;
  return undefined;
}

export { BLOCK_HEADER_BYTES };
