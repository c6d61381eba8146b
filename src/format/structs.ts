/*
 * The persistent structures shared by the layers below fs: block
 * references, btree roots, allocator heads, log trees, mounted clients,
 * the super block and the quorum blocks.  All little-endian (only keys,
 * stored elsewhere, are big-endian so they sort bytewise), fixed size,
 * each with an encode into a caller's buffer at an offset and a decode.
 * docs/format.md lists every field.
 *
 * A BlockRef of blkno 0 means "no block" (blkno 0 is never a metadata
 * block: it lies in the reserved start of the device).
 */
import { BLOCK_HEADER_BYTES, QUORUM_MAX_SLOTS } from "./constants.js";

export interface BlockRef {
  blkno: number;
  seq: number;
}
export const BLOCK_REF_BYTES = 16;
export const NO_REF: BlockRef = Object.freeze({ blkno: 0, seq: 0 });

/**
 * u64 fields, little-endian.  Numbers (safe non-negative integers) are
 * stored byte by byte: a BigInt per field costs about six times as much
 * (measured), and a commit writes the fields of every entry of every
 * dirty btree leaf.  Anything else goes through BigInt, which refuses
 * what is not a u64.
 */
export function putU64(b: Buffer, off: number, v: number | bigint): number {
  if (typeof v === "bigint" || !Number.isSafeInteger(v) || v < 0) {
    b.writeBigUInt64LE(typeof v === "bigint" ? v : BigInt(v), off);
    return off + 8;
  }
  const lo = v % 0x1_0000_0000;
  const hi = (v - lo) / 0x1_0000_0000;
  b[off] = lo & 0xff;
  b[off + 1] = (lo >>> 8) & 0xff;
  b[off + 2] = (lo >>> 16) & 0xff;
  b[off + 3] = lo >>> 24;
  b[off + 4] = hi & 0xff;
  b[off + 5] = (hi >>> 8) & 0xff;
  b[off + 6] = (hi >>> 16) & 0xff;
  b[off + 7] = hi >>> 24;
  return off + 8;
}
export function getU64(b: Buffer, off: number): number {
  const hi = b.readUInt32LE(off + 4);
  if (hi >= 0x20_0000) throw new RangeError(`u64 ${b.readBigUInt64LE(off)} at ${off} exceeds 2^53`);
  // hi 0: the low word itself, a small integer where hi * 2^32 + lo would be a boxed double (fs_items getU64)
  return hi === 0 ? b.readUInt32LE(off) : hi * 0x1_0000_0000 + b.readUInt32LE(off);
}

export function putRef(b: Buffer, off: number, r: BlockRef): number {
  putU64(b, off, r.blkno);
  putU64(b, off + 8, r.seq);
  return off + BLOCK_REF_BYTES;
}
export function getRef(b: Buffer, off: number): BlockRef {
  return { blkno: getU64(b, off), seq: getU64(b, off + 8) };
}

/** A btree root: the ref of the root block and the height (0 = empty). */
export interface BtreeRoot {
  ref: BlockRef;
  height: number;
}
export const BTREE_ROOT_BYTES = 24;
export const EMPTY_ROOT: BtreeRoot = Object.freeze({ ref: NO_REF, height: 0 });
export function putRoot(b: Buffer, off: number, r: BtreeRoot): number {
  putRef(b, off, r.ref);
  b.writeUInt8(r.height, off + 16);
  b.fill(0, off + 17, off + 24);
  return off + BTREE_ROOT_BYTES;
}
export function getRoot(b: Buffer, off: number): BtreeRoot {
  return { ref: getRef(b, off), height: b.readUInt8(off + 16) };
}

/** A list of metadata block numbers stored in a chain of list blocks. */
export interface AllocListHead {
  ref: BlockRef;
  count: number;
}
export const ALLOC_LIST_HEAD_BYTES = 24;
export const EMPTY_LIST: AllocListHead = Object.freeze({ ref: NO_REF, count: 0 });
export function putListHead(b: Buffer, off: number, h: AllocListHead): number {
  putRef(b, off, h.ref);
  putU64(b, off + 16, h.count);
  return off + ALLOC_LIST_HEAD_BYTES;
}
export function getListHead(b: Buffer, off: number): AllocListHead {
  return { ref: getRef(b, off), count: getU64(b, off + 16) };
}
/** list block: header | next ref | nr u32 | pad u32 | blknos u64[] */
export const ALLOC_LIST_BLOCK_HDR = BLOCK_HEADER_BYTES + BLOCK_REF_BYTES + 8;

/** A btree of free extents, and the total number of blocks in it. */
export interface AllocRoot {
  root: BtreeRoot;
  totalLen: number;
}
export const ALLOC_ROOT_BYTES = BTREE_ROOT_BYTES + 8;
export const EMPTY_ALLOC_ROOT: AllocRoot = Object.freeze({ root: EMPTY_ROOT, totalLen: 0 });
export function putAllocRoot(b: Buffer, off: number, a: AllocRoot): number {
  putRoot(b, off, a.root);
  putU64(b, off + BTREE_ROOT_BYTES, a.totalLen);
  return off + ALLOC_ROOT_BYTES;
}
export function getAllocRoot(b: Buffer, off: number): AllocRoot {
  return { root: getRoot(b, off), totalLen: getU64(b, off + BTREE_ROOT_BYTES) };
}

