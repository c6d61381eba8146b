/*
 * Unit tests of the FUSE wire format (src/fuse/protocol.ts): every codec
 * against byte layouts built here by hand, field by field, from the
 * kernel's include/uapi/linux/fuse.h, in both directions (decode the hand
 * bytes, encode back to the same bytes); struct sizes; u64 overflow; the
 * readdir packers; notifications; and the INIT flags the session
 * negotiates.  No kernel needed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as P from "../src/fuse/protocol.js";
import { Opcode, REQUEST_CODECS, type KnownOpcode, type RequestArgs } from "../src/fuse/protocol.js";
import { FuseSession, setattrChanges } from "../src/fuse/session.js";
import type { FuseOps } from "../src/fuse/ops.js";

/* hand-built little-endian fields */
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const u64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const i64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
};
const pad = (n: number) => Buffer.alloc(n);
const cstr = (s: string) => Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);
const bytes = (...parts: Buffer[]) => Buffer.concat(parts);

test("struct sizes are the kernel's", () => {
  const want: Record<string, [{ size: number }, number]> = {
    in_header: [P.InHeader, 40],
    out_header: [P.OutHeader, 16],
    attr: [P.Attr, 88],
    kstatfs: [P.Kstatfs, 80],
    init_in: [P.InitIn, 64],
    init_out: [P.InitOut, 64],
    forget_in: [P.ForgetIn, 8],
    forget_one: [P.ForgetOne, 16],
    batch_forget_in: [P.BatchForgetIn, 8],
    getattr_in: [P.GetattrIn, 16],
    setattr_in: [P.SetattrIn, 88],
    mknod_in: [P.MknodIn, 16],
    mkdir_in: [P.MkdirIn, 8],
    rename_in: [P.RenameIn, 8],
    rename2_in: [P.Rename2In, 16],
    link_in: [P.LinkIn, 8],
    open_in: [P.OpenIn, 8],
    create_in: [P.CreateIn, 16],
    release_in: [P.ReleaseIn, 24],
    flush_in: [P.FlushIn, 24],
    read_in: [P.ReadIn, 40],
    write_in: [P.WriteIn, 40],
    fsync_in: [P.FsyncIn, 16],
    setxattr_in: [P.SetxattrInExt, 16],
    setxattr_in_compat: [P.SetxattrInCompat, 8],
    getxattr_in: [P.GetxattrIn, 8],
    access_in: [P.AccessIn, 8],
    interrupt_in: [P.InterruptIn, 8],
    fallocate_in: [P.FallocateIn, 32],
    lseek_in: [P.LseekIn, 24],
    copy_file_range_in: [P.CopyFileRangeIn, 56],
    syncfs_in: [P.SyncfsIn, 8],
    entry_out_head: [P.EntryOutHead, 40],
    attr_out_head: [P.AttrOutHead, 16],
    open_out: [P.OpenOut, 16],
    write_out: [P.WriteOut, 8],
    getxattr_out: [P.GetxattrOut, 8],
    lseek_out: [P.LseekOut, 8],
    copy_file_range_out: [P.CopyFileRangeOut, 8],
    dirent_head: [P.DirentHead, 24],
    notify_inval_inode_out: [P.NotifyInvalInodeOut, 24],
    notify_inval_entry_out: [P.NotifyInvalEntryOut, 16],
    notify_delete_out: [P.NotifyDeleteOut, 24],
  };
  for (const [name, [codec, size]] of Object.entries(want)) assert.equal(codec.size, size, name);
  assert.equal(P.ENTRY_OUT_SIZE, 128);
  assert.equal(P.ATTR_OUT_SIZE, 104);
  assert.equal(P.DIRENTPLUS_HEAD_SIZE, 152);
  // a few offsets the kernel's readers depend on
  assert.equal(P.InitOut.offsets.maxWrite, 20);
  assert.equal(P.InitOut.offsets.maxPages, 28);
  assert.equal(P.InitOut.offsets.flags2, 32);
  assert.equal(P.InitOut.offsets.requestTimeout, 40);
  assert.equal(P.SetattrIn.offsets.mode, 68);
  assert.equal(P.SetattrIn.offsets.uid, 76);
  assert.equal(P.Attr.offsets.mode, 60);
  assert.equal(P.Attr.offsets.blksize, 80);
});

