/*
 * The control ops of get-attr-x and set-attr-x, part of protocol.ts
 * ControlOps.  The project id is a u64 and travels as a decimal string;
 * the other values fit JS numbers (the filesystem keeps them below 2^53).
 */
import type { TimespecArg } from "./archive_protocol.js";

export interface AttrXInfo {
  metaSeq: number;
  dataSeq: number;
  dataVersion: number;
  onlineBlocks: number;
  offlineBlocks: number;
  ctime: TimespecArg;
  crtime: TimespecArg;
  size: number;
  retention: boolean;
  /** u64, decimal */
  projectId: string;
}

export interface AttrXSetArgs {
  ino: number;
  /** IAX bits (fs/attr_x.ts) */
  mask: number;
  /** u64s as decimal strings; only those the mask names are used */
  dataVersion: string;
  size: string;
  ctime: TimespecArg | null;
  crtime: TimespecArg | null;
  retention: boolean;
  projectId: string;
}

export interface AttrXOps {
  /** mask: the IAX bits asked for (fs/attr_x.ts); bits a format version lacks are EOPNOTSUPP */
  getAttrX: { args: { ino: number; mask: number }; result: AttrXInfo };
  setAttrX: { args: AttrXSetArgs; result: Record<string, never> };
}
