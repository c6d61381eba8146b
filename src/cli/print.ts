/*
 * `scoutfs print`: every structure of a metadata device in readable
 * text, read directly from the device (the filesystem should not be
 * mounted, or the output is a snapshot that may be mid-commit).
 *
 * It walks the super block, the quorum blocks, the server's allocator
 * lists and free extent trees, the mounted clients, every log tree
 * (allocators and items), and the fs root.  A block that fails
 * verification is reported as corruption with its block number and the
 * walk goes on with the next structure; the caller turns any corruption
 * into exit status 1.  Nothing here throws for bad on-disk data.
 */
import { decodeSrchCount, decodeTotl, indxPosOfKey, totlNameOfKey } from "../format/tag_items.js";
import { BLOCK_MAGIC, BLOCK_SM_SIZE, FS_TYPE, ITEM_FLAG_DELETION, QUORUM_MAX_SLOTS, QUORUM_SM_BLKNO, ZONE } from "../format/constants.js";
import { verifyBlock } from "../format/block.js";
import { KEY_MAX, KEY_MIN, keyFields, keyString, type Key } from "../format/key.js";
import {
  decodeLogTrees, decodeMountedClient, decodeQuorumBlock, type AllocListHead, type AllocRoot, type BtreeRoot, type SuperBlock,
} from "../format/structs.js";
import { decodeDirent, decodeExtent, decodeInode } from "../format/fs_items.js";
import type { BlockDevice } from "../block/device.js";
import { MetaStore } from "../block/store.js";
import { readSuper } from "../block/super.js";
import { btreeVisitBlocks, btreeWalk } from "../btree/btree.js";
import { MetaList } from "../alloc/meta_list.js";
import { CorruptionError, rethrowBugs } from "../util/errors.js";

export interface PrintResult {
  corruptions: string[];
}

type Out = (line: string) => void;

const ref = (r: { blkno: number; seq: number }) => `${r.blkno}.${r.seq}`;
const root = (r: BtreeRoot) => `root ${ref(r.ref)} height ${r.height}`;
const ts = (t: { sec: number; nsec: number }) => `${t.sec}.${String(t.nsec).padStart(9, "0")}`;

