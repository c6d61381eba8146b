/*
 * The mount(8)-style front end: `scoutfs mount -o ... DATA MNT` returns
 * once the filesystem is mounted and leaves a daemon running, `scoutfs
 * umount` unmounts and waits for the daemon to go, bad options are refused
 * before anything starts, and mount.scoutfs (installed into a temporary
 * prefix) works when called the way mount(8) calls it.  `mount -t scoutfs`
 * itself runs only if /sbin/mount.scoutfs is absent and /sbin writable (the
 * helper is installed for the test and removed in the finally block).
 * Needs root and /dev/fuse.  Cleans up mounts and daemons whatever happens.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { forceUnmount, isMounted } from "../src/fuse/mount.js";
import { findDaemonPid, logPath } from "../src/cli/daemon.js";
import { fuseSkipReason } from "./support/fuse_harness.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(file, args, { encoding: "utf8", timeout: 120_000 }, (e, stdout, stderr) => {
      const code = e ? (typeof (e as { code?: unknown }).code === "number" ? ((e as { code: number }).code) : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}
const scoutfs = (...args: string[]) => run(process.execPath, [CLI, ...args]);

function inProcMounts(mnt: string): boolean {
  return fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === mnt && l.split(" ")[2] === "fuse.scoutfs");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function mountedCycle(mnt: string, mountIt: () => Promise<Run>, file: string): Promise<void> {
  const r = await mountIt();
  assert.equal(r.code, 0, `mount: ${r.stderr}`);
  assert.ok(inProcMounts(mnt), "mounted when mount returns");
  const d = findDaemonPid(mnt);
  assert.ok(d && alive(d.pid), "daemon running with a pidfile");
  fs.writeFileSync(path.join(mnt, file), `contents of ${file}\n`);
  const u = await scoutfs("umount", mnt);
  assert.equal(u.code, 0, `umount: ${u.stderr}`);
  assert.ok(!inProcMounts(mnt));
  assert.ok(!alive(d!.pid), "daemon gone after umount returns");
  assert.equal(findDaemonPid(mnt), null, "pidfile removed");
}

const skip = fuseSkipReason();

test("scoutfs mount / umount / mount.scoutfs", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cli-mount-"));
  const meta = path.join(tmp, "meta.img");
  const data = path.join(tmp, "data.img");
  const mnt = path.join(tmp, "mnt");
  const prefix = path.join(tmp, "sbin");
  fs.mkdirSync(mnt);
  let sbinHelper: string | null = null;
  try {
    fs.closeSync(fs.openSync(meta, "w"));
    fs.truncateSync(meta, 2 ** 30);
    fs.closeSync(fs.openSync(data, "w"));
    fs.truncateSync(data, 2 ** 30);
    const mk = await scoutfs("mkfs", "-A", "-Q", "0,127.0.0.1,12345", "-m", "64M", "-d", "256M", meta, data);
    assert.equal(mk.code, 0, mk.stderr);

    // bad and unknown options: one line, status 1, nothing mounted or started
    for (const o of [`metadev_path=${meta},bogus`, `metadev_path=${meta},quorum_slot_nr=xyz`, "quorum_slot_nr=0"]) {
      const r = await scoutfs("mount", "-o", o, data, mnt);
      assert.equal(r.code, 1, o);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(!isMounted(mnt));
      assert.equal(findDaemonPid(mnt), null);
    }
    // not a directory
    const nd = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, meta);
    assert.equal(nd.code, 1);
    assert.match(nd.stderr, /not a directory/);
    // a failure inside the daemon comes back through the status pipe
    const junk = path.join(tmp, "junk.img");
    fs.writeFileSync(junk, Buffer.alloc(1 << 20));
    const jf = await scoutfs("mount", "-o", `metadev_path=${junk}`, data, mnt);
    assert.equal(jf.code, 1);
    assert.match(jf.stderr, /^scoutfs: mount failed: /);
    assert.ok(!isMounted(mnt));
    // umount of something not mounted
    const nm = await scoutfs("umount", mnt);
    assert.equal(nm.code, 1);
    assert.match(nm.stderr, /not mounted/);

    await mountedCycle(mnt, () => scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt), "one");

    // the helper, called as mount(8) calls it
    const inst = await scoutfs("install-mount-helper", "--prefix", prefix);
    assert.equal(inst.code, 0, inst.stderr);
    const helper = path.join(prefix, "mount.scoutfs");
    assert.equal(inst.stdout.trim(), helper);
    assert.ok(fs.statSync(helper).mode & 0o111);
    const bad = await run(helper, [data, mnt, "-o", "rw,bogus"]);
    assert.equal(bad.code, 1);
    assert.ok(!isMounted(mnt));
    await mountedCycle(mnt, () => run(helper, [data, mnt, "-n", "-o", `rw,metadev_path=${meta}`]), "two");
    await mountedCycle(mnt, () => run(helper, ["-s", "-v", data, mnt, "-o", `metadev_path=${meta},noacl`, "-t", "scoutfs"]), "three");

    // everything written survived the unmounts
    await mountedCycle(mnt, () => scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt), "four");
    const again = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(again.code, 0, again.stderr);
    for (const f of ["one", "two", "three", "four"]) assert.equal(fs.readFileSync(path.join(mnt, f), "utf8"), `contents of ${f}\n`);
    assert.equal((await scoutfs("umount", mnt)).code, 0);

    // mount -t scoutfs through /sbin, only if the test can leave /sbin as it found it
    let sbinOk = false;
    try {
      fs.accessSync("/sbin", fs.constants.W_OK);
      sbinOk = !fs.existsSync("/sbin/mount.scoutfs");
    } catch {
      sbinOk = false;
    }
    if (sbinOk) {
      sbinHelper = "/sbin/mount.scoutfs";
      fs.copyFileSync(helper, sbinHelper);
      fs.chmodSync(sbinHelper, 0o755);
      await mountedCycle(mnt, () => run("mount", ["-t", "scoutfs", "-o", `metadev_path=${meta}`, data, mnt]), "five");
    }
  } finally {
    if (sbinHelper) fs.rmSync(sbinHelper, { force: true });
    const d = findDaemonPid(mnt);
    if (isMounted(mnt)) await forceUnmount(mnt).catch(() => {});
    if (d && alive(d.pid)) {
      try {
        process.kill(d.pid, "SIGKILL");
      } catch {
        // gone
      }
      fs.rmSync(d.file, { force: true });
    }
    for (const dir of ["/var/log/scoutfs", path.join(os.tmpdir(), "scoutfs")]) fs.rmSync(logPath(dir, mnt), { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