/*
 * A mount's log tree, the value of a LOG_TREES item keyed by (rid, nr).
 * The mount owns it while it is open; once finalized the server merges
 * its items into the fs root and frees it.
 */
export interface LogTrees {
  metaAvail: AllocListHead;
  metaFreed: AllocListHead;
  itemRoot: BtreeRoot;
  dataAvail: AllocRoot;
  dataFreed: AllocRoot;
  maxItemSeq: number;
  rid: bigint;
  nr: number;
  flags: number;
  /** the seq of the first transaction that wrote this tree: every item in it has a seq >= this */
  openSeq: number;
}
export const LOG_TREES_FLAG_FINALIZED = 1;
export const LOG_TREES_BYTES = 2 * ALLOC_LIST_HEAD_BYTES + BTREE_ROOT_BYTES + 2 * ALLOC_ROOT_BYTES + 40;
export function encodeLogTrees(lt: LogTrees): Buffer {
  const b = Buffer.alloc(LOG_TREES_BYTES);
  let o = 0;
  o = putListHead(b, o, lt.metaAvail);
  o = putListHead(b, o, lt.metaFreed);
  o = putRoot(b, o, lt.itemRoot);
  o = putAllocRoot(b, o, lt.dataAvail);
  o = putAllocRoot(b, o, lt.dataFreed);
  o = putU64(b, o, lt.maxItemSeq);
  o = putU64(b, o, lt.rid);
  o = putU64(b, o, lt.nr);
  o = putU64(b, o, lt.flags);
  putU64(b, o, lt.openSeq);
  return b;
}
export function decodeLogTrees(b: Buffer): LogTrees {
  let o = 0;
  const metaAvail = getListHead(b, o); o += ALLOC_LIST_HEAD_BYTES;
  const metaFreed = getListHead(b, o); o += ALLOC_LIST_HEAD_BYTES;
  const itemRoot = getRoot(b, o); o += BTREE_ROOT_BYTES;
  const dataAvail = getAllocRoot(b, o); o += ALLOC_ROOT_BYTES;
  const dataFreed = getAllocRoot(b, o); o += ALLOC_ROOT_BYTES;
  const maxItemSeq = getU64(b, o); o += 8;
  const rid = b.readBigUInt64LE(o); o += 8;
  const nr = getU64(b, o); o += 8;
  const flags = getU64(b, o); o += 8;
  const openSeq = getU64(b, o);
  return { metaAvail, metaFreed, itemRoot, dataAvail, dataFreed, maxItemSeq, rid, nr, flags, openSeq };
}

/** A mounted client, the value of a MOUNTED_CLIENT item keyed by rid. */
export interface MountedClient {
  rid: bigint;
  flags: number;
  /** ipv4 address as a u32, 0 when unknown */
  addr: number;
}
export const MOUNTED_CLIENT_FLAG_QUORUM = 1;
export const MOUNTED_CLIENT_BYTES = 24;
export function encodeMountedClient(m: MountedClient): Buffer {
  const b = Buffer.alloc(MOUNTED_CLIENT_BYTES);
  putU64(b, 0, m.rid);
  putU64(b, 8, m.flags);
  putU64(b, 16, m.addr);
  return b;
}
export function decodeMountedClient(b: Buffer): MountedClient {
  return { rid: b.readBigUInt64LE(0), flags: getU64(b, 8), addr: getU64(b, 16) };
}

export interface QuorumSlot {
  /** dotted quad; "" for an unused slot */
  addr: string;
  port: number;
}
const QUORUM_SLOT_BYTES = 8;

