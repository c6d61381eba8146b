/*
 * The control protocol: how the `scoutfs` command asks a mount daemon for
 * what the kernel original answered through ioctls and sysfs files.
 *
 * Transport: a unix stream socket per mount (locate.ts names it).  Framing:
 * newline-delimited JSON, one request object per line, one response line
 * per request, answered in the order the requests came.  A line may be at
 * most MAX_LINE_BYTES; a longer one ends the connection (after an error
 * response), since nothing after it can be framed reliably.
 *
 * A connection first authenticates (hello, a lookup through the mount,
 * auth: see auth.ts); every other op is refused with EACCES until then,
 * and handlers get the caller with the arguments.
 *
 *   request:  {"v":1,"id":7,"op":"statfs","args":{}}
 *   response: {"id":7,"ok":true,"result":{...}}
 *             {"id":7,"ok":false,"errno":"EINVAL","message":"..."}
 *
 * `v` is the protocol version: a daemon refuses a request of any other
 * version with EPROTO, so a command from a newer or older build says so in
 * one line instead of misreading a result.  Every op's arguments and result
 * are listed in ControlOps: the server's handlers and the client's request()
 * are typed from it.  u64 values that may not fit a JS number (fsid, rid)
 * travel as decimal strings; counts and seqs are numbers.
 */
import type { Errno } from "../util/errors.js";
import type { WalkEntry } from "../client/walk_inodes.js";
import type { ArchiveOps } from "./archive_protocol.js";
import type { XattrOps } from "./xattr_protocol.js";
import type { AttrXOps } from "./attr_x_protocol.js";
import type { QuotaOps } from "./quota_protocol.js";

export const CONTROL_PROTOCOL_VERSION = 1;
export const MAX_LINE_BYTES = 1 << 20;

/** what the original's statfs_more ioctl returned, and the free counts a df needs */
export interface StatfsInfo {
  /** u64, decimal */
  fsid: string;
  /** u64, decimal: this mount's random id */
  rid: string;
  /** every change made under a seq up to this one is committed */
  committedSeq: number;
  totalMetaBlocks: number;
  totalDataBlocks: number;
  freeMetaBlocks: number;
  /** free metadata blocks kept back for the server's commits (df does not count them as free) */
  reservedMetaBlocks: number;
  freeDataBlocks: number;
}

export interface CountersInfo {
  /** counter name -> value, sorted by name */
  counters: Record<string, number>;
}

/** a position in an inode index: (major, minor, ino), u64s as decimal strings */
export interface IndexPos {
  major: string;
  minor: number;
  ino: string;
}

/** a walk position as it travels (u64s as decimal strings) */
export function indexPosToWire(e: WalkEntry): IndexPos {
  return { major: e.major.toString(), minor: e.minor, ino: e.ino.toString() };
}

export interface WalkInodesArgs {
  index: "meta_seq" | "data_seq";
  first: IndexPos;
  last: IndexPos;
  /** at most this many entries (the command asks again after the last one) */
  limit: number;
}

export interface WalkInodesInfo {
  entries: IndexPos[];
}

/** what the original's stat_more ioctl returned of an inode */
export interface StatMoreInfo {
  metaSeq: number;
  dataSeq: number;
  dataVersion: number;
  onlineBlocks: number;
  offlineBlocks: number;
  crtime: { sec: number; nsec: number };
}

/** an entry that names an inode; names are bytes, sent as base64 */
export interface ReferringEntryInfo {
  dirIno: number;
  dirPos: number;
  /** DT_* type */
  type: number;
  nameB64: string;
}

/** one path of an inode from the root, and the entry to continue after */
export interface InoPathInfo {
  dirIno: number;
  dirPos: number;
  pathB64: string;
}

/** the ops of a connection's handshake, answered by the server itself (auth.ts) */
export interface AuthOps {
  hello: { args: Record<string, never>; result: { nonce: string; name: string } };
  auth: { args: { nonce: string }; result: { uid: number; gid: number } };
}

/** every op of a mount, served once the connection is authenticated: its arguments and its result */
export interface ControlOps extends ArchiveOps, XattrOps, AttrXOps, QuotaOps {
  statfs: { args: Record<string, never>; result: StatfsInfo };
  counters: { args: Record<string, never>; result: CountersInfo };
  walkInodes: { args: WalkInodesArgs; result: WalkInodesInfo };
  stat: { args: { ino: number }; result: StatMoreInfo };
  /** the next path at or after (dirIno, dirPos); null when there is none */
  inoPath: { args: { ino: number; dirIno: number; dirPos: number }; result: InoPathInfo | null };
  referringEntries: { args: { ino: number; dirIno: number; dirPos: number; limit: number }; result: { entries: ReferringEntryInfo[] } };
  allocatedInos: { args: { start: number; limit: number }; result: { inos: number[] } };
  /** grow the devices to these totals of 64 KiB metadata and 4 KiB data blocks (u64 decimal strings; 0: unchanged) */
  resizeDevices: { args: { metaBlocks: string; dataBlocks: string }; result: Record<string, never> };
}
export type ControlOp = keyof ControlOps;
export type AnyOps = ControlOps & AuthOps;
export type AnyOp = keyof AnyOps;

export interface ControlRequest {
  v: number;
  id: number;
  op: string;
  args?: unknown;
}

export type ControlResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; errno: Errno; message: string };

/** one JSON value as one line of the protocol */
export function encodeLine(value: ControlRequest | ControlResponse): string {
  return JSON.stringify(value) + "\n";
}

/**
 * Splits a byte stream into lines.  push() returns the complete lines the
 * chunk finished; a line growing past the limit throws LineTooLong (the
 * stream cannot be framed after that).
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.take(chunk.subarray(start, nl));
      lines.push(Buffer.concat(this.pending).toString("utf8"));
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
    return lines;
  }

  private take(part: Buffer): void {
    this.pendingBytes += part.length;
    if (this.pendingBytes > this.maxLineBytes) throw new LineTooLong(this.maxLineBytes);
    this.pending.push(part);
  }

  /** bytes received after the last complete line */
  get buffered(): number {
    return this.pendingBytes;
  }
}

export class LineTooLong extends Error {
  constructor(limit: number) {
    super(`control message longer than ${limit} bytes`);
    this.name = "LineTooLong";
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** a parsed request line, or why it is not one (with the id, if it had one) */
export function parseRequest(line: string): ControlRequest | { id: number; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { id: 0, error: "request is not JSON" };
  }
  if (!isRecord(v)) return { id: 0, error: "request is not a JSON object" };
  const id = typeof v.id === "number" && Number.isSafeInteger(v.id) ? v.id : 0;
  if (typeof v.v !== "number" || typeof v.op !== "string" || id === 0) return { id, error: "request needs numbers v and id and a string op" };
  return { v: v.v, id, op: v.op, args: v.args };
}

/** a parsed response line; throws on anything else (the daemon broke the protocol) */
export function parseResponse(line: string): ControlResponse {
  const v: unknown = JSON.parse(line);
  if (isRecord(v) && typeof v.id === "number") {
    if (v.ok === true && "result" in v) return { id: v.id, ok: true, result: v.result };
    if (v.ok === false && typeof v.errno === "string" && typeof v.message === "string") {
      return { id: v.id, ok: false, errno: v.errno as Errno, message: v.message };
    }
  }
  throw new Error(`malformed control response: ${line.slice(0, 200)}`);
}
