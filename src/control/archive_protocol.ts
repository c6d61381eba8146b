/*
 * The control ops of the archive commands (release, stage, punch-offline,
 * move-blocks, setattr, get-fiemap, data-waiting, data-wait-err): their
 * arguments and results, part of protocol.ts ControlOps.
 *
 * Offsets, lengths and data versions are u64s the user typed, so they
 * travel as decimal strings and the daemon applies the original's rules
 * to the full 64-bit values (overflow, alignment) before it narrows them
 * to what the filesystem holds.  Staged contents travel as base64 in
 * chunks of at most STAGE_CHUNK_BYTES, so a request stays well inside the
 * protocol's line limit.
 */

/** bytes of file contents one stage request carries (base64: 4/3 of it on the wire) */
export const STAGE_CHUNK_BYTES = 512 * 1024;

/** one extent as fiemap reports it, in 4 KiB blocks */
export interface FiemapExtentInfo {
  logical: number;
  /** block on the data device; 0 for offline extents */
  physical: number;
  length: number;
  offline: boolean;
  unwritten: boolean;
}

export interface DataWaitingEntryInfo {
  ino: number;
  iblock: number;
  /** DATA_WAIT_OP bits (1 read, 2 write, 4 change_size) */
  op: number;
}

export interface TimespecArg {
  sec: number;
  nsec: number;
}

export interface ArchiveOps {
  release: { args: { ino: number; offset: string; length: string; dataVersion: string }; result: Record<string, never> };
  stage: { args: { ino: number; offset: string; dataVersion: string; dataB64: string }; result: { written: number } };
  punchOffline: { args: { ino: number; offset: string; length: string; dataVersion: string }; result: Record<string, never> };
  moveBlocks: {
    args: { fromIno: number; toIno: number; fromOff: string; len: string; toOff: string; stage: boolean; dataVersion: string };
    result: Record<string, never>;
  };
  setattrMore: {
    args: { ino: number; dataVersion: string; size: string; offline: boolean; ctime: TimespecArg | null; crtime: TimespecArg | null };
    result: Record<string, never>;
  };
  /** up to limit extents starting at or after block fromBlock */
  fiemap: { args: { ino: number; fromBlock: number; limit: number }; result: { extents: FiemapExtentInfo[] } };
  /** up to limit entries after (afterIno, afterIblock) */
  dataWaiting: { args: { afterIno: string; afterIblock: string; limit: number }; result: { entries: DataWaitingEntryInfo[] } };
  /** err: a negative errno number, as the original takes it */
  dataWaitErr: { args: { ino: number; offset: string; count: string; op: number; err: number }; result: { count: number } };
}