test("in_header: decoded from hand-built bytes, extensions stripped from the body", () => {
  const body = bytes(cstr("name"), pad(3));
  const ext = bytes(u32(16), u32(32), u32(1), u32(5)); // one fuse_ext_header + supp groups: 16 bytes = 2 units
  const len = 40 + body.length + ext.length;
  const hdr = bytes(u32(len), u32(Opcode.LOOKUP), u64(0x1234_5678_9abcn), u64(77), u32(1000), u32(100), u32(4242), u16(2), u16(0));
  const buf = Buffer.concat([hdr, body, ext, pad(64)]); // a read buffer larger than the request
  const h = P.decodeInHeader(buf, len);
  assert.deepEqual(h, { len, opcode: Opcode.LOOKUP, unique: 0x1234_5678_9abcn, nodeid: 77n, uid: 1000, gid: 100, pid: 4242, totalExtlen: 2 });
  assert.deepEqual(P.requestBody(buf, h), body);
  assert.deepEqual(P.decodeArgs(Opcode.LOOKUP, P.requestBody(buf, h)), { name: Buffer.from("name") });
  assert.throws(() => P.decodeInHeader(buf, len + 1), /EINVAL/);
  assert.throws(() => P.decodeInHeader(buf, 39), /EINVAL/);
});

test("encodeRequest builds what the kernel sends", () => {
  const r = P.encodeRequest(Opcode.MKDIR, { unique: 10n, nodeid: 1, uid: 5, gid: 6, pid: 7 }, { mode: 0o755, umask: 0o22, name: Buffer.from("dir") });
  assert.deepEqual(r, bytes(u32(40 + 8 + 4), u32(9), u64(10), u64(1), u32(5), u32(6), u32(7), u16(0), u16(0), u32(0o755), u32(0o22), cstr("dir")));
});

interface Case<K extends KnownOpcode> {
  op: K;
  args: RequestArgs[K];
  body: Buffer;
  st?: P.ProtoState;
}
function c<K extends KnownOpcode>(op: K, args: RequestArgs[K], body: Buffer, st?: P.ProtoState): Case<K> {
  return st ? { op, args, body, st } : { op, args, body };
}

