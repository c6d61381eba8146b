/*
 * The control layer: framing, the server and client over a real unix
 * socket in front of an in-process Mount on simulated devices, the output
 * formats of statfs and counters, and finding a mount from a path; then
 * `scoutfs statfs` and `scoutfs counters` through a real `scoutfs mount`
 * (needs root and /dev/fuse; cleans up whatever happens).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { simMkfs, simMount } from "./support/sim_fs.js";
import { ControlServer, type ControlHandlers } from "../src/control/server.js";
import { ControlClient } from "../src/control/client.js";
import { mountControlHandlers, unservedMountContext } from "../src/control/mount_control.js";
import { trustingAuthenticator } from "../src/control/auth.js";
import type { ControlCaller } from "../src/control/caller.js";
import { LineSplitter, LineTooLong, MAX_LINE_BYTES, parseRequest } from "../src/control/protocol.js";
import { controlSocketName, devOfScoutfsMountPoint, locateMount, parseMountinfo, splitDev, CONTROL_DIRS } from "../src/control/locate.js";
import { formatStatfs } from "../src/cli/cmd_statfs.js";
import { formatCounters } from "../src/cli/cmd_counters.js";
import { FsError, isFsError } from "../src/util/errors.js";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { CLI, cleanupMount, makeCliFs, run, scoutfs } from "./support/cli_harness.js";

const ROOT: ControlCaller = { uid: 0, gid: 0, groups: [0], pid: process.pid, sysAdmin: true, dacReadSearch: true };
const trustRoot = () => trustingAuthenticator(ROOT);

/** handlers for a test: the ones given, every other op fails the test */
function stubHandlers(given: Partial<ControlHandlers>): ControlHandlers {
  const unused = async (): Promise<never> => assert.fail("unused control op");
  const archive = { release: unused, stage: unused, punchOffline: unused, moveBlocks: unused, setattrMore: unused, fiemap: unused, dataWaiting: unused, dataWaitErr: unused };
  const xattr = { listHiddenXattrs: unused, searchXattrs: unused, readXattrTotals: unused, readXattrIndex: unused, getAttrX: unused, setAttrX: unused, quotaMod: unused, quotaList: unused, resizeDevices: unused };
  return { statfs: unused, counters: unused, walkInodes: unused, stat: unused, inoPath: unused, referringEntries: unused, allocatedInos: unused, ...archive, ...xattr, ...given };
}

/** a connection that has done the handshake (any directory will do for the lookup with a trusting server) */
async function authedClient(sock: string, what?: string): Promise<ControlClient> {
  const c = await ControlClient.connect(sock, what);
  await c.authenticate(os.tmpdir());
  return c;
}

const tmpSocket = (): { dir: string; sock: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctl-"));
  return { dir, sock: path.join(dir, "c.sock") };
};

/** send raw lines on a fresh connection and collect the reply lines until the daemon closes or n lines came */
function rawExchange(sock: string, payload: string | Buffer, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = "";
    const done = () => {
      c.destroy();
      resolve(buf.split("\n").filter((l) => l !== ""));
    };
    c.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.split("\n").length > n) done();
    });
    c.on("close", done);
    c.on("error", reject);
    c.write(payload);
  });
}

test("line framing: lines across chunks, multibyte characters split between chunks, a line over the limit", () => {
  const s = new LineSplitter(16);
  assert.deepEqual(s.push(Buffer.from("ab")), []);
  const e = Buffer.from("é\n{}\nx");
  assert.deepEqual(s.push(e.subarray(0, 1)), []);
  assert.deepEqual(s.push(e.subarray(1)), ["abé", "{}"]);
  assert.equal(s.buffered, 1);
  assert.throws(() => s.push(Buffer.alloc(16, 0x61)), LineTooLong);
  assert.deepEqual(parseRequest("nope"), { id: 0, error: "request is not JSON" });
  assert.deepEqual(parseRequest('{"id":3}'), { id: 3, error: "request needs numbers v and id and a string op" });
  assert.deepEqual(parseRequest('{"v":1,"id":3,"op":"statfs"}'), { v: 1, id: 3, op: "statfs", args: undefined });
});