export function ipv4ToU32(addr: string): number {
  const p = addr.split(".").map((x) => Number(x));
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
export function u32ToIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/*
 * The super block: a 4 KiB small block written in two copies; the copy
 * with the greatest valid seq is the current one.  The server writes it
 * last in each commit, so it is the commit point of the filesystem.
 */
export interface SuperBlock {
  formatVersion: number;
  fsid: bigint;
  /** seq of this super block's commit (also in the header) */
  seq: number;
  /** the next seq the server will hand to a transaction */
  nextSeq: number;
  nextIno: number;
  totalMetaBlocks: number;
  totalDataBlocks: number;
  firstMetaBlkno: number;
  firstDataBlkno: number;
  flags: number;
  dataAllocZoneBlocks: number;
  quorumSlots: QuorumSlot[];
  fsRoot: BtreeRoot;
  logsRoot: BtreeRoot;
  mountedClients: BtreeRoot;
  srchRoot: BtreeRoot;
  metaAlloc: AllocRoot;
  dataAlloc: AllocRoot;
  serverMetaAvail: AllocListHead;
  serverMetaFreed: AllocListHead;
  /** the greatest transaction seq whose items are all in committed trees */
  committedSeq: number;
  /** the nr to use for the next log tree a mount opens */
  nextLogTreesNr: number;
}

export const SUPER_FLAG_DATA_DEV = 1;
const SUPER_OFF = BLOCK_HEADER_BYTES;

export function encodeSuper(s: SuperBlock, out: Buffer): void {
  out.fill(0);
  let o = SUPER_OFF;
  o = putU64(out, o, s.formatVersion);
  o = putU64(out, o, s.fsid);
  o = putU64(out, o, s.seq);
  o = putU64(out, o, s.nextSeq);
  o = putU64(out, o, s.nextIno);
  o = putU64(out, o, s.totalMetaBlocks);
  o = putU64(out, o, s.totalDataBlocks);
  o = putU64(out, o, s.firstMetaBlkno);
  o = putU64(out, o, s.firstDataBlkno);
  o = putU64(out, o, s.flags);
  o = putU64(out, o, s.dataAllocZoneBlocks);
  o = putU64(out, o, s.committedSeq);
  o = putU64(out, o, s.nextLogTreesNr);
  for (let i = 0; i < QUORUM_MAX_SLOTS; i++) {
    const q = s.quorumSlots[i];
    if (q && q.addr !== "") {
      out.writeUInt32LE(ipv4ToU32(q.addr), o);
      out.writeUInt16LE(q.port, o + 4);
      out.writeUInt8(1, o + 6);
    }
    o += QUORUM_SLOT_BYTES;
  }
  o = putRoot(out, o, s.fsRoot);
  o = putRoot(out, o, s.logsRoot);
  o = putRoot(out, o, s.mountedClients);
  o = putRoot(out, o, s.srchRoot);
  o = putAllocRoot(out, o, s.metaAlloc);
  o = putAllocRoot(out, o, s.dataAlloc);
  o = putListHead(out, o, s.serverMetaAvail);
  putListHead(out, o, s.serverMetaFreed);
}

export function decodeSuper(b: Buffer): SuperBlock {
  let o = SUPER_OFF;
  const next = () => { const v = getU64(b, o); o += 8; return v; };
  const formatVersion = next();
  const fsid = b.readBigUInt64LE(o); o += 8;
  const seq = next();
  const nextSeq = next();
  const nextIno = next();
  const totalMetaBlocks = next();
  const totalDataBlocks = next();
  const firstMetaBlkno = next();
  const firstDataBlkno = next();
  const flags = next();
  const dataAllocZoneBlocks = next();
  const committedSeq = next();
  const nextLogTreesNr = next();
  const quorumSlots: QuorumSlot[] = [];
  for (let i = 0; i < QUORUM_MAX_SLOTS; i++) {
    const used = b.readUInt8(o + 6) === 1;
    quorumSlots.push(used ? { addr: u32ToIpv4(b.readUInt32LE(o)), port: b.readUInt16LE(o + 4) } : { addr: "", port: 0 });
    o += QUORUM_SLOT_BYTES;
  }
  const fsRoot = getRoot(b, o); o += BTREE_ROOT_BYTES;
  const logsRoot = getRoot(b, o); o += BTREE_ROOT_BYTES;
  const mountedClients = getRoot(b, o); o += BTREE_ROOT_BYTES;
  const srchRoot = getRoot(b, o); o += BTREE_ROOT_BYTES;
  const metaAlloc = getAllocRoot(b, o); o += ALLOC_ROOT_BYTES;
  const dataAlloc = getAllocRoot(b, o); o += ALLOC_ROOT_BYTES;
  const serverMetaAvail = getListHead(b, o); o += ALLOC_LIST_HEAD_BYTES;
  const serverMetaFreed = getListHead(b, o);
  return {
    formatVersion, fsid, seq, nextSeq, nextIno, totalMetaBlocks, totalDataBlocks, firstMetaBlkno,
    firstDataBlkno, flags, dataAllocZoneBlocks, quorumSlots, fsRoot, logsRoot, mountedClients, srchRoot,
    metaAlloc, dataAlloc, serverMetaAvail, serverMetaFreed, committedSeq, nextLogTreesNr,
  };
}

/** The quorum block of a slot: persistent raft term and the latest events. */
export interface QuorumBlock {
  term: number;
  /** term in which this slot last voted */
  voteTerm: number;
  /** term in which this slot was elected leader, 0 if never */
  leaderTerm: number;
  /** term whose server this slot has fenced/shut down */
  fencedTerm: number;
}
export function encodeQuorumBlock(q: QuorumBlock, out: Buffer): void {
  out.fill(0);
  let o = BLOCK_HEADER_BYTES;
  o = putU64(out, o, q.term);
  o = putU64(out, o, q.voteTerm);
  o = putU64(out, o, q.leaderTerm);
  putU64(out, o, q.fencedTerm);
}
export function decodeQuorumBlock(b: Buffer): QuorumBlock {
  const o = BLOCK_HEADER_BYTES;
  return { term: getU64(b, o), voteTerm: getU64(b, o + 8), leaderTerm: getU64(b, o + 16), fencedTerm: getU64(b, o + 24) };
}