const LOCK = 0xfedc_ba98_7654_3210n;
const requestCases = [
  c(Opcode.LOOKUP, { name: Buffer.from("file.txt") }, cstr("file.txt")),
  c(Opcode.FORGET, { nlookup: 3 }, u64(3)),
  c(Opcode.BATCH_FORGET, { forgets: [{ nodeid: 5, nlookup: 1 }, { nodeid: 2 ** 40, nlookup: 7 }] }, bytes(u32(2), pad(4), u64(5), u64(1), u64(2 ** 40), u64(7))),
  c(Opcode.GETATTR, { getattrFlags: 1, fh: 99 }, bytes(u32(1), pad(4), u64(99))),
  c(
    Opcode.SETATTR,
    { valid: 0x7ff, fh: 4, size: 2 ** 33, lockOwner: LOCK, atime: -5, mtime: 1_700_000_000, ctime: 3, atimensec: 1, mtimensec: 999_999_999, ctimensec: 3, mode: 0o100644, uid: 1, gid: 2 },
    bytes(u32(0x7ff), pad(4), u64(4), u64(2 ** 33), u64(LOCK), i64(-5), i64(1_700_000_000), i64(3), u32(1), u32(999_999_999), u32(3), u32(0o100644), pad(4), u32(1), u32(2), pad(4)),
  ),
  c(Opcode.READLINK, {}, pad(0)),
  c(Opcode.SYMLINK, { name: Buffer.from("ln"), target: Buffer.from("../t") }, bytes(cstr("ln"), cstr("../t"))),
  c(Opcode.MKNOD, { mode: 0o10644, rdev: 0x0801, umask: 0o22, name: Buffer.from("fifo") }, bytes(u32(0o10644), u32(0x0801), u32(0o22), pad(4), cstr("fifo"))),
  c(Opcode.MKDIR, { mode: 0o777, umask: 0o2, name: Buffer.from("d") }, bytes(u32(0o777), u32(0o2), cstr("d"))),
  c(Opcode.UNLINK, { name: Buffer.from([0xff, 0xfe]) }, bytes(Buffer.from([0xff, 0xfe]), pad(1))),
  c(Opcode.RMDIR, { name: Buffer.from("d") }, cstr("d")),
  c(Opcode.RENAME, { newdir: 9, name: Buffer.from("a"), newname: Buffer.from("b") }, bytes(u64(9), cstr("a"), cstr("b"))),
  c(Opcode.RENAME2, { newdir: 9, flags: 2, name: Buffer.from("a"), newname: Buffer.from("bb") }, bytes(u64(9), u32(2), pad(4), cstr("a"), cstr("bb"))),
  c(Opcode.LINK, { oldnodeid: 12, name: Buffer.from("hard") }, bytes(u64(12), cstr("hard"))),
  c(Opcode.OPEN, { flags: 0o1102, openFlags: 1 }, bytes(u32(0o1102), u32(1))),
  c(Opcode.READ, { fh: 3, offset: 2 ** 40, size: 131072, readFlags: 2, lockOwner: 5n, flags: 0o2 }, bytes(u64(3), u64(2 ** 40), u32(131072), u32(2), u64(5), u32(0o2), pad(4))),
  c(
    Opcode.WRITE,
    { fh: 3, offset: 4096, size: 5, writeFlags: 1, lockOwner: 0n, flags: 0o100001, data: Buffer.from("hello") },
    bytes(u64(3), u64(4096), u32(5), u32(1), u64(0), u32(0o100001), pad(4), Buffer.from("hello")),
  ),
  c(Opcode.STATFS, {}, pad(0)),
  c(Opcode.RELEASE, { fh: 8, flags: 0o2, releaseFlags: 1, lockOwner: LOCK }, bytes(u64(8), u32(0o2), u32(1), u64(LOCK))),
  c(Opcode.FSYNC, { fh: 8, fsyncFlags: 1 }, bytes(u64(8), u32(1), pad(4))),
  c(Opcode.SETXATTR, { size: 3, flags: 1, setxattrFlags: 0, name: Buffer.from("user.a"), value: Buffer.from([1, 0, 2]) }, bytes(u32(3), u32(1), cstr("user.a"), Buffer.from([1, 0, 2]))),
  c(
    Opcode.SETXATTR,
    { size: 2, flags: 2, setxattrFlags: 1, name: Buffer.from("system.posix_acl_access"), value: Buffer.from("xy") },
    bytes(u32(2), u32(2), u32(1), pad(4), cstr("system.posix_acl_access"), Buffer.from("xy")),
    { setxattrExt: true },
  ),
  c(Opcode.GETXATTR, { size: 256, name: Buffer.from("user.a") }, bytes(u32(256), pad(4), cstr("user.a"))),
  c(Opcode.LISTXATTR, { size: 0 }, bytes(u32(0), pad(4))),
  c(Opcode.REMOVEXATTR, { name: Buffer.from("user.a") }, cstr("user.a")),
  c(Opcode.FLUSH, { fh: 8, lockOwner: 77n }, bytes(u64(8), pad(8), u64(77))),
  c(
    Opcode.INIT,
    { major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd },
    bytes(u32(7), u32(45), u32(131072), u32(0x73fffffb), u32(0x5fd), pad(44)),
  ),
  c(Opcode.OPENDIR, { flags: 0o200000, openFlags: 0 }, bytes(u32(0o200000), u32(0))),
  c(Opcode.READDIR, { fh: 1, offset: 0, size: 4096, readFlags: 0, lockOwner: 0n, flags: 0 }, bytes(u64(1), u64(0), u32(4096), u32(0), u64(0), u32(0), pad(4))),
  c(Opcode.READDIRPLUS, { fh: 1, offset: 17, size: 4096, readFlags: 0, lockOwner: 0n, flags: 0 }, bytes(u64(1), u64(17), u32(4096), u32(0), u64(0), u32(0), pad(4))),
  c(Opcode.RELEASEDIR, { fh: 1, flags: 0, releaseFlags: 0, lockOwner: 0n }, bytes(u64(1), u32(0), u32(0), u64(0))),
  c(Opcode.FSYNCDIR, { fh: 1, fsyncFlags: 0 }, bytes(u64(1), u32(0), pad(4))),
  c(Opcode.ACCESS, { mask: 7 }, bytes(u32(7), pad(4))),
  c(Opcode.CREATE, { flags: 0o101, mode: 0o100644, umask: 0o22, openFlags: 0, name: Buffer.from("new") }, bytes(u32(0o101), u32(0o100644), u32(0o22), u32(0), cstr("new"))),
  c(Opcode.TMPFILE, { flags: 0o20200002, mode: 0o100600, umask: 0o22, openFlags: 0, name: Buffer.from("/") }, bytes(u32(0o20200002), u32(0o100600), u32(0o22), u32(0), cstr("/"))),
  c(Opcode.INTERRUPT, { unique: 0x8000_0000_0000_0002n }, u64(0x8000_0000_0000_0002n)),
  c(Opcode.FALLOCATE, { fh: 2, offset: 100, length: 2 ** 35, mode: 1 }, bytes(u64(2), u64(100), u64(2 ** 35), u32(1), pad(4))),
  c(Opcode.LSEEK, { fh: 2, offset: 10, whence: 4 }, bytes(u64(2), u64(10), u32(4), pad(4))),
  c(
    Opcode.COPY_FILE_RANGE,
    { fhIn: 1, offIn: 2, nodeidOut: 3, fhOut: 4, offOut: 5, len: 6, flags: 0n },
    bytes(u64(1), u64(2), u64(3), u64(4), u64(5), u64(6), u64(0)),
  ),
  c(
    Opcode.COPY_FILE_RANGE_64,
    { fhIn: 1, offIn: 0, nodeidOut: 3, fhOut: 4, offOut: 0, len: 2 ** 40, flags: 0n },
    bytes(u64(1), u64(0), u64(3), u64(4), u64(0), u64(2 ** 40), u64(0)),
  ),
  c(Opcode.SYNCFS, {}, pad(8)),
  c(Opcode.DESTROY, {}, pad(0)),
];