test("statfs and counters of an in-process mount through the control socket", async () => {
  const d = await simMkfs();
  const m = await simMount(d);
  const { dir, sock } = tmpSocket();
  const server = await ControlServer.listen(sock, mountControlHandlers(unservedMountContext(m)), trustRoot());
  try {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o666);
    const anon = await ControlClient.connect(sock);
    await assert.rejects(anon.request("statfs", {}), (e: unknown) => isFsError(e, "EACCES") && /not authenticated/.test(e.message));
    await assert.rejects(anon.request("auth", { nonce: "00" }), (e: unknown) => isFsError(e, "EINVAL"), "a nonce this connection was not given");
    anon.close();
    const c = await authedClient(sock);
    const s1 = await c.request("statfs", {});
    const sst = await m.server.statfs();
    assert.equal(BigInt(s1.fsid), 0xabcdefn);
    assert.equal(BigInt(s1.rid), m.rid);
    assert.equal(s1.totalMetaBlocks, sst.totalMetaBlocks);
    assert.equal(s1.totalDataBlocks, sst.totalDataBlocks);
    assert.equal(s1.committedSeq, sst.committedSeq);

    // a change becomes durable at sync: committed_seq moves past the seq it was made under
    const seqOfChange = m.trans.seq;
    assert.ok(seqOfChange > s1.committedSeq);
    await m.fs.create(1, "f", 0o100644, 0, 0);
    await m.sync();
    const s2 = await c.request("statfs", {});
    assert.ok(s2.committedSeq >= seqOfChange, `${s2.committedSeq} >= ${seqOfChange}`);
    assert.deepEqual(formatStatfs(s2, "fsid"), ["0000000000abcdef"]);

    // pipelined requests are answered in order, each to its own id
    const [a, b, k] = await Promise.all([c.request("statfs", {}), c.request("counters", {}), c.request("statfs", {})]);
    assert.equal(a.committedSeq, k.committedSeq);
    assert.ok(b.counters["trans_commit"]! >= 1, "commits counted");
    assert.ok(b.counters["item_set"]! >= 1, "item changes counted");
    const names = Object.keys(b.counters);
    assert.deepEqual(names, [...names].sort());
    c.close();
  } finally {
    await server.close();
    await m.unmount();
  }
  assert.ok(!fs.existsSync(sock), "socket removed at close");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("control server errors: unknown op, other protocol version, junk, a too long line, a failing handler", async () => {
  const { dir, sock } = tmpSocket();
  fs.writeFileSync(sock, "stale"); // left by a daemon that died: replaced
  let fail: Error = new FsError("EROFS", "read-only");
  const handlers = stubHandlers({
    statfs: async () => {
      throw fail;
    },
    counters: async () => ({ counters: { a_b: 1 } }),
    walkInodes: async () => ({ entries: [] }),
  });
  const logged: string[] = [];
  const server = await ControlServer.listen(sock, handlers, trustRoot(), (s) => logged.push(s));
  try {
    const c = await authedClient(sock, "test mount");
    await assert.rejects(c.request("statfs", {}), (e: unknown) => isFsError(e, "EROFS") && e.message === "EROFS: read-only");
    fail = new TypeError("a bug");
    await assert.rejects(c.request("statfs", {}), (e: unknown) => isFsError(e, "EIO") && /statfs failed in the mount daemon: a bug/.test(e.message));
    assert.match(logged.join("\n"), /TypeError: a bug/);
    assert.deepEqual(await c.request("counters", {}), { counters: { a_b: 1 } }, "the connection survives handler errors");
    c.close();

    const replies = await rawExchange(sock, '{"v":1,"id":5,"op":"mkfs"}\nnot json\n{"v":9,"id":6,"op":"counters"}\n{"v":1,"id":7,"op":"counters"}\n', 4);
    // (id 7 is refused: this raw connection never authenticated)
    const parsed = replies.map((l) => JSON.parse(l) as { id: number; ok: boolean; errno?: string });
    assert.deepEqual(
      parsed.map((r) => [r.id, r.ok, r.errno]),
      [
        [5, false, "EOPNOTSUPP"],
        [0, false, "EINVAL"],
        [6, false, "EPROTO"],
        [7, false, "EACCES"],
      ],
    );
    const big = await rawExchange(sock, Buffer.alloc(MAX_LINE_BYTES + 10, 0x61), 2);
    assert.equal(big.length, 1, "one error, then the daemon hangs up");
    assert.match(big[0]!, /EMSGSIZE/);
  } finally {
    await server.close();
  }
  // a socket no daemon listens on, and none at all
  fs.writeFileSync(sock, "");
  await assert.rejects(ControlClient.connect(sock, "gone"), (e: unknown) => isFsError(e, "ENOTCONN"));
  fs.rmSync(sock);
  await assert.rejects(ControlClient.connect(sock, "gone"), (e: unknown) => isFsError(e, "ENOTCONN") && /no mount daemon answers/.test(e.message));
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a server closing late leaves the socket of the server that replaced it", async () => {
  const { dir, sock } = tmpSocket();
  const handlers = stubHandlers({ counters: async () => ({ counters: {} }) });
  const old = await ControlServer.listen(sock, handlers, trustRoot());
  const replacement = await ControlServer.listen(sock, handlers, trustRoot());
  try {
    await old.close();
    assert.ok(fs.existsSync(sock));
    const c = await authedClient(sock);
    assert.deepEqual(await c.request("counters", {}), { counters: {} });
    c.close();
  } finally {
    await old.close();
    await replacement.close();
  }
  assert.ok(!fs.existsSync(sock));
  fs.rmSync(dir, { recursive: true, force: true });
});

test("statfs and counters output formats", () => {
  const info = { fsid: String(0xf41ffc443924295dn), rid: "255", committedSeq: 12, totalMetaBlocks: 1024, totalDataBlocks: 65536, freeMetaBlocks: 0, reservedMetaBlocks: 16, freeDataBlocks: 0 };
  assert.deepEqual(formatStatfs(info), [
    "fsid              f41ffc443924295d",
    "rid               00000000000000ff",
    "committed_seq     12",
    "total_meta_blocks 1024",
    "total_data_blocks 65536",
  ]);
  assert.deepEqual(formatStatfs(info, "committed_seq"), ["12"]);
  assert.throws(() => formatStatfs(info, "free"), (e: unknown) => isFsError(e, "EINVAL") && /unknown field: 'free'/.test(e.message));

  const pairs = [
    ["a", "1"],
    ["bb", "22"],
    ["ccc", "333"],
    ["dddd", "4"],
    ["e", "55555"],
  ] as const;
  const one = ["a        1", "bb      22", "ccc    333", "dddd     4", "e    55555"];
  assert.deepEqual(formatCounters([...pairs], null), one);
  assert.deepEqual(formatCounters([...pairs], 9), one, "too narrow for anything: one column");
  // the fewest rows that fit: 1 row needs 36 columns, 2 rows 24, 3 rows 19, 4 rows 17
  assert.deepEqual(formatCounters([...pairs], 36), ["a 1  bb 22  ccc 333  dddd 4  e 55555"]);
  assert.deepEqual(formatCounters([...pairs], 35), ["a   1  ccc  333  e 55555", "bb 22  dddd   4"]);
  assert.deepEqual(formatCounters([...pairs], 23), ["a     1  dddd     4", "bb   22  e    55555", "ccc 333"]);
  assert.deepEqual(formatCounters([...pairs], 18), ["a      1  e 55555", "bb    22", "ccc  333", "dddd   4"]);
  for (const w of [9, 14, 17, 20, 24, 40, 200]) {
    const lines = formatCounters([...pairs], w);
    assert.ok(lines.every((l) => l.length <= w) || lines.length === pairs.length, `width ${w}: ${JSON.stringify(lines)}`);
    const names = lines.flatMap((l) => l.split(/\s+/).filter((_, i) => i % 2 === 0));
    assert.deepEqual(names.sort(), pairs.map((p) => p[0]).sort(), `width ${w}: every counter once`);
  }
  assert.deepEqual(formatCounters([], 80), []);
});

test("device numbers, mountinfo lines and a path outside scoutfs", async () => {
  assert.deepEqual(splitDev(0x801n), { major: 8, minor: 1 });
  assert.deepEqual(splitDev(0x27n), { major: 0, minor: 39 });
  // glibc makedev(0x1234, 0x56789)
  assert.deepEqual(splitDev(0x100056712389n), { major: 0x1123, minor: 0x56789 });
  assert.equal(controlSocketName({ major: 0, minor: 39 }), "dev-0:39.sock");
  const mi = parseMountinfo(
    [
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
      "90 22 0:39 / /mnt/with\\040space rw,nosuid,nodev,relatime shared:50 - fuse.scoutfs /dev/data rw,user_id=0,group_id=0",
      "junk",
    ].join("\n"),
  );
  assert.deepEqual(mi, [
    { dev: { major: 8, minor: 1 }, mountPoint: "/", fstype: "ext4", source: "/dev/sda1" },
    { dev: { major: 0, minor: 39 }, mountPoint: "/mnt/with space", fstype: "fuse.scoutfs", source: "/dev/data" },
  ]);
  await assert.rejects(locateMount(os.tmpdir()), (e: unknown) => isFsError(e, "ENOTTY") && /is not in a scoutfs filesystem/.test(e.message));
  await assert.rejects(locateMount(path.join(os.tmpdir(), "no-such-dir-xyz")), (e: unknown) => isFsError(e, "ENOENT"));
});

const skip = fuseSkipReason();

test("scoutfs statfs and counters on a real mount", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-control-");
  const cli = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => run(process.execPath, [CLI, ...args], opts);
  try {
    const help = await scoutfs("--help");
    assert.match(help.stdout, /^ +statfs \[-s\|--single-field FIELD-NAME\] \[-p\|--path PATH\]$/m);
    assert.match(help.stdout, /^ +counters \[-t\] \[PATH\]$/m);

    const mo = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(mo.code, 0, mo.stderr);
    const sub = path.join(mnt, "subdir");
    fs.mkdirSync(sub);

    const st = await scoutfs("statfs", "-p", mnt);
    assert.equal(st.code, 0, st.stderr);
    const lines = st.stdout.trimEnd().split("\n");
    assert.deepEqual(
      lines.map((l) => l.slice(0, 18)),
      ["fsid              ", "rid               ", "committed_seq     ", "total_meta_blocks ", "total_data_blocks "],
    );
    assert.match(lines[0]!, /^fsid {14}[0-9a-f]{16}$/);
    assert.match(lines[1]!, /^rid {15}[0-9a-f]{16}$/);
    assert.equal(lines[3], `total_meta_blocks ${(64 * 2 ** 20) / 65536}`);
    assert.equal(lines[4], `total_data_blocks ${(256 * 2 ** 20) / 4096}`);

    // the same mount from the current directory deep inside it, and from the environment
    const fromCwd = await cli(["statfs"], { cwd: sub });
    assert.equal(fromCwd.code, 0, fromCwd.stderr);
    assert.equal(fromCwd.stdout.split("\n")[1], lines[1], "same rid");
    const fromEnv = await cli(["statfs", "-s", "rid"], { cwd: "/", env: { ...process.env, SCOUTFS_MOUNT_PATH: sub } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.stdout, `${lines[1]!.split(/ +/)[1]}\n`);

    // committed_seq moves forward once a change is synced (fsync through FUSE commits)
    const seq = async () => {
      const r = await scoutfs("statfs", "-p", sub, "-s", "committed_seq");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\d+\n$/);
      return Number(r.stdout);
    };
    const before = await seq();
    const f = path.join(sub, "file");
    fs.writeFileSync(f, "committed\n");
    const sy = await run("sync", [f]);
    assert.equal(sy.code, 0, sy.stderr);
    const after = await seq();
    assert.ok(after > before, `committed_seq ${before} -> ${after}`);

    const ctr = await scoutfs("counters", sub);
    assert.equal(ctr.code, 0, ctr.stderr);
    const rows = ctr.stdout.trimEnd().split("\n");
    const width = rows[0]!.length;
    for (const r of rows) {
      assert.match(r, /^[a-z0-9_]+ +\d+$/);
      assert.equal(r.length, width, "one column, values aligned on the right");
    }
    const value = (name: string) => Number(rows.find((r) => r.startsWith(`${name} `))?.split(/ +/)[1] ?? 0);
    for (const name of ["fuse_requests", "fuse_op_lookup", "fuse_op_fsync", "trans_commit", "item_set", "block_write", "forest_read_items"]) {
      assert.ok(value(name) > 0, `${name} counted`);
    }
    const tbl = await cli(["counters", "-t"], { cwd: sub });
    assert.equal(tbl.code, 0, tbl.stderr);
    assert.equal(tbl.stdout.split("\n").length, ctr.stdout.split("\n").length, "no terminal: -t prints one column");

    // errors: one line, status 1
    const notScoutfs = await scoutfs("statfs", "-p", tmp);
    assert.equal(notScoutfs.code, 1);
    assert.match(notScoutfs.stderr, /^scoutfs: statfs failed: ENOTTY: .* is not in a scoutfs filesystem \(it is in \S+ mounted at \S+\)\n$/);
    const notScoutfsCwd = await cli(["counters"], { cwd: tmp, env: { ...process.env, SCOUTFS_MOUNT_PATH: "" } });
    assert.equal(notScoutfsCwd.code, 1);
    assert.match(notScoutfsCwd.stderr, /^scoutfs: counters failed: ENOTTY: .* is not in a scoutfs filesystem/);
    const badField = await scoutfs("statfs", "-p", mnt, "-s", "bogus");
    assert.equal(badField.code, 1);
    assert.equal(badField.stderr, "scoutfs: statfs failed: EINVAL: unknown field: 'bogus' (fields: fsid, rid, committed_seq, total_meta_blocks, total_data_blocks)\n");
    const missing = await scoutfs("statfs", "-p", path.join(mnt, "nope"));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^scoutfs: statfs failed: ENOENT: .*nope: no such file or directory\n$/);
    const extra = await scoutfs("statfs", "-p", mnt, "extra");
    assert.equal(extra.code, 1);

    const located = await locateMount(mnt);
    assert.deepEqual(devOfScoutfsMountPoint(path.join(tmp, ".", "mnt")), located.dev, "the daemon's lookup agrees with stat");
    const sock = fs.statSync(located.socketPath);
    assert.ok(sock.isSocket());
    assert.ok(CONTROL_DIRS.includes(path.dirname(located.socketPath)));
    const um = await scoutfs("umount", mnt);
    assert.equal(um.code, 0, um.stderr);
    // the name is the mount's device number, which the kernel gives the next FUSE mount at once: a test
    // mounting alongside may already have made its own socket under it, a different file
    const sockAfter = fs.statSync(located.socketPath, { throwIfNoEntry: false });
    assert.ok(sockAfter === undefined || sockAfter.ino !== sock.ino, "socket removed at unmount");
    const afterUmount = await scoutfs("statfs", "-p", mnt);
    assert.equal(afterUmount.code, 1);
    assert.match(afterUmount.stderr, /is not in a scoutfs filesystem/);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