export async function printMeta(dev: BlockDevice, out: Out, superOnly = false): Promise<PrintResult> {
  const corruptions: string[] = [];
  const { super: sb, problems } = await readSuper(dev);
  for (const p of problems) {
    if (!p.endsWith("all zeros")) corruptions.push(p);
  }
  printSuper(sb, out);
  if (superOnly) return { corruptions };

  const store = new MetaStore(dev, sb.fsid, 64 * 1024 * 1024);
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      rethrowBugs(e);
      const msg = e instanceof CorruptionError ? `block ${e.blkno}: ${e.problem}` : (e as Error).message;
      corruptions.push(`${what}: ${msg}`);
      out(`  ** corruption in ${what}: ${msg}`);
    }
  };

  out("");
  out("quorum blocks:");
  for (let slot = 0; slot < QUORUM_MAX_SLOTS; slot++) {
    const blkno = QUORUM_SM_BLKNO + slot;
    const buf = await dev.read(blkno * BLOCK_SM_SIZE, BLOCK_SM_SIZE);
    const problem = verifyBlock(buf, { magic: BLOCK_MAGIC.quorum, fsid: sb.fsid, blkno });
    if (problem) {
      if (sb.quorumSlots[slot]?.addr) {
        corruptions.push(`quorum block ${blkno}: ${problem}`);
        out(`  slot ${slot}: ** corruption: small block ${blkno}: ${problem}`);
      }
      continue;
    }
    const q = decodeQuorumBlock(buf);
    if (sb.quorumSlots[slot]?.addr || q.term) out(`  slot ${slot}: term ${q.term} vote_term ${q.voteTerm} leader_term ${q.leaderTerm} fenced_term ${q.fencedTerm}`);
  }

  out("");
  await guard("server meta avail list", () => printList(store, "server meta avail", sb.serverMetaAvail, out));
  await guard("server meta freed list", () => printList(store, "server meta freed", sb.serverMetaFreed, out));
  await guard("meta alloc tree", () => printExtents(store, "meta alloc", sb.metaAlloc, out));
  await guard("data alloc tree", () => printExtents(store, "data alloc", sb.dataAlloc, out));

  out("");
  out(`mounted clients: ${root(sb.mountedClients)}`);
  await guard("mounted clients", async () => {
    await walkAll(store, sb.mountedClients, (key, val) => {
      const m = decodeMountedClient(val);
      out(`  rid ${m.rid.toString(16).padStart(16, "0")} flags ${m.flags} addr ${m.addr}`);
      void key;
    });
  });

  out("");
  out(`log trees: ${root(sb.logsRoot)}`);
  const logs: ReturnType<typeof decodeLogTrees>[] = [];
  await guard("log trees", async () => {
    await walkAll(store, sb.logsRoot, (_k, v) => {
      logs.push(decodeLogTrees(v));
    });
  });
  for (const lt of logs) {
    const name = `log tree rid ${lt.rid.toString(16).padStart(16, "0")} nr ${lt.nr}`;
    out(`  ${name}: flags ${lt.flags} max_item_seq ${lt.maxItemSeq} items ${root(lt.itemRoot)}`);
    await guard(`${name} meta avail`, () => printList(store, "    meta avail", lt.metaAvail, out));
    await guard(`${name} meta freed`, () => printList(store, "    meta freed", lt.metaFreed, out));
    await guard(`${name} data avail`, () => printExtents(store, "    data avail", lt.dataAvail, out));
    await guard(`${name} data freed`, () => printExtents(store, "    data freed", lt.dataFreed, out));
    await guard(`${name} items`, () => printItems(store, lt.itemRoot, "    ", out));
  }

  out("");
  out(`fs root: ${root(sb.fsRoot)}`);
  await guard("fs root", () => printItems(store, sb.fsRoot, "  ", out));
  return { corruptions };
}

function printSuper(sb: SuperBlock, out: Out): void {
  out(`super block: fsid ${sb.fsid.toString(16).padStart(16, "0")} seq ${sb.seq}`);
  out(`  format_version ${sb.formatVersion} flags ${sb.flags}`);
  out(`  next_seq ${sb.nextSeq} committed_seq ${sb.committedSeq} next_ino ${sb.nextIno} next_log_trees_nr ${sb.nextLogTreesNr}`);
  out(`  total_meta_blocks ${sb.totalMetaBlocks} first_meta_blkno ${sb.firstMetaBlkno}`);
  out(`  total_data_blocks ${sb.totalDataBlocks} first_data_blkno ${sb.firstDataBlkno} data_alloc_zone_blocks ${sb.dataAllocZoneBlocks}`);
  out(`  meta_alloc: ${root(sb.metaAlloc.root)} total_len ${sb.metaAlloc.totalLen}`);
  out(`  data_alloc: ${root(sb.dataAlloc.root)} total_len ${sb.dataAlloc.totalLen}`);
  out(`  server_meta_avail: ${ref(sb.serverMetaAvail.ref)} count ${sb.serverMetaAvail.count}`);
  out(`  server_meta_freed: ${ref(sb.serverMetaFreed.ref)} count ${sb.serverMetaFreed.count}`);
  out(`  fs_root: ${root(sb.fsRoot)}`);
  out(`  logs_root: ${root(sb.logsRoot)}`);
  out(`  mounted_clients: ${root(sb.mountedClients)}`);
  out(`  srch_root: ${root(sb.srchRoot)}`);
  out("  quorum slots:");
  sb.quorumSlots.forEach((q, i) => {
    if (q.addr) out(`    ${i}: ${q.addr}:${q.port}`);
  });
}

async function printList(store: MetaStore, name: string, head: AllocListHead, out: Out): Promise<void> {
  const list = await MetaList.load(store, head);
  out(`${name}: ${ref(head.ref)} count ${head.count} in ${list.storage.length} list blocks`);
}