test("every request decodes from hand-built bytes and encodes back to them", () => {
  const seen = new Set<number>();
  for (const k of requestCases) {
    const st = k.st ?? P.DEFAULT_PROTO;
    const codec = REQUEST_CODECS[k.op] as { decode(b: Buffer, s: P.ProtoState): unknown; encode(a: unknown, s: P.ProtoState): Buffer };
    assert.deepEqual(codec.decode(k.body, st), k.args, P.opcodeName(k.op));
    assert.deepEqual(codec.encode(k.args, st), k.body, P.opcodeName(k.op));
    seen.add(k.op);
  }
  // every opcode the session handles has a case
  for (const op of Object.keys(REQUEST_CODECS).map(Number)) assert.ok(seen.has(op), `no case for ${P.opcodeName(op)}`);
});

test("old kernels' 16-byte INIT is read with flags2 zero", () => {
  const a = P.decodeArgs(Opcode.INIT, bytes(u32(7), u32(31), u32(65536), u32(0x3fffffb)));
  assert.deepEqual(a, { major: 7, minor: 31, maxReadahead: 65536, flags: 0x3fffffb, flags2: 0 });
});

test("malformed request arguments are EINVAL, and u64 past 2^53 is EOVERFLOW", () => {
  assert.throws(() => P.decodeArgs(Opcode.LOOKUP, Buffer.from("noterminator")), /EINVAL/);
  assert.throws(() => P.decodeArgs(Opcode.READ, pad(39)), /EINVAL/);
  assert.throws(() => P.decodeArgs(Opcode.WRITE, bytes(u64(1), u64(0), u32(10), u32(0), u64(0), u32(0), pad(4), Buffer.from("short"))), /EINVAL/);
  assert.throws(() => P.decodeArgs(Opcode.BATCH_FORGET, bytes(u32(3), pad(4), u64(1), u64(1))), /EINVAL/);
  assert.throws(() => P.decodeArgs(Opcode.SETXATTR, bytes(u32(10), u32(0), cstr("user.x"), Buffer.from("abc"))), /EINVAL/);
  assert.throws(() => P.decodeArgs(Opcode.READ, bytes(u64(1), u64(2n ** 53n), u32(1), u32(0), u64(0), u32(0), pad(4))), /EOVERFLOW/);
  // a position to write at past 2^53 is past the largest file: EFBIG
  assert.throws(() => P.decodeArgs(Opcode.WRITE, bytes(u64(1), u64(2n ** 53n), u32(1), u32(0), u64(0), u32(0), pad(4), Buffer.from("x"))), /EFBIG/);
  // the largest safe value is fine, and a lock owner keeps all 64 bits
  const r = P.decodeArgs(Opcode.READ, bytes(u64(1), u64(2n ** 53n - 1n), u32(1), u32(0), u64(2n ** 64n - 1n), u32(0), pad(4)));
  assert.equal(r.offset, Number.MAX_SAFE_INTEGER);
  assert.equal(r.lockOwner, 2n ** 64n - 1n);
});

