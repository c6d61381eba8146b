/*
 * A full consistency check of the fs items in a MemStorage, for tests:
 * every invariant the fs layer promises about its persistent items.
 * Returns a list of problems (empty when consistent).
 *
 *  - every fs item belongs to an inode that has an inode item;
 *  - each inode has exactly its index items: META_SEQ at meta_seq, and
 *    DATA_SEQ at data_seq unless a directory;
 *  - every dirent has its readdir and link backref twins with the same
 *    value, its hash is the name's, its target exists with that type;
 *  - directory size = sum of entry name lengths, nlink = 2 + subdirs,
 *    positions below next_readdir_pos, one backref (none for the root);
 *  - other inodes: nlink = backrefs, nlink 0 only with an orphan item;
 *  - extents do not overlap, are merged where they continue each other,
 *    account for online/offline blocks, and reference every allocated
 *    data block exactly once (no leaks, no sharing); written blocks lie
 *    below EOF;
 *  - xattrs and symlinks have all their parts and no others;
 *  - the tag items (totl sums, srch entries, indx entries) are exactly
 *    what the stored scoutfs. tagged xattrs imply.
 */
import type { MemStorage } from "./mem_storage.js";
import { keyFields } from "../../src/format/key.js";
import {
  EXTENT_FLAG,
  decodeDirent,
  decodeExtent,
  decodeInode,
  decodeXattrHeader,
  direntKey,
  direntTypeOfMode,
  isDirMode,
  isLnkMode,
  nameHash,
  symlinkNrParts,
  xattrNrParts,
  xattrNameOfPart0,
  XATTR_HEADER_BYTES,
  type InodeVal,
} from "../../src/format/fs_items.js";
import { encodeSrchCount, encodeTotl, indxKey, srchKey, totlKey } from "../../src/format/tag_items.js";
import { parseIndxName, parseTagU64, parseTotlName, storedXattrTags } from "../../src/fs/xattr_tags.js";
import { DATA_BLOCK_SIZE, FS_TYPE, INODE_INDEX_TYPE, ROOT_INO, ZONE } from "../../src/format/constants.js";

