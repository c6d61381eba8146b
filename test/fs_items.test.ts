import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeDirent,
  decodeExtent,
  decodeInode,
  decodeXattrValue,
  direntKey,
  encodeDirent,
  encodeExtent,
  encodeInode,
  encodeXattrParts,
  extentKey,
  inodeIndexKey,
  inodeKey,
  linkBackrefKey,
  nameHash,
  orphanKey,
  readdirKey,
  splitParts,
  xattrKey,
  xattrNameOfPart0,
  xattrNrParts,
  type InodeVal,
} from "../src/format/fs_items.js";
import { keyFields } from "../src/format/key.js";
import { BTREE_MAX_VAL_LEN, FS_TYPE, INODE_INDEX_TYPE, ORPHAN_TYPE, XATTR_MAX_VAL_LEN, ZONE } from "../src/format/constants.js";

const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const secs = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(-1, 0, -(2 ** 32), 2 ** 32 - 1));
const ts = fc.record({ sec: secs, nsec: fc.integer({ min: 0, max: 999_999_999 }) });

test("inode values round trip", () => {
  fc.assert(
    fc.property(
      fc.record({
        size: u53, metaSeq: u53, dataSeq: u53, dataVersion: u53, onlineBlocks: u53, offlineBlocks: u53,
        nextReaddirPos: u53, nextXattrId: u53, version: u53, nlink: u32, uid: u32, gid: u32, mode: u32,
        rdev: u32, flags: u32, atime: ts, ctime: ts, mtime: ts, crtime: ts,
        proj: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      }),
      (v: InodeVal) => {
        const b = encodeInode(v);
        assert.ok(b.length <= BTREE_MAX_VAL_LEN);
        // times are little-endian two's complement i64s; proj a u64
        assert.equal(b.readBigInt64LE(96), BigInt(v.atime.sec));
        assert.equal(b.readBigInt64LE(144), BigInt(v.crtime.sec));
        assert.equal(b.readBigUInt64LE(160), v.proj);
        assert.deepEqual(decodeInode(b), { ...v, atime: { ...v.atime }, ctime: { ...v.ctime }, mtime: { ...v.mtime }, crtime: { ...v.crtime } });
      },
    ),
  );
});

test("inode fields are little-endian at fixed offsets", () => {
  const b = encodeInode({
    size: 0x0102, metaSeq: 3, dataSeq: 4, dataVersion: 5, onlineBlocks: 6, offlineBlocks: 7, nextReaddirPos: 8,
    nextXattrId: 9, version: 10, nlink: 11, uid: 12, gid: 13, mode: 0o100644, rdev: 14, flags: 15,
    atime: { sec: 16, nsec: 17 }, ctime: { sec: 18, nsec: 19 }, mtime: { sec: 20, nsec: 21 }, crtime: { sec: 22, nsec: 23 }, proj: 24n,
  });
  assert.equal(b[0], 0x02);
  assert.equal(b[1], 0x01);
  assert.equal(b.readUInt32LE(72), 11);
  assert.equal(b.readUInt32LE(84), 0o100644);
  assert.equal(b.readBigInt64LE(96), 16n);
  assert.equal(b.readBigUInt64LE(160), 24n);
});

test("dirent and extent values round trip", () => {
  fc.assert(
    fc.property(u53, u53, u53, fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 255 }), (ino, hash, pos, type, name) => {
      const d = { ino, hash, pos, type, name: Buffer.from(name) };
      // the value is a slice of node's buffer pool, which is not zeroed: the encoder must zero the padding
      const b = encodeDirent(d);
      assert.deepEqual(decodeDirent(b), d);
      assert.ok(b.subarray(25, 32).every((x) => x === 0), "dirent padding is zero");
    }),
  );
  fc.assert(
    fc.property(u53, u53, fc.integer({ min: 0, max: 3 }), (blkno, len, flags) => {
      assert.deepEqual(decodeExtent(encodeExtent({ blkno, len, flags })), { blkno, len, flags });
    }),
  );
});

test("xattrs split into parts of at most the item value limit", () => {
  for (const valLen of [0, 1, BTREE_MAX_VAL_LEN - 20, BTREE_MAX_VAL_LEN, 5000, XATTR_MAX_VAL_LEN]) {
    const name = Buffer.from("user.some.name");
    const value = Buffer.alloc(valLen, 0x61);
    for (let i = 0; i < valLen; i++) value[i] = i & 0xff;
    const parts = encodeXattrParts(name, value);
    assert.equal(parts.length, xattrNrParts(name.length, valLen));
    for (const p of parts) assert.ok(p.length <= BTREE_MAX_VAL_LEN && p.length > 0);
    assert.deepEqual(xattrNameOfPart0(parts[0]!), name);
    assert.deepEqual(decodeXattrValue(parts), value);
  }
  assert.equal(splitParts(Buffer.alloc(0)).length, 1);
  assert.equal(splitParts(Buffer.alloc(4096)).length, 5);
});

test("name hashes are 53-bit and deterministic", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 255 }), (n) => {
      const h = nameHash(Buffer.from(n));
      assert.ok(Number.isSafeInteger(h) && h >= 0);
      assert.equal(h, nameHash(Buffer.from(n)));
    }),
  );
  assert.notEqual(nameHash(Buffer.from("a")), nameHash(Buffer.from("b")));
  const seen = new Set<number>();
  for (let i = 0; i < 10000; i++) seen.add(nameHash(Buffer.from(`file${i}`)));
  assert.equal(seen.size, 10000);
});

test("fs keys: zones, types and field order", () => {
  const f = keyFields(direntKey(7, 99, 3));
  assert.deepEqual(f, { zone: ZONE.fs, first: 7n, type: FS_TYPE.dirent, second: 99n, third: 3n, fourth: 0 });
  assert.equal(keyFields(readdirKey(7, 3)).type, FS_TYPE.readdir);
  assert.deepEqual(keyFields(linkBackrefKey(9, 7, 3)), { zone: ZONE.fs, first: 9n, type: FS_TYPE.linkBackref, second: 7n, third: 3n, fourth: 0 });
  assert.equal(keyFields(xattrKey(9, 1, 2, 3)).fourth, 3);
  assert.deepEqual(keyFields(inodeIndexKey(INODE_INDEX_TYPE.dataSeq, 50, 9)), {
    zone: ZONE.inodeIndex, first: 50n, type: INODE_INDEX_TYPE.dataSeq, second: 9n, third: 0n, fourth: 0,
  });
  assert.deepEqual(keyFields(orphanKey(9)), { zone: ZONE.orphan, first: 9n, type: ORPHAN_TYPE, second: 0n, third: 0n, fourth: 0 });
  // the items of one inode sort together, by type
  const keys = [extentKey(5, 0), inodeKey(5), xattrKey(5, 0, 0), inodeKey(6), direntKey(5, 0, 0)];
  keys.sort(Buffer.compare);
  assert.deepEqual(keys.map((k) => keyFields(k).type), [FS_TYPE.inode, FS_TYPE.xattr, FS_TYPE.dirent, FS_TYPE.dataExtent, FS_TYPE.inode]);
});