test("u64/i64 helpers: exact round trips, negative times, refusal of unsafe values", () => {
  const b = Buffer.alloc(8);
  for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 52 + 12345, Number.MAX_SAFE_INTEGER]) {
    P.writeU64(b, 0, v);
    assert.equal(b.readBigUInt64LE(0), BigInt(v));
    assert.equal(P.readU64(b, 0), v);
  }
  for (const v of [-1, -(2 ** 32), -(2 ** 32) - 1, Number.MIN_SAFE_INTEGER, 5, 2 ** 40]) {
    P.writeI64(b, 0, v);
    assert.equal(b.readBigInt64LE(0), BigInt(v));
    assert.equal(P.readI64(b, 0), v);
  }
  assert.throws(() => P.writeU64(b, 0, -1), RangeError);
  assert.throws(() => P.writeU64(b, 0, 2 ** 53), RangeError);
  assert.throws(() => P.writeU64(b, 0, 1.5), RangeError);
});

const attr = {
  ino: 42,
  size: 2 ** 34 + 5,
  blocks: 9,
  atime: -10,
  mtime: 1_700_000_001,
  ctime: 1_700_000_002,
  atimensec: 1,
  mtimensec: 2,
  ctimensec: 3,
  mode: 0o100640,
  nlink: 2,
  uid: 1000,
  gid: 1001,
  rdev: 0,
  blksize: 4096,
  flags: 0,
};
const attrBytes = bytes(
  u64(42),
  u64(2 ** 34 + 5),
  u64(9),
  i64(-10),
  i64(1_700_000_001),
  i64(1_700_000_002),
  u32(1),
  u32(2),
  u32(3),
  u32(0o100640),
  u32(2),
  u32(1000),
  u32(1001),
  u32(0),
  u32(4096),
  u32(0),
);

/** run fn while Buffer.allocUnsafe hands out memory full of 0xa5, as recycled pool memory may be: padding must still go out as zeros */
function withDirtyPool(fn: () => void): () => void {
  return () => {
    const real = Buffer.allocUnsafe;
    Buffer.allocUnsafe = (size: number) => real(size).fill(0xa5);
    try {
      fn();
    } finally {
      Buffer.allocUnsafe = real;
    }
  };
}

test("entry_out and attr_out match the kernel's layout", withDirtyPool(() => {
  const e = { nodeid: 42, generation: 7, entryValid: 3600, attrValid: 1, entryValidNsec: 5, attrValidNsec: 500_000_000, attr };
  const eb = bytes(u64(42), u64(7), u64(3600), u64(1), u32(5), u32(500_000_000), attrBytes);
  assert.deepEqual(P.encodeEntryOut(e), eb);
  assert.deepEqual(P.decodeEntryOut(eb), e);
  const a = { attrValid: 2, attrValidNsec: 3, attr };
  const ab = bytes(u64(2), u32(3), pad(4), attrBytes);
  assert.deepEqual(P.encodeAttrOut(a), ab);
  assert.deepEqual(P.decodeAttrOut(ab), a);
  // the ops' shape converts to the wire shape
  assert.deepEqual(
    P.attrToWire({
      ino: 42,
      size: 2 ** 34 + 5,
      blocks: 9,
      atime: { sec: -10, nsec: 1 },
      mtime: { sec: 1_700_000_001, nsec: 2 },
      ctime: { sec: 1_700_000_002, nsec: 3 },
      mode: 0o100640,
      nlink: 2,
      uid: 1000,
      gid: 1001,
      rdev: 0,
      blksize: 4096,
    }),
    attr,
  );
}));

