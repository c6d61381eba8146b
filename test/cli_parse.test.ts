import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile, readdir } from "node:fs/promises";
import { existsSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  UsageError,
  parseSize,
  parseU64,
  parseU64Number,
  parseU32,
  parseQuorumSlot,
  validateQuorumSlots,
  quorumSlotTable,
  parseMountOptions,
  formatMountOptions,
  MOUNT_OPTION_DEFAULTS,
  type QuorumSlotSpec,
} from "../src/cli/parse.js";
import {
  openDeviceForMkfs,
  detectSignature,
  signatureMessage,
  formatBaseSize,
  blockDeviceBytes,
  SIGNATURE_PROBE_BYTES,
} from "../src/cli/devices.js";
import { BLOCK_MAGIC } from "../src/format/constants.js";

/** assert that fn throws a UsageError with exactly this message and exit code 1 */
function usage(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    assert.equal(e.exitCode, 1);
    assert.ok(!e.message.includes("\n"), "one line");
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

async function usageAsync(p: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    assert.equal(e.exitCode, 1);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe("UsageError", () => {
  test("carries message, name and exit code", () => {
    const e = new UsageError("bad");
    assert.ok(e instanceof Error);
    assert.equal(e.message, "bad");
    assert.equal(e.name, "UsageError");
    assert.equal(e.exitCode, 1);
    assert.equal(new UsageError("x", 2).exitCode, 2);
  });
});

describe("parseSize", () => {
  test("plain bytes and binary suffixes", () => {
    assert.equal(parseSize("0"), 0);
    assert.equal(parseSize("4096"), 4096);
    assert.equal(parseSize("1K"), 1024);
    assert.equal(parseSize("40M"), 40 * 2 ** 20);
    assert.equal(parseSize("10G"), 10 * 2 ** 30);
    assert.equal(parseSize("4T"), 4 * 2 ** 40);
    assert.equal(parseSize("7P"), 7 * 2 ** 50);
    assert.equal(parseSize("0K"), 0);
  });
  test("C base-0 numbers like strtoull", () => {
    assert.equal(parseSize("0x1000"), 4096);
    assert.equal(parseSize("0X10K"), 16 * 1024);
    assert.equal(parseSize("010"), 8);
    assert.equal(parseSize("00"), 0);
  });
  test("largest exact size", () => {
    assert.equal(parseSize(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  });
  test("garbage", () => {
    const msg = (s: string) => `invalid size: '${s}', expected bytes or a number with a K, M, G, T or P suffix`;
    for (const s of ["", "abc", "-5", "+5", " 5", "K", ".5M"]) usage(() => parseSize(s), msg(s));
  });
  test("unknown suffixes", () => {
    usage(() => parseSize("10KB"), "unknown suffix: 'KB'");
    usage(() => parseSize("10k"), "unknown suffix: 'k'");
    usage(() => parseSize("10E"), "unknown suffix: 'E'");
    usage(() => parseSize("1.5G"), "unknown suffix: '.5G'");
    usage(() => parseSize("10 "), "unknown suffix: ' '");
    usage(() => parseSize("0x"), "unknown suffix: 'x'");
    usage(() => parseSize("08"), "unknown suffix: '8'");
  });
  test("overflow", () => {
    const big = (s: string) => `size too big: '${s}', must be at most 9007199254740991 bytes`;
    usage(() => parseSize("8P"), big("8P"));
    usage(() => parseSize("9007199254740992"), big("9007199254740992"));
    usage(() => parseSize("18446744073709551615"), big("18446744073709551615"));
    usage(() => parseSize("16777216G"), big("16777216G"));
    usage(() => parseSize("18446744073709551616"), "invalid 64bit value: '18446744073709551616'");
    usage(() => parseSize("99999999999999999999999K"), "invalid 64bit value: '99999999999999999999999K'");
  });
});

describe("parseU64 / parseU64Number / parseU32", () => {
  test("values", () => {
    assert.equal(parseU64("0"), 0n);
    assert.equal(parseU64("12345"), 12345n);
    assert.equal(parseU64("18446744073709551615"), 2n ** 64n - 1n);
    assert.equal(parseU64("0xffffffffffffffff"), 2n ** 64n - 1n);
    assert.equal(parseU64("0777"), 511n);
    assert.equal(parseU64Number("9007199254740991"), Number.MAX_SAFE_INTEGER);
    assert.equal(parseU64Number("2"), 2);
    assert.equal(parseU32("4294967295"), 4294967295);
    assert.equal(parseU32("0x10"), 16);
  });
  test("errors", () => {
    for (const s of ["", "-1", "+1", "1x", " 1", "1 ", "0x", "09", "18446744073709551616", "1K"]) {
      usage(() => parseU64(s), `invalid 64bit value: '${s}'`);
    }
    usage(() => parseU64Number("9007199254740992"), "value too big: '9007199254740992', must be at most 9007199254740991");
    usage(() => parseU64Number("x"), "invalid 64bit value: 'x'");
    usage(() => parseU32("4294967296"), "invalid 32bit value: '4294967296'");
    usage(() => parseU32("-1"), "invalid 32bit value: '-1'");
    usage(() => parseU32(""), "invalid 32bit value: ''");
  });
});

describe("parseQuorumSlot", () => {
  test("valid slots", () => {
    assert.deepEqual(parseQuorumSlot("0,127.0.0.1,12345"), { nr: 0, addr: "127.0.0.1", port: 12345 });
    assert.deepEqual(parseQuorumSlot("14,10.1.2.3,1"), { nr: 14, addr: "10.1.2.3", port: 1 });
    assert.deepEqual(parseQuorumSlot("3,192.168.1.254,65535"), { nr: 3, addr: "192.168.1.254", port: 65535 });
  });
  test("numbers as sscanf %u reads them", () => {
    assert.deepEqual(parseQuorumSlot(" 2,10.0.0.1, 7000"), { nr: 2, addr: "10.0.0.1", port: 7000 });
    assert.deepEqual(parseQuorumSlot("+2,10.0.0.1,+7000"), { nr: 2, addr: "10.0.0.1", port: 7000 });
    assert.deepEqual(parseQuorumSlot("002,10.0.0.1,07000"), { nr: 2, addr: "10.0.0.1", port: 7000 });
  });
  test("addresses as inet_aton reads them, normalized", () => {
    assert.equal(parseQuorumSlot("1,127.1,9").addr, "127.0.0.1");
    assert.equal(parseQuorumSlot("1,10.1.2,9").addr, "10.1.0.2");
    assert.equal(parseQuorumSlot("1,167772161,9").addr, "10.0.0.1");
    assert.equal(parseQuorumSlot("1,0x0a.0.0.010,9").addr, "10.0.0.8");
    assert.equal(parseQuorumSlot("1,10.65536,9").addr, "10.1.0.0");
  });
  test("incomplete", () => {
    for (const s of [
      "",
      "1",
      "1,",
      "1,10.0.0.1",
      "1,10.0.0.1,",
      "1,,5000",
      "x,10.0.0.1,5000",
      "1x,10.0.0.1,5000",
      "1 ,10.0.0.1,5000",
      "1,10.0.0.1,port",
      `1,${"1".repeat(46)},5000`,
    ]) {
      usage(() => parseQuorumSlot(s), `failed to parse all three NR,ADDR,PORT tokens in quorum slot '${s}'`);
    }
  });
  test("trailing characters", () => {
    for (const s of ["1,10.0.0.1,5000,", "1,10.0.0.1,5000x", "1,10.0.0.1,5000 ", "1,10.0.0.1,5000,6"]) {
      usage(() => parseQuorumSlot(s), `extra unparsed trailing characters in quorum slot '${s}'`);
    }
  });
  test("bad slot numbers", () => {
    usage(
      () => parseQuorumSlot("15,10.0.0.1,5000"),
      "invalid nr '15' in quorum slot '15,10.0.0.1,5000', must be between 0 and 14",
    );
    usage(
      () => parseQuorumSlot("-1,10.0.0.1,5000"),
      "invalid nr '-1' in quorum slot '-1,10.0.0.1,5000', must be between 0 and 14",
    );
    usage(
      () => parseQuorumSlot("99999999999999999999,10.0.0.1,5000"),
      /^invalid nr '99999999999999999999' in quorum slot/,
    );
  });
  test("bad ports", () => {
    for (const [p, shown] of [["0", "0"], ["65536", "65536"], ["-1", "-1"], ["000", "0"]]) {
      const s = `1,10.0.0.1,${p}`;
      usage(() => parseQuorumSlot(s), `invalid ipv4 port '${shown}' in quorum slot '${s}', must be between 1 and 65535`);
    }
  });
  test("bad addresses", () => {
    for (const a of [
      "0.0.0.0",
      "0",
      "255.255.255.255",
      "4294967295",
      "256.0.0.1",
      "10.0.0.256",
      "1.2.3.4.5",
      "10.0.0.",
      "::1",
      "fe80::1",
      "localhost",
      " 10.0.0.1",
      "10.0.0.1 ",
      "10.0.0.09",
      "10.16777216",
      "10.0.65536",
      "10.0.0.1.",
    ]) {
      const s = `1,${a},5000`;
      usage(() => parseQuorumSlot(s), `invalid ipv4 address '${a}' in quorum slot '${s}'`);
    }
  });
  test("nr is checked before port before address, as the original", () => {
    usage(() => parseQuorumSlot("20,bad,0"), /^invalid nr '20'/);
    usage(() => parseQuorumSlot("2,bad,0"), /^invalid ipv4 port '0'/);
  });
});

describe("validateQuorumSlots", () => {
  const s = (nr: number, addr: string, port: number): QuorumSlotSpec => ({ nr, addr, port });
  test("sorts by slot number", () => {
    assert.deepEqual(validateQuorumSlots([s(2, "10.0.0.3", 1), s(0, "10.0.0.1", 1), s(1, "10.0.0.1", 2)]), [
      s(0, "10.0.0.1", 1),
      s(1, "10.0.0.1", 2),
      s(2, "10.0.0.3", 1),
    ]);
    assert.deepEqual(validateQuorumSlots([s(14, "1.2.3.4", 5)]), [s(14, "1.2.3.4", 5)]);
  });
  test("none", () => {
    usage(() => validateQuorumSlots([]), "must specify at least one quorum slot with --quorum-slot|-Q");
  });
  test("duplicate slot numbers", () => {
    usage(
      () => validateQuorumSlots([s(1, "10.0.0.1", 5000), s(1, "10.0.0.2", 5000)]),
      "Quorum slot 1 already specified before slot '1,10.0.0.2,5000'",
    );
  });
  test("duplicate addresses", () => {
    usage(
      () => validateQuorumSlots([s(4, "10.0.0.1", 5000), s(0, "10.0.0.2", 5000), s(2, "10.0.0.1", 5000)]),
      "quorum slot nr 2 and 4 have the same address 10.0.0.1:5000",
    );
  });
  test("out of range numbers in hand-made specs", () => {
    usage(() => validateQuorumSlots([s(15, "10.0.0.1", 1)]), "invalid quorum slot nr 15, must be between 0 and 14");
    usage(() => validateQuorumSlots([s(1.5, "10.0.0.1", 1)]), "invalid quorum slot nr 1.5, must be between 0 and 14");
  });
  test("slot table", () => {
    const t = quorumSlotTable([s(3, "10.0.0.3", 7), s(0, "10.0.0.1", 7)]);
    assert.equal(t.length, 15);
    assert.deepEqual(t[0], { addr: "10.0.0.1", port: 7 });
    assert.deepEqual(t[3], { addr: "10.0.0.3", port: 7 });
    for (const i of [1, 2, 4, 14]) assert.deepEqual(t[i], { addr: "", port: 0 });
    usage(() => quorumSlotTable([]), /at least one quorum slot/);
  });
  test("parse then validate", () => {
    const slots = ["0,10.0.0.1,5000", "1,10.0.0.2,5000"].map(parseQuorumSlot);
    assert.equal(validateQuorumSlots(slots).length, 2);
  });
});

describe("parseMountOptions", () => {
  const base = "metadev_path=/dev/meta";
  test("defaults", () => {
    assert.deepEqual(parseMountOptions(base), { ...MOUNT_OPTION_DEFAULTS, metadevPath: "/dev/meta" });
    assert.deepEqual(MOUNT_OPTION_DEFAULTS, {
      quorumSlotNr: undefined,
      acl: true,
      dataPreallocBlocks: 2048,
      dataPreallocContigOnly: true,
      inoAllocPerLock: 1024,
      lockIdleCount: 10000,
      logMergeWaitTimeoutMs: 500,
      orphanScanDelayMs: 10000,
      quorumHeartbeatTimeoutMs: 10000,
      tcpKeepaliveTimeoutMs: 24000,
    });
  });
  test("every option", () => {
    const o = parseMountOptions(
      "metadev_path=/tmp/m.img,quorum_slot_nr=3,noacl,data_prealloc_blocks=16,data_prealloc_contig_only=0," +
        "ino_alloc_per_lock=64,lock_idle_count=32,log_merge_wait_timeout_ms=100,orphan_scan_delay_ms=60000," +
        "quorum_heartbeat_timeout_ms=2000,tcp_keepalive_timeout_ms=3001",
    );
    assert.deepEqual(o, {
      metadevPath: "/tmp/m.img",
      quorumSlotNr: 3,
      acl: false,
      dataPreallocBlocks: 16,
      dataPreallocContigOnly: false,
      inoAllocPerLock: 64,
      lockIdleCount: 32,
      logMergeWaitTimeoutMs: 100,
      orphanScanDelayMs: 60000,
      quorumHeartbeatTimeoutMs: 2000,
      tcpKeepaliveTimeoutMs: 3001,
    });
    assert.deepEqual(parseMountOptions(formatMountOptions(o)), o);
    const d = parseMountOptions(base);
    assert.deepEqual(parseMountOptions(formatMountOptions(d)), d);
    assert.ok(!formatMountOptions(d).includes("quorum_slot_nr"));
  });
  test("empty entries skipped, order free, later values win", () => {
    const o = parseMountOptions(",,lock_idle_count=100,,metadev_path=/a,lock_idle_count=200,metadev_path=/b,");
    assert.equal(o.lockIdleCount, 200);
    assert.equal(o.metadevPath, "/b");
    assert.equal(parseMountOptions(`${base},noacl,acl`).acl, true);
    assert.equal(parseMountOptions(`${base},acl,noacl`).acl, false);
    assert.equal(parseMountOptions(`metadev_path=/x=y`).metadevPath, "/x=y");
  });
  test("kernel number syntax", () => {
    assert.equal(parseMountOptions(`${base},lock_idle_count=0x40`).lockIdleCount, 64);
    assert.equal(parseMountOptions(`${base},lock_idle_count=0100`).lockIdleCount, 64);
    assert.equal(parseMountOptions(`${base},lock_idle_count=+64`).lockIdleCount, 64);
    assert.equal(parseMountOptions(`${base},quorum_heartbeat_timeout_ms=+3000`).quorumHeartbeatTimeoutMs, 3000);
    assert.equal(parseMountOptions(`${base},quorum_slot_nr=0`).quorumSlotNr, 0);
    assert.equal(parseMountOptions(`${base},data_prealloc_contig_only=1`).dataPreallocContigOnly, true);
  });
  test("boundaries accepted", () => {
    const ok: Array<[string, keyof ReturnType<typeof parseMountOptions>, number]> = [
      ["data_prealloc_blocks=1", "dataPreallocBlocks", 1],
      ["data_prealloc_blocks=4503599627370495", "dataPreallocBlocks", 2 ** 52 - 1],
      ["ino_alloc_per_lock=1", "inoAllocPerLock", 1],
      ["ino_alloc_per_lock=1024", "inoAllocPerLock", 1024],
      ["lock_idle_count=100000", "lockIdleCount", 100000],
      ["log_merge_wait_timeout_ms=60000", "logMergeWaitTimeoutMs", 60000],
      ["orphan_scan_delay_ms=100", "orphanScanDelayMs", 100],
      ["quorum_heartbeat_timeout_ms=60000", "quorumHeartbeatTimeoutMs", 60000],
      ["quorum_slot_nr=14", "quorumSlotNr", 14],
      ["tcp_keepalive_timeout_ms=2147483647", "tcpKeepaliveTimeoutMs", 2147483647],
    ];
    for (const [opt, key, v] of ok) assert.equal(parseMountOptions(`${base},${opt}`)[key], v, opt);
  });
  test("range and syntax errors", () => {
    const cases: Array<[string, string]> = [
      ["data_prealloc_blocks=0", "invalid data_prealloc_blocks option, must be between 1 and 4503599627370495"],
      ["data_prealloc_blocks=4503599627370496", "invalid data_prealloc_blocks option, must be between 1 and 4503599627370495"],
      ["data_prealloc_blocks=-1", "invalid data_prealloc_blocks option, must be between 1 and 4503599627370495"],
      ["data_prealloc_blocks=1M", "invalid data_prealloc_blocks option, must be between 1 and 4503599627370495"],
      ["data_prealloc_contig_only=2", "invalid data_prealloc_contig_only option, bool must only be 0 or 1"],
      ["data_prealloc_contig_only=-1", "invalid data_prealloc_contig_only option, bool must only be 0 or 1"],
      ["data_prealloc_contig_only=yes", "invalid data_prealloc_contig_only option, bool must only be 0 or 1"],
      ["ino_alloc_per_lock=0", "invalid ino_alloc_per_lock option, must be between 1 and 1024"],
      ["ino_alloc_per_lock=1025", "invalid ino_alloc_per_lock option, must be between 1 and 1024"],
      ["lock_idle_count=31", "invalid lock_idle_count value 31, must be between 32 and 100000"],
      ["lock_idle_count=100001", "invalid lock_idle_count value 100001, must be between 32 and 100000"],
      ["lock_idle_count=-5", "invalid lock_idle_count value -5, must be between 32 and 100000"],
      ["lock_idle_count=x", "failed to parse lock_idle_count value"],
      ["lock_idle_count=2147483648", "failed to parse lock_idle_count value"],
      ["lock_idle_count=08", "failed to parse lock_idle_count value"],
      ["lock_idle_count= 64", "failed to parse lock_idle_count value"],
      ["log_merge_wait_timeout_ms=99", "invalid log_merge_wait_timeout_ms value 99, must be between 100 and 60000"],
      ["log_merge_wait_timeout_ms=60001", "invalid log_merge_wait_timeout_ms value 60001, must be between 100 and 60000"],
      ["log_merge_wait_timeout_ms=1s", "failed to parse log_merge_wait_timeout_ms value"],
      ["orphan_scan_delay_ms=99", "invalid orphan_scan_delay_ms option, must be between 100 and 60000"],
      ["orphan_scan_delay_ms=60001", "invalid orphan_scan_delay_ms option, must be between 100 and 60000"],
      ["orphan_scan_delay_ms=abc", "invalid orphan_scan_delay_ms option, must be between 100 and 60000"],
      ["quorum_heartbeat_timeout_ms=1999", "invalid quorum_heartbeat_timeout_ms value 1999, must be between 2000 and 60000"],
      ["quorum_heartbeat_timeout_ms=60001", "invalid quorum_heartbeat_timeout_ms value 60001, must be between 2000 and 60000"],
      [
        "quorum_heartbeat_timeout_ms=18446744073709551615",
        "invalid quorum_heartbeat_timeout_ms value 18446744073709551615, must be between 2000 and 60000",
      ],
      ["quorum_heartbeat_timeout_ms=-1", "failed to parse quorum_heartbeat_timeout_ms value"],
      ["quorum_slot_nr=15", "invalid quorum_slot_nr option, must be between 0 and 14"],
      ["quorum_slot_nr=-1", "invalid quorum_slot_nr option, must be between 0 and 14"],
      ["quorum_slot_nr=one", "invalid quorum_slot_nr option, must be between 0 and 14"],
      ["tcp_keepalive_timeout_ms=3000", "invalid tcp_keepalive_timeout_ms value 3000, must be larger than 3000"],
      ["tcp_keepalive_timeout_ms=-1", "invalid tcp_keepalive_timeout_ms value -1, must be larger than 3000"],
      ["tcp_keepalive_timeout_ms=2147483648", "failed to parse tcp_keepalive_timeout_ms value"],
      ["tcp_keepalive_timeout_ms=", 'Unknown or malformed option, "tcp_keepalive_timeout_ms="'],
    ];
    for (const [opt, msg] of cases) usage(() => parseMountOptions(`${base},${opt}`), msg);
  });
  test("options given twice", () => {
    usage(
      () => parseMountOptions(`${base},quorum_slot_nr=1,quorum_slot_nr=1`),
      "multiple quorum_slot_nr options provided, only provide one.",
    );
    usage(
      () => parseMountOptions(`${base},orphan_scan_delay_ms=100,orphan_scan_delay_ms=200`),
      "multiple orphan_scan_delay_ms options provided, only provide one.",
    );
  });
  test("unknown or malformed", () => {
    for (const p of ["rw", "acl=1", "noacl=0", "metadev_path", "metadev_path=", "quorum_slot_nr", "Metadev_path=/x", "=1"]) {
      usage(() => parseMountOptions(`${base},${p}`), `Unknown or malformed option, "${p}"`);
    }
  });
  test("metadev_path required", () => {
    for (const s of ["", ",", "quorum_slot_nr=1", "acl"]) {
      usage(() => parseMountOptions(s), 'Required mount option "metadev_path" not found');
    }
  });
});

describe("detectSignature", () => {
  const dev = (len = SIGNATURE_PROBE_BYTES) => Buffer.alloc(len);
  test("blank devices", () => {
    assert.equal(detectSignature(dev()), null);
    assert.equal(detectSignature(Buffer.alloc(0)), null);
    assert.equal(detectSignature(Buffer.alloc(100)), null);
  });
  test("ext2/3/4", () => {
    const b = dev();
    b.writeUInt16LE(0xef53, 1080);
    assert.deepEqual(detectSignature(b), { kind: "filesystem", type: "ext2" });
    b.writeUInt32LE(0x4, 1024 + 0x5c); // has_journal
    assert.deepEqual(detectSignature(b), { kind: "filesystem", type: "ext3" });
    b.writeUInt32LE(0x2 | 0x40, 1024 + 0x60); // filetype, extents
    assert.deepEqual(detectSignature(b), { kind: "filesystem", type: "ext4" });
    b.writeUInt32LE(0x2, 1024 + 0x60);
    b.writeUInt32LE(0x8, 1024 + 0x64); // huge_file
    assert.equal(detectSignature(b)?.type, "ext4");
    b.writeUInt32LE(0x8, 1024 + 0x60); // journal_dev
    assert.equal(detectSignature(b)?.type, "jbd");
  });
  test("other filesystems", () => {
    const cases: Array<[number, string, string]> = [
      [0, "XFSB", "xfs"],
      [65600, "_BHRfS_M", "btrfs"],
      [4086, "SWAPSPACE2", "swap"],
      [4086, "SWAP-SPACE", "swap"],
      [512, "LABELONE", "LVM2_member"],
    ];
    for (const [off, magic, type] of cases) {
      const b = dev();
      b.write(magic, off, "latin1");
      assert.deepEqual(detectSignature(b), { kind: "filesystem", type }, type);
    }
  });
  test("partition tables", () => {
    const b = dev();
    b[510] = 0x55;
    b[511] = 0xaa;
    assert.deepEqual(detectSignature(b), { kind: "partition-table", type: "dos" });
    b.write("EFI PART", 512, "latin1");
    assert.deepEqual(detectSignature(b), { kind: "partition-table", type: "gpt" });
    b.write("XFSB", 0, "latin1");
    assert.deepEqual(detectSignature(b), { kind: "filesystem", type: "xfs" }, "filesystems first");
  });
  test("scoutfs super blocks, either copy, either header layout", () => {
    for (const off of [65536, 65540, 69632, 69636]) {
      const b = dev();
      b.writeUInt32LE(BLOCK_MAGIC.super, off);
      assert.deepEqual(detectSignature(b), { kind: "filesystem", type: "ScoutFS" }, String(off));
    }
    const b = dev();
    b.writeUInt32LE(BLOCK_MAGIC.super, 65544);
    assert.equal(detectSignature(b), null);
  });
  test("truncated buffers do not read past the end", () => {
    const b = Buffer.alloc(65538);
    b.writeUInt16LE(0x428b, 65536);
    assert.equal(detectSignature(b), null);
    const c = Buffer.alloc(4090);
    c.write("SWAP", 4086, "latin1");
    assert.equal(detectSignature(c), null);
  });
  test("messages", () => {
    assert.equal(
      signatureMessage("/dev/sdb", { kind: "filesystem", type: "ext4" }),
      "/dev/sdb: appears to contain an existing ext4 superblock",
    );
    assert.equal(
      signatureMessage("/dev/sdb", { kind: "filesystem", type: "ScoutFS" }),
      "/dev/sdb: appears to contain an existing ScoutFS superblock",
    );
    assert.equal(
      signatureMessage("/dev/sdb", { kind: "partition-table", type: "gpt" }),
      "/dev/sdb: appears to contain a partition table (gpt)",
    );
  });
});

describe("formatBaseSize", () => {
  test("two decimals and binary units", () => {
    assert.equal(formatBaseSize(0), "0.00B");
    assert.equal(formatBaseSize(1023), "1023.00B");
    assert.equal(formatBaseSize(1024), "1.00KB");
    assert.equal(formatBaseSize(1536 * 1024), "1.50MB");
    assert.equal(formatBaseSize(64 * 2 ** 30), "64.00GB");
    assert.equal(formatBaseSize(2 ** 50), "1.00PB");
  });
});

describe("openDeviceForMkfs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "scoutfs-cli-parse-"));
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  const p = () => join(dir, `img${n++}`);

  test("creates a missing path as a sparse file of the given size", async () => {
    const path = p();
    const size = 64 * 2 ** 30; // 64 GiB, sparse
    const d = await openDeviceForMkfs(path, size, { which: "meta" });
    try {
      assert.equal(d.path, path);
      assert.equal(d.sizeBytes, size);
      assert.equal(d.isBlockDevice, false);
      assert.equal(d.created, true);
      assert.deepEqual(d.notes, [`Created sparse meta device file '${path}' of 64.00GB`]);
      const st = statSync(path);
      assert.ok(st.isFile());
      assert.equal(st.size, size);
      assert.ok(st.blocks * 512 < 1024 * 1024, "sparse: almost nothing allocated");
      assert.equal(st.mode & 0o600, 0o600, "owner can read and write");
      assert.equal(st.mode & 0o111, 0, "not executable");
      // the handle is usable for reading and writing at the far end
      await d.fh.write(Buffer.from("hello"), 0, 5, size - 5);
      const back = Buffer.alloc(5);
      await d.fh.read(back, 0, 5, size - 5);
      assert.equal(back.toString(), "hello");
    } finally {
      await d.fh.close();
    }
    assert.equal(statSync(path).size, size);
  });

  test("creates odd sizes and empty files exactly", async () => {
    for (const size of [0, 1, 4097, 192 * 1024 + 3]) {
      const path = p();
      const d = await openDeviceForMkfs(path, size);
      await d.fh.close();
      assert.equal(d.sizeBytes, size);
      assert.equal((await stat(path)).size, size);
      assert.deepEqual(d.notes, [`Created sparse device file '${path}' of ${formatBaseSize(size)}`]);
    }
  });

  test("missing path without a size", async () => {
    const path = p();
    await usageAsync(
      openDeviceForMkfs(path, undefined, { which: "data" }),
      `failed to open data dev '${path}': No such file or directory (2)`,
    );
    await usageAsync(openDeviceForMkfs(path, undefined), `failed to open dev '${path}': No such file or directory (2)`);
    assert.equal(existsSync(path), false);
  });

  test("missing parent directory", async () => {
    const path = join(dir, "nope", "img");
    await usageAsync(
      openDeviceForMkfs(path, 4096, { which: "meta" }),
      `failed to create meta dev '${path}': No such file or directory (2)`,
    );
  });

  test("existing file: its own size", async () => {
    const path = p();
    await writeFile(path, Buffer.alloc(300 * 1024));
    const d = await openDeviceForMkfs(path, undefined, { which: "meta" });
    await d.fh.close();
    assert.equal(d.sizeBytes, 300 * 1024);
    assert.equal(d.created, false);
    assert.deepEqual(d.notes, []);
  });

  test("existing file: a larger size extends it sparsely", async () => {
    const path = p();
    await writeFile(path, Buffer.alloc(4096, 1));
    const d = await openDeviceForMkfs(path, 2 ** 30, { which: "data" });
    const head = Buffer.alloc(4097);
    await d.fh.read(head, 0, 4097, 0);
    await d.fh.close();
    assert.ok(head.subarray(0, 4096).every((b) => b === 1), "contents kept");
    assert.equal(head[4096], 0, "extension reads as zeros");
    assert.equal(d.sizeBytes, 2 ** 30);
    const st = statSync(path);
    assert.equal(st.size, 2 ** 30);
    assert.ok(st.blocks * 512 < 1024 * 1024);
    assert.deepEqual(d.notes, [`Extended data device file '${path}' from 4.00KB to 1.00GB`]);
  });

  test("existing file: a smaller size uses only that much", async () => {
    const path = p();
    await writeFile(path, Buffer.alloc(1024 * 1024));
    const d = await openDeviceForMkfs(path, 256 * 1024, { which: "meta" });
    await d.fh.close();
    assert.equal(d.sizeBytes, 256 * 1024);
    assert.equal(statSync(path).size, 1024 * 1024, "file untouched");
    assert.deepEqual(d.notes, ["Limiting use of 1.00MB meta device to 256.00KB"]);
  });

  test("existing file: the same size", async () => {
    const path = p();
    await writeFile(path, Buffer.alloc(8192));
    const d = await openDeviceForMkfs(path, 8192);
    await d.fh.close();
    assert.equal(d.sizeBytes, 8192);
    assert.deepEqual(d.notes, []);
  });

  test("refuses existing signatures unless forced", async () => {
    const path = p();
    const img = Buffer.alloc(256 * 1024);
    img.writeUInt32LE(BLOCK_MAGIC.super, 65536);
    await writeFile(path, img);
    await usageAsync(
      openDeviceForMkfs(path, undefined, { which: "meta" }),
      `${path}: appears to contain an existing ScoutFS superblock`,
    );
    const d = await openDeviceForMkfs(path, undefined, { which: "meta", force: true });
    await d.fh.close();
    assert.equal(d.sizeBytes, 256 * 1024);

    const ext = p();
    const e = Buffer.alloc(8192);
    e.writeUInt16LE(0xef53, 1080);
    await writeFile(ext, e);
    await usageAsync(openDeviceForMkfs(ext, 2 ** 20), `${ext}: appears to contain an existing ext2 superblock`);
    assert.equal(statSync(ext).size, 2 ** 20, "extended before the check, as the size was asked for");

    const gpt = p();
    const g = Buffer.alloc(4096);
    g.write("EFI PART", 512, "latin1");
    await writeFile(gpt, g);
    await usageAsync(openDeviceForMkfs(gpt, undefined), `${gpt}: appears to contain a partition table (gpt)`);
  });

  test("a signature beyond a smaller size limit still counts", async () => {
    const path = p();
    const img = Buffer.alloc(128 * 1024);
    img.write("_BHRfS_M", 65600, "latin1");
    await writeFile(path, img);
    await usageAsync(openDeviceForMkfs(path, 4096), `${path}: appears to contain an existing btrfs superblock`);
  });

  test("refuses directories and character devices", async () => {
    await usageAsync(openDeviceForMkfs(dir, undefined), `path isn't regular or device file '${dir}'`);
    await usageAsync(openDeviceForMkfs(dir, 4096), `path isn't regular or device file '${dir}'`);
    if (existsSync("/dev/null")) {
      await usageAsync(openDeviceForMkfs("/dev/null", undefined), "path isn't regular or device file '/dev/null'");
    }
  });

  test("refuses bad sizes", async () => {
    const path = p();
    for (const s of [-1, 1.5, 2 ** 53, NaN]) {
      await usageAsync(openDeviceForMkfs(path, s, { which: "meta" }), `invalid size ${s} for meta dev '${path}'`);
    }
    assert.equal(existsSync(path), false);
  });

  test("no stray files left by failures", async () => {
    const names = await readdir(dir);
    assert.ok(names.every((x) => x.startsWith("img")));
  });
});

describe("blockDeviceBytes", () => {
  // only stat()s and reads sysfs: never opens a block device
  const blockDevs = ["vda", "sda", "nvme0n1", "xvda", "zram0", "loop0"]
    .map((x) => `/dev/${x}`)
    .filter((x) => existsSync(x) && statSync(x).isBlockDevice());

  test("size from /sys/dev/block/MAJ:MIN/size", { skip: blockDevs.length === 0 && "no block devices" }, async () => {
    for (const path of blockDevs) {
      const st = await stat(path, { bigint: true });
      const maj = (st.rdev >> 8n) & 0xfffn;
      const min = (st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn);
      const sys = `/sys/dev/block/${maj}:${min}/size`;
      const cls = `/sys/class/block/${path.slice(5)}/size`;
      const src = existsSync(sys) ? sys : existsSync(cls) ? cls : undefined;
      if (src) {
        assert.equal(await blockDeviceBytes(path, st), Number(readFileSync(src, "utf8").trim()) * 512);
      } else {
        await usageAsync(blockDeviceBytes(path, st), new RegExp(`^BLKGETSIZE64 failed '${path}'`));
      }
    }
  });
});