export function fsCheck(st: MemStorage, hash: (name: Buffer) => number = nameHash): string[] {
  const problems: string[] = [];
  const bad = (s: string) => problems.push(s);
  const inodes = new Map<number, InodeVal>();
  const fsItems = new Map<number, { type: number; second: number; third: number; fourth: number; key: Buffer; value: Buffer }[]>();
  const index = new Map<number, string[]>();
  const orphans = new Set<number>();
  const all = st.items.all();
  const hex = (k: Buffer) => k.toString("hex");
  const valueOf = new Map<string, Buffer>(all.map((kv) => [kv.key.toString("hex"), kv.value]));
  const haveTags = new Map<string, string>();
  const wantTotl = new Map<string, { key: Buffer; total: bigint; count: bigint }>();
  const wantTags = new Map<string, string>();

  for (const { key, value } of all) {
    const f = keyFields(key);
    const first = Number(f.first);
    if (f.zone === ZONE.fs) {
      if (f.type === FS_TYPE.inode) inodes.set(first, decodeInode(value));
      const l = fsItems.get(first) ?? [];
      l.push({ type: f.type, second: Number(f.second), third: Number(f.third), fourth: f.fourth, key, value });
      fsItems.set(first, l);
    } else if (f.zone === ZONE.inodeIndex) {
      const ino = Number(f.second);
      const l = index.get(ino) ?? [];
      l.push(`${f.type}:${first}`);
      index.set(ino, l);
    } else if (f.zone === ZONE.orphan) {
      orphans.add(first);
    } else if (f.zone === ZONE.xattrTotl || f.zone === ZONE.xattrSrch || f.zone === ZONE.xattrIndx) {
      haveTags.set(hex(key), value.toString("hex"));
    }
  }

  for (const ino of fsItems.keys()) if (!inodes.has(ino)) bad(`items of inode ${ino} without an inode item`);
  for (const ino of index.keys()) if (!inodes.has(ino)) bad(`index items of missing inode ${ino}: ${index.get(ino)}`);
  for (const ino of orphans) {
    const v = inodes.get(ino);
    if (!v) bad(`orphan item of missing inode ${ino}`);
    else if (v.nlink !== 0) bad(`orphan item of inode ${ino} with nlink ${v.nlink}`);
  }

  const backrefCount = new Map<number, number>();
  const subdirs = new Map<number, number>();
  const referenced = new Map<number, number>();

  for (const [ino, v] of inodes) {
    const want = [`${INODE_INDEX_TYPE.metaSeq}:${v.metaSeq}`];
    if (!isDirMode(v.mode)) want.push(`${INODE_INDEX_TYPE.dataSeq}:${v.dataSeq}`);
    const have = (index.get(ino) ?? []).sort();
    if (JSON.stringify(have) !== JSON.stringify(want.sort())) bad(`inode ${ino} index items ${have} want ${want}`);

    const items = fsItems.get(ino) ?? [];
    let nameBytes = 0;
    let online = 0;
    let offline = 0;
    let prevExt: { start: number; len: number; blkno: number; flags: number } | undefined;
    const xattrIds = new Map<string, { parts: Set<number>; nr: number }>();
    const symParts: number[] = [];
    for (const it of items) {
      if (it.type === FS_TYPE.dirent) {
        const d = decodeDirent(it.value);
        if (d.hash !== it.second || d.pos !== it.third) bad(`dirent ${ino}/${d.name} key/value mismatch`);
        if (hash(d.name) !== d.hash) bad(`dirent ${ino}/${d.name} hash mismatch`);
        if (d.pos >= v.nextReaddirPos) bad(`dirent ${ino}/${d.name} pos ${d.pos} >= next ${v.nextReaddirPos}`);
        nameBytes += d.name.length;
        const rd = items.find((x) => x.type === FS_TYPE.readdir && x.second === d.pos);
        if (!rd || !rd.value.equals(it.value)) bad(`dirent ${ino}/${d.name} without its readdir item`);
        const br = (fsItems.get(d.ino) ?? []).find((x) => x.type === FS_TYPE.linkBackref && x.second === ino && x.third === d.pos);
        if (!br || !br.value.equals(it.value)) bad(`dirent ${ino}/${d.name} without its backref`);
        const t = inodes.get(d.ino);
        if (!t) bad(`dirent ${ino}/${d.name} to missing inode ${d.ino}`);
        else {
          if (direntTypeOfMode(t.mode) !== d.type) bad(`dirent ${ino}/${d.name} type ${d.type} of mode ${t.mode.toString(8)}`);
          if (isDirMode(t.mode)) subdirs.set(ino, (subdirs.get(ino) ?? 0) + 1);
        }
      } else if (it.type === FS_TYPE.readdir) {
        const d = decodeDirent(it.value);
        if (!valueOf.get(hex(direntKey(ino, d.hash, d.pos)))) bad(`readdir item ${ino}@${it.second} without dirent`);
      } else if (it.type === FS_TYPE.linkBackref) {
        backrefCount.set(ino, (backrefCount.get(ino) ?? 0) + 1);
        const d = decodeDirent(it.value);
        if (!valueOf.get(hex(direntKey(it.second, d.hash, d.pos)))) bad(`backref of ${ino} from ${it.second} without dirent`);
      } else if (it.type === FS_TYPE.dataExtent) {
        const e = { start: it.second, ...decodeExtent(it.value) };
        if (e.len <= 0) bad(`extent of ${ino} at ${e.start} of length ${e.len}`);
        if (prevExt) {
          const pend = prevExt.start + prevExt.len;
          if (pend > e.start) bad(`extents of ${ino} overlap at ${e.start}`);
          const physOk = e.flags & EXTENT_FLAG.offline || prevExt.blkno + prevExt.len === e.blkno;
          if (pend === e.start && prevExt.flags === e.flags && physOk) bad(`extents of ${ino} at ${prevExt.start} and ${e.start} not merged`);
        }
        prevExt = e;
        if (e.flags & EXTENT_FLAG.offline) offline += e.len;
        else {
          online += e.len;
          for (let b = e.blkno; b < e.blkno + e.len; b++) referenced.set(b, (referenced.get(b) ?? 0) + 1);
          if (!(e.flags & EXTENT_FLAG.unwritten) && (e.start + e.len) * DATA_BLOCK_SIZE > Math.ceil(v.size / DATA_BLOCK_SIZE) * DATA_BLOCK_SIZE) {
            bad(`written extent of ${ino} at ${e.start}+${e.len} beyond size ${v.size}`);
          }
        }
      } else if (it.type === FS_TYPE.xattr) {
        const id = `${it.second}:${it.third}`;
        const x = xattrIds.get(id) ?? { parts: new Set<number>(), nr: -1 };
        x.parts.add(it.fourth);
        if (it.fourth === 0) {
          const h = decodeXattrHeader(it.value);
          x.nr = xattrNrParts(h.nameLen, h.valLen);
          if (it.third >= v.nextXattrId) bad(`xattr id ${it.third} of ${ino} >= next ${v.nextXattrId}`);
          const name = xattrNameOfPart0(it.value);
          const tags = storedXattrTags(name);
          const val = it.value.subarray(XATTR_HEADER_BYTES + h.nameLen, XATTR_HEADER_BYTES + h.nameLen + h.valLen);
          if (tags.totl) {
            const key = totlKey(parseTotlName(name));
            const t = wantTotl.get(hex(key)) ?? { key, total: 0n, count: 0n };
            t.total += BigInt(parseTagU64(val.toString("latin1")) ?? -1n);
            t.count++;
            wantTotl.set(hex(key), t);
          }
          if (tags.srch) wantTags.set(hex(srchKey(hash(name), ino, it.third)), encodeSrchCount(1n).toString("hex"));
          if (tags.indx) {
            const { major, minor } = parseIndxName(name);
            wantTags.set(hex(indxKey({ major, minor, ino: BigInt(ino), xid: BigInt(it.third) })), "");
          }
        }
        xattrIds.set(id, x);
      } else if (it.type === FS_TYPE.symlink) {
        symParts.push(it.fourth);
      }
    }
    for (const [id, x] of xattrIds) {
      if (x.nr < 0 || x.parts.size !== x.nr || ![...x.parts].every((p) => p < x.nr)) bad(`xattr ${id} of ${ino} has parts ${[...x.parts]} want ${x.nr}`);
    }
    if (online !== v.onlineBlocks) bad(`inode ${ino} online ${v.onlineBlocks} but extents hold ${online}`);
    if (offline !== v.offlineBlocks) bad(`inode ${ino} offline ${v.offlineBlocks} but extents hold ${offline}`);
    if (isLnkMode(v.mode)) {
      if (symParts.length !== symlinkNrParts(v.size)) bad(`symlink ${ino} has ${symParts.length} parts for size ${v.size}`);
    } else if (symParts.length > 0) bad(`non-symlink ${ino} has symlink parts`);
    if (isDirMode(v.mode) && nameBytes !== v.size) bad(`dir ${ino} size ${v.size} but names total ${nameBytes}`);
  }

  for (const [ino, v] of inodes) {
    const refs = backrefCount.get(ino) ?? 0;
    if (isDirMode(v.mode)) {
      if (v.nlink === 0) {
        if (!orphans.has(ino)) bad(`dir ${ino} with nlink 0 and no orphan item`);
        continue;
      }
      const want = 2 + (subdirs.get(ino) ?? 0);
      if (v.nlink !== want) bad(`dir ${ino} nlink ${v.nlink} want ${want}`);
      if (refs !== (ino === ROOT_INO ? 0 : 1)) bad(`dir ${ino} has ${refs} backrefs`);
    } else {
      if (v.nlink !== refs) bad(`inode ${ino} nlink ${v.nlink} but ${refs} backrefs`);
      if (v.nlink === 0 && !orphans.has(ino)) bad(`inode ${ino} with nlink 0 and no orphan item`);
    }
  }

  for (const t of wantTotl.values()) wantTags.set(hex(t.key), encodeTotl(t).toString("hex"));
  for (const [k, v] of wantTags) if (haveTags.get(k) !== v) bad(`tag item ${k} is ${haveTags.get(k)} want ${v}`);
  for (const [k, v] of haveTags) if (!wantTags.has(k)) bad(`tag item ${k} (${v}) without its xattr`);

  for (const [b, n] of referenced) {
    if (n > 1) bad(`data block ${b} referenced ${n} times`);
    if (!st.data.allocated.has(b)) bad(`data block ${b} referenced but not allocated`);
  }
  for (const b of st.data.allocated) if (!referenced.has(b)) bad(`data block ${b} allocated but not referenced (leak)`);
  return problems;
}