test("the other replies match the kernel's layouts", withDirtyPool(() => {
  const rt = <T>(codec: { encode(v: T): Buffer; decode(b: Buffer, o?: number): T }, v: T, b: Buffer) => {
    assert.deepEqual(codec.encode(v), b);
    assert.deepEqual(codec.decode(b), v);
  };
  rt(P.OpenOut, { fh: 2 ** 40, openFlags: 3, backingId: -1 }, bytes(u64(2 ** 40), u32(3), i32(-1)));
  rt(P.WriteOut, { size: 1 << 20 }, bytes(u32(1 << 20), pad(4)));
  rt(P.GetxattrOut, { size: 77 }, bytes(u32(77), pad(4)));
  rt(P.LseekOut, { offset: 2 ** 45 }, u64(2 ** 45));
  rt(P.CopyFileRangeOut, { bytesCopied: 2 ** 33 }, u64(2 ** 33));
  rt(
    P.Kstatfs,
    { blocks: 100, bfree: 50, bavail: 40, files: 1000, ffree: 900, bsize: 4096, namelen: 255, frsize: 4096 },
    bytes(u64(100), u64(50), u64(40), u64(1000), u64(900), u32(4096), u32(255), u32(4096), pad(4), pad(24)),
  );
  rt(
    P.InitOut,
    { major: 7, minor: 45, maxReadahead: 131072, flags: 0x4037_6039, maxBackground: 64, congestionThreshold: 48, maxWrite: 1 << 20, timeGran: 1, maxPages: 256, mapAlignment: 0, flags2: 0, maxStackDepth: 0, requestTimeout: 0 },
    bytes(u32(7), u32(45), u32(131072), u32(0x4037_6039), u16(64), u16(48), u32(1 << 20), u32(1), u16(256), u16(0), u32(0), u32(0), u16(0), pad(2 + 4 + 16)),
  );
}));

test("out_header and decodeReply: errors negative on the wire, notifications carry their code", () => {
  assert.deepEqual(P.encodeOutHeader(0x55n, 2, 8), bytes(u32(24), i32(-2), u64(0x55)));
  const r = P.decodeReply(bytes(u32(24), i32(-2), u64(0x55), u64(9)));
  assert.equal(r.error, 2);
  assert.equal(r.unique, 0x55n);
  assert.deepEqual(r.body, u64(9));
});

test("notify messages: unique 0, error = the notify code, names NUL-terminated", () => {
  assert.deepEqual(Buffer.concat(P.encodeNotifyInvalInode(42, 0, 0)), bytes(u32(40), i32(2), u64(0), u64(42), i64(0), i64(0)));
  assert.deepEqual(Buffer.concat(P.encodeNotifyInvalInode(42, -1, 4096)), bytes(u32(40), i32(2), u64(0), u64(42), i64(-1), i64(4096)));
  assert.deepEqual(
    Buffer.concat(P.encodeNotifyInvalEntry(1, Buffer.from("name"))),
    bytes(u32(16 + 16 + 5), i32(3), u64(0), u64(1), u32(4), u32(0), cstr("name")),
  );
  assert.deepEqual(
    Buffer.concat(P.encodeNotifyDelete(1, 9, Buffer.from("gone"))),
    bytes(u32(16 + 24 + 5), i32(6), u64(0), u64(1), u64(9), u32(4), pad(4), cstr("gone")),
  );
  const n = P.decodeReply(Buffer.concat(P.encodeNotifyInvalInode(42, 0, 0)));
  assert.equal(n.unique, 0n);
  assert.equal(n.error, P.NotifyCode.INVAL_INODE);
  assert.throws(() => P.encodeNotifyInvalEntry(1, Buffer.alloc(0)), /ENAMETOOLONG/);
  assert.throws(() => P.encodeNotifyInvalEntry(1, Buffer.from("a\0b")), /EINVAL/);
});

