/*
 * The inode information commands through a real mount's control socket:
 * `scoutfs stat`, `df`, `ino-path`, `get-referring-entries` and
 * `get-allocated-inos`, their output formats and error messages, who may
 * use them (a non-root user through setpriv; a connection that skips the
 * lookup of its challenge), and what they show after a remount and after
 * kill -9 of the daemon once synced.  Needs root and /dev/fuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { CLI, cleanupMount, makeCliFs, run, scoutfs, scoutfsAsUser, statOutputFields, killDaemonAndRemount } from "./support/cli_harness.js";
import { ControlClient } from "../src/control/client.js";
import { locateMount } from "../src/control/locate.js";
import { isFsError } from "../src/util/errors.js";

const skip = fuseSkipReason() ?? (fs.existsSync("/usr/bin/setpriv") || fs.existsSync("/bin/setpriv") ? null : "setpriv missing");


test("stat, df, ino-path, get-referring-entries, get-allocated-inos on a real mount", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-inode-info-");
  fs.chmodSync(tmp, 0o755); // the non-root user must reach the mount
  try {
    const mo = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(mo.code, 0, mo.stderr);
    const a = path.join(mnt, "a");
    fs.mkdirSync(path.join(a, "b"), { recursive: true });
    const f = path.join(a, "b", "f");
    fs.writeFileSync(f, Buffer.alloc(3 * 4096 + 1, 7));
    fs.linkSync(f, path.join(a, "link"));
    fs.linkSync(f, path.join(mnt, "top"));
    const ino = fs.statSync(f).ino;

    // stat: six fields, name in 17 columns
    const st = await scoutfs("stat", f);
    assert.equal(st.code, 0, st.stderr);
    assert.deepEqual(
      st.stdout.split("\n").map((l) => l.slice(0, 18)),
      ["meta_seq          ", "data_seq          ", "data_version      ", "online_blocks     ", "offline_blocks    ", "crtime            ", ""],
    );
    const fields = statOutputFields(st.stdout);
    assert.equal(fields["online_blocks"], "4");
    assert.equal(fields["offline_blocks"], "0");
    assert.match(fields["crtime"]!, /^\d+\.\d{9}$/);
    const birth = fs.statSync(f, { bigint: true }).ctimeNs;
    assert.ok(Math.abs(Number(BigInt(fields["crtime"]!.replace(".", "")) - birth)) < 5e9, "crtime is when it was made");
    assert.ok(Number(fields["data_seq"]) >= 1 && Number(fields["meta_seq"]) >= Number(fields["data_seq"]));
    const single = await scoutfs("stat", "-s", "online_blocks", f);
    assert.equal(single.stdout, "4\n");
    const dirStat = await scoutfs("stat", "-s", "data_seq", a);
    assert.equal(dirStat.code, 0, dirStat.stderr);
    const bad = await scoutfs("stat", "-s", "bogus", f);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^scoutfs: stat failed: EINVAL: unknown field: 'bogus' \(fields: meta_seq, data_seq, data_version, online_blocks, offline_blocks, crtime\)\n$/);
    const outside = await scoutfs("stat", meta);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /^scoutfs: stat failed: ENOTTY: .*meta\.img: Inappropriate ioctl for device/);
    const missing = await scoutfs("stat", path.join(mnt, "nope"));
    assert.match(missing.stderr, /^scoutfs: stat failed: ENOENT: .*nope: no such file or directory\n$/);

    // df: the original's table, blocks or human sizes
    const df = await scoutfs("df", "-p", mnt);
    assert.equal(df.code, 0, df.stderr);
    const rows = df.stdout.trimEnd().split("\n").map((l) => l.trim().split(/ +/));
    assert.deepEqual(rows[0], ["Type", "Size", "Total", "Used", "Free", "Use%"]);
    assert.deepEqual(rows.slice(1).map((r) => r.slice(0, 3)), [
      ["MetaData", "64KB", String((64 * 2 ** 20) / 65536)],
      ["Data", "4KB", String((256 * 2 ** 20) / 4096)],
    ]);
    for (const r of rows.slice(1)) {
      assert.equal(Number(r[3]) + Number(r[4]), Number(r[2]), "used + free = total");
      assert.equal(Number(r[5]), Math.floor((Number(r[3]) * 100) / Number(r[2])));
    }
    assert.equal(new Set(df.stdout.split("\n").slice(0, 3).map((l) => l.length)).size, 1, "columns line up");
    const dfh = await scoutfs("df", "-h", "-p", mnt);
    assert.match(dfh.stdout, /^MetaData +64KB +64\.00MB +[\d.]+[KMG]?B +[\d.]+[KMG]?B +\d+ +$/m);
    assert.match(dfh.stdout, /^ +Data +4KB +256\.00MB /m);

    // names of an inode, from its number
    const paths = await scoutfs("ino-path", "-p", mnt, String(ino));
    assert.equal(paths.code, 0, paths.stderr);
    assert.deepEqual(paths.stdout.trimEnd().split("\n").sort(), ["a/b/f", "a/link", "top"]);
    assert.equal((await scoutfs("ino-path", "-p", mnt, "1")).stdout, "", "the root has no path");
    const noIno = await scoutfs("ino-path", "-p", mnt, "0");
    assert.equal(noIno.code, 1);
    assert.match(noIno.stderr, /^scoutfs ino-path: must provide inode number\n/);
    assert.match((await scoutfs("ino-path", "-p", mnt, "x1")).stderr, /^scoutfs ino-path: inode parse error\n/);

    const gre = await scoutfs("get-referring-entries", "-p", mnt, String(ino));
    assert.equal(gre.code, 0, gre.stderr);
    const ents = gre.stdout.trimEnd().split("\n");
    const dirOf = (p: string) => fs.statSync(p).ino;
    for (const [dir, name] of [[mnt, "top"], [a, "link"], [path.join(a, "b"), "f"]] as const) {
      assert.ok(ents.some((e) => new RegExp(`^dir ${dirOf(dir)} pos \\d+ type 8 name ${name}$`).test(e)), `${name} in ${JSON.stringify(ents)}`);
    }
    assert.equal(ents.length, 3);
    assert.equal((await scoutfs("get-referring-entries", "-p", mnt, String(2n ** 62n))).stdout, "", "a number beyond any inode names nothing");

    const gai = await scoutfs("get-allocated-inos", "-p", mnt, "-i", "1");
    assert.equal(gai.code, 0, gai.stderr);
    const inos = gai.stdout.trimEnd().split("\n").map(Number);
    for (const p of [mnt, a, path.join(a, "b"), f]) assert.ok(inos.includes(fs.statSync(p).ino), p);
    assert.deepEqual(inos, [...inos].sort((x, y) => x - y));
    assert.equal((await scoutfs("get-allocated-inos", "-p", mnt, "-i", String(ino), "-s")).stdout, `${ino}\n`);
    const noStart = await scoutfs("get-allocated-inos", "-p", mnt);
    assert.match(noStart.stderr, /must provide --ino starting inode number option/);

    // who may: a user reads what it may open, and no more
    fs.chmodSync(f, 0o644);
    const userStat = await scoutfsAsUser("stat", "-s", "online_blocks", f);
    assert.equal(userStat.code, 0, userStat.stderr);
    fs.chmodSync(f, 0o600);
    const denied = await scoutfsAsUser("stat", f);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^scoutfs: stat failed: EACCES: .*f: permission denied\n$/);
    const userPath = await scoutfsAsUser("ino-path", "-p", mnt, String(ino));
    assert.equal(userPath.code, 1);
    assert.match(userPath.stderr, /^scoutfs: ino-path failed: EPERM: Operation not permitted \(needs CAP_DAC_READ_SEARCH\)\n$/);
    const userInos = await scoutfsAsUser("get-allocated-inos", "-p", mnt, "-i", "1");
    assert.match(userInos.stderr, /EPERM: Operation not permitted \(needs CAP_SYS_ADMIN\)/);

    // a connection that does not make the challenge's lookup is refused
    const located = await locateMount(mnt);
    const c = await ControlClient.connect(located.socketPath);
    const h = await c.request("hello", {});
    await assert.rejects(c.request("auth", { nonce: h.nonce }), (e: unknown) => isFsError(e, "EACCES"));
    await assert.rejects(c.request("statfs", {}), (e: unknown) => isFsError(e, "EACCES"));
    c.close();

    // after a remount, and after kill -9 once synced, the fields are what was committed
    const before = (await scoutfs("stat", f)).stdout;
    assert.equal((await scoutfs("umount", mnt)).code, 0);
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    assert.equal((await scoutfs("stat", f)).stdout, before, "unchanged across a remount");
    fs.appendFileSync(f, Buffer.alloc(8192, 1));
    const sy = await run("sync", [f]);
    assert.equal(sy.code, 0, sy.stderr);
    const synced = (await scoutfs("stat", f)).stdout;
    assert.equal(statOutputFields(synced)["online_blocks"], "6");
    await killDaemonAndRemount({ meta, data, mnt });
    const recovered = statOutputFields((await scoutfs("stat", f)).stdout);
    assert.equal(recovered["online_blocks"], "6");
    assert.equal(recovered["data_seq"], statOutputFields(synced)["data_seq"]);
    assert.equal(recovered["crtime"], fields["crtime"]);
    assert.deepEqual((await scoutfs("ino-path", "-p", mnt, String(ino))).stdout.trimEnd().split("\n").sort(), ["a/b/f", "a/link", "top"]);
    assert.equal((await scoutfs("umount", mnt)).code, 0);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
