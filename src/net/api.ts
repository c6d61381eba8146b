/*
 * The requests a mount's client sends to the server, as one interface.
 * Today the in-process server implements it directly (a quorum of one);
 * the network layer will carry the same requests as framed messages, so
 * every argument and result is plain data that the format layer can
 * encode.
 */
import type { BtreeRoot, LogTrees } from "../format/structs.js";

export interface OpenLogTrees {
  lt: LogTrees;
  /** the seq of the transaction the client now opens */
  seq: number;
}

export interface Roots {
  fsRoot: BtreeRoot;
  logsRoot: BtreeRoot;
  /** seq of the super block these came from */
  seq: number;
}

export interface ServerStatfs {
  totalMetaBlocks: number;
  freeMetaBlocks: number;
  /** of the free metadata blocks, those kept for the server's own commits (not for mounts' data) */
  reservedMetaBlocks: number;
  totalDataBlocks: number;
  freeDataBlocks: number;
  committedSeq: number;
  nextIno: number;
}

export interface ServerApi {
  /** a mount introduces itself; the server records it as a mounted client */
  greeting(rid: bigint): Promise<{ fsid: bigint; formatVersion: number }>;
  /** the client's open log tree with refilled allocators, and its transaction seq */
  getLogTrees(rid: bigint): Promise<OpenLogTrees>;
  /** record a committed log tree (its blocks already written and synced); returns the next one */
  commitLogTrees(lt: LogTrees): Promise<OpenLogTrees>;
  /**
   * more metadata blocks for a client whose avail list ran dry
   * mid-transaction; a transaction that mostly deletes (freesSpace) may
   * dig into the reserve
   */
  lendMeta(rid: bigint, want: number, freesSpace?: boolean): Promise<number[]>;
  getRoots(): Promise<Roots>;
  allocInodes(count: number): Promise<{ first: number; count: number }>;
  statfs(): Promise<ServerStatfs>;
  /** clean unmount: the client's log tree is finalized and merged, its allocators returned */
  farewell(rid: bigint): Promise<void>;
}