test("READDIR packing: 24-byte heads, names padded to 8, stops when full", () => {
  const p = new P.DirentPacker(80);
  assert.ok(p.add({ ino: 1, off: 1, type: 4, name: Buffer.from(".") }));
  assert.ok(p.add({ ino: 5, off: 2, type: 8, name: Buffer.from("abcdefghi") }));
  // 32 + 40 = 72 used; the next needs 32
  assert.equal(p.length, 72);
  assert.ok(!p.add({ ino: 6, off: 3, type: 8, name: Buffer.from("x") }));
  assert.deepEqual(
    p.result(),
    bytes(u64(1), u64(1), u32(1), u32(4), Buffer.from("."), pad(7), u64(5), u64(2), u32(9), u32(8), Buffer.from("abcdefghi"), pad(7)),
  );
  assert.deepEqual(P.decodeDirents(p.result()), [
    { ino: 1, off: 1, type: 4, name: Buffer.from(".") },
    { ino: 5, off: 2, type: 8, name: Buffer.from("abcdefghi") },
  ]);
  assert.equal(P.direntSize("abcdefghi"), 40);
  assert.equal(P.direntSize("12345678"), 32);
  assert.equal(P.direntplusSize("x"), 160);
});

test("READDIRPLUS packing: entry_out then dirent, padded to 8", () => {
  const entry = { nodeid: 42, generation: 0, entryValid: 1, attrValid: 1, entryValidNsec: 0, attrValidNsec: 0, attr };
  const p = new P.DirentPacker(4096);
  assert.ok(p.addPlus({ entry, dirent: { ino: 42, off: 3, type: 8, name: Buffer.from("file") } }));
  assert.equal(p.length, 160);
  assert.deepEqual(p.result(), bytes(P.encodeEntryOut(entry), u64(42), u64(3), u32(4), u32(8), Buffer.from("file"), pad(4)));
  assert.deepEqual(P.decodeDirentsPlus(p.result()), [{ entry, dirent: { ino: 42, off: 3, type: 8, name: Buffer.from("file") } }]);
  const small = new P.DirentPacker(159);
  assert.ok(!small.addPlus({ entry, dirent: { ino: 42, off: 3, type: 8, name: Buffer.from("file") } }));
  assert.equal(small.length, 0);
});

test("xattr name lists are NUL-terminated names", () => {
  const b = P.encodeXattrList(["user.a", Buffer.from("security.b")]);
  assert.deepEqual(b, bytes(cstr("user.a"), cstr("security.b")));
  assert.deepEqual(P.decodeXattrList(b), [Buffer.from("user.a"), Buffer.from("security.b")]);
  assert.deepEqual(P.encodeXattrList([]), pad(0));
});

test("timeouts split into seconds and nanoseconds", () => {
  assert.deepEqual(P.splitTimeout(1.5), { sec: 1, nsec: 500_000_000 });
  assert.deepEqual(P.splitTimeout(0), { sec: 0, nsec: 0 });
  assert.deepEqual(P.splitTimeout(-3), { sec: 0, nsec: 0 });
  assert.deepEqual(P.splitTimeout(3600), { sec: 3600, nsec: 0 });
});