async function printExtents(store: MetaStore, name: string, a: AllocRoot, out: Out): Promise<void> {
  let n = 0;
  const shown: string[] = [];
  await walkAll(store, a.root, (key, val) => {
    const f = keyFields(key);
    if (f.zone !== ZONE.freeExtentBlkno) return;
    n++;
    if (shown.length < 8) shown.push(`${f.first}+${val.readBigUInt64LE(0)}`);
  });
  let blocks = 0;
  await btreeVisitBlocks(store, a.root, () => {
    blocks++;
  });
  out(`${name}: ${root(a.root)} total_len ${a.totalLen}, ${n} extents in ${blocks} blocks${shown.length ? `: ${shown.join(" ")}${n > shown.length ? " ..." : ""}` : ""}`);
}

async function walkAll(store: MetaStore, r: BtreeRoot, fn: (key: Key, value: Buffer, seq: number, flags: number) => void): Promise<void> {
  await btreeWalk(store, r, KEY_MIN, KEY_MAX, (it) => {
    fn(it.key, it.value, it.seq, it.flags);
    return true;
  });
}

async function printItems(store: MetaStore, r: BtreeRoot, indent: string, out: Out): Promise<void> {
  await walkAll(store, r, (key, val, seq, flags) => {
    const del = flags & ITEM_FLAG_DELETION ? " deletion" : "";
    out(`${indent}${keyString(key)} seq ${seq}${del}: ${describeItem(key, val, flags)}`);
  });
}

function describeItem(key: Key, val: Buffer, flags: number): string {
  if (flags & ITEM_FLAG_DELETION) return "";
  const f = keyFields(key);
  try {
    if (f.zone === ZONE.fs) {
      switch (f.type) {
        case FS_TYPE.inode: {
          const i = decodeInode(val);
          return `inode ${f.first} mode 0${i.mode.toString(8)} nlink ${i.nlink} uid ${i.uid} gid ${i.gid} size ${i.size} meta_seq ${i.metaSeq} data_seq ${i.dataSeq} data_version ${i.dataVersion} online ${i.onlineBlocks} offline ${i.offlineBlocks} mtime ${ts(i.mtime)} crtime ${ts(i.crtime)}`;
        }
        case FS_TYPE.dirent:
        case FS_TYPE.readdir:
        case FS_TYPE.linkBackref: {
          const d = decodeDirent(val);
          const kind = f.type === FS_TYPE.dirent ? "dirent" : f.type === FS_TYPE.readdir ? "readdir" : "link_backref";
          return `${kind} ino ${d.ino} pos ${d.pos} type ${d.type} name ${JSON.stringify(d.name.toString("utf8"))}`;
        }
        case FS_TYPE.dataExtent: {
          const e = decodeExtent(val);
          return `extent iblock ${f.second} blkno ${e.blkno} len ${e.len} flags ${e.flags}`;
        }
        case FS_TYPE.xattr:
          return `xattr part ${f.fourth} (${val.length} bytes)`;
        case FS_TYPE.symlink:
          return `symlink part ${f.fourth} (${val.length} bytes)`;
      }
    }
    if (f.zone === ZONE.inodeIndex) return `inode index type ${f.type} seq ${f.first} ino ${f.second}`;
    if (f.zone === ZONE.orphan) return `orphan ino ${f.first}`;
    if (f.zone === ZONE.xattrTotl) {
      const t = decodeTotl(val);
      return `xattr totl ${totlNameOfKey(key).join(".")} total ${t.total} count ${t.count}`;
    }
    if (f.zone === ZONE.xattrSrch) return `xattr srch hash ${f.first} ino ${f.second} xattr id ${f.third} count ${decodeSrchCount(val)}`;
    if (f.zone === ZONE.xattrIndx) {
      const p = indxPosOfKey(key);
      return `xattr indx ${p.major}.${p.minor} ino ${p.ino} xattr id ${p.xid}`;
    }
  } catch {
    // a value that does not decode is reported, never fatal: print must get through anything
    return `undecodable value of ${val.length} bytes`;
  }
  return `${val.length} bytes`;
}