test("SETATTR's valid bits become the ops' changes", () => {
  const base = { fh: 4, size: 100, lockOwner: 9n, atime: 10, mtime: 20, ctime: 30, atimensec: 1, mtimensec: 2, ctimensec: 3, mode: 0o100600, uid: 5, gid: 6 };
  assert.deepEqual(setattrChanges({ ...base, valid: 0 }), {});
  assert.deepEqual(setattrChanges({ ...base, valid: P.FATTR.MODE | P.FATTR.UID | P.FATTR.GID | P.FATTR.SIZE }), { mode: 0o100600, uid: 5, gid: 6, size: 100 });
  assert.deepEqual(setattrChanges({ ...base, valid: P.FATTR.ATIME | P.FATTR.MTIME | P.FATTR.CTIME | P.FATTR.FH | P.FATTR.LOCKOWNER }), {
    atime: { sec: 10, nsec: 1 },
    mtime: { sec: 20, nsec: 2 },
    ctime: { sec: 30, nsec: 3 },
    fh: 4,
    lockOwner: 9n,
  });
  assert.deepEqual(setattrChanges({ ...base, valid: P.FATTR.ATIME | P.FATTR.ATIME_NOW | P.FATTR.MTIME | P.FATTR.MTIME_NOW }), { atime: "now", mtime: "now" });
});

test("INIT negotiation: the flags asked for, intersected with the kernel's, never writeback cache", () => {
  const ops: FuseOps = { readdirplus: async () => [] };
  const s = new FuseSession(-1, ops, {});
  // what Linux 6.18 offers
  const { info, out } = s.negotiate({ major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd });
  const names = P.initFlagNames(info.flags, info.flags2).sort();
  assert.deepEqual(
    names,
    ["ASYNC_READ", "ATOMIC_O_TRUNC", "BIG_WRITES", "DIRECT_IO_ALLOW_MMAP", "DONT_MASK", "DO_READDIRPLUS", "EXPORT_SUPPORT", "INIT_EXT", "MAX_PAGES", "PARALLEL_DIROPS", "POSIX_ACL", "READDIRPLUS_AUTO", "SETXATTR_EXT"].sort(),
  );
  assert.equal(out.flags2, P.InitFlag2.DIRECT_IO_ALLOW_MMAP, "the only flags2 bit asked for");
  const noMmap = s.negotiate({ major: 7, minor: 45, maxReadahead: 131072, flags: 0x73fffffb, flags2: 0x5fd & ~P.InitFlag2.DIRECT_IO_ALLOW_MMAP });
  assert.equal(noMmap.out.flags2, 0, "not asked where the kernel does not offer it");
  assert.equal(info.flags & P.InitFlag.WRITEBACK_CACHE, 0);
  assert.equal(out.minor, 45);
  assert.equal(out.maxWrite, 1 << 20);
  assert.equal(out.maxPages, 256);
  assert.equal(out.maxReadahead, 131072);
  assert.equal(out.timeGran, 1);
  assert.ok(info.dontMask && info.posixAcl);

  // an older kernel: its minor, and only what it offers
  const old = s.negotiate({ major: 7, minor: 31, maxReadahead: 131072, flags: P.InitFlag.ASYNC_READ | P.InitFlag.BIG_WRITES | P.InitFlag.WRITEBACK_CACHE, flags2: 0xffff });
  assert.equal(old.out.minor, 31);
  assert.equal(old.info.flags, P.InitFlag.ASYNC_READ | P.InitFlag.BIG_WRITES);
  assert.equal(old.info.kernelFlags2, 0, "flags2 is ignored without INIT_EXT");

  // without readdirplus in the ops, or with ACLs and readdirplus off
  const plain = new FuseSession(-1, {}, { posixAcl: false }).negotiate({ major: 7, minor: 45, maxReadahead: 1 << 20, flags: 0x73fffffb, flags2: 0 });
  assert.equal(plain.info.flags & (P.InitFlag.DO_READDIRPLUS | P.InitFlag.POSIX_ACL | P.InitFlag.DONT_MASK | P.InitFlag.SETXATTR_EXT), 0);
  const always = new FuseSession(-1, ops, { readdirplus: "always", maxWrite: 128 * 1024 }).negotiate({ major: 7, minor: 45, maxReadahead: 1 << 20, flags: 0x73fffffb, flags2: 0 });
  assert.ok(always.info.flags & P.InitFlag.DO_READDIRPLUS);
  assert.equal(always.info.flags & P.InitFlag.READDIRPLUS_AUTO, 0);
  assert.equal(always.out.maxPages, 32);
  assert.equal(always.out.maxReadahead, 1 << 20);
});
