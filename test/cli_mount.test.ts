/*
 * The mount(8)-style front end: `scoutfs mount -o ... DATA MNT` returns
 * once the filesystem is mounted and leaves a daemon running, `scoutfs
 * umount` unmounts and waits for the daemon to go, bad options are refused
 * before anything starts, and mount.scoutfs (installed into a temporary
 * prefix) works when called the way mount(8) calls it.  `mount -t scoutfs`
 * itself, and an /etc/fstab-style line (`mount -T FSTAB MNT`), run only if
 * /sbin/mount.scoutfs is absent and /sbin writable (the helper is installed
 * for the test and removed in the finally block).
 * Needs root and /dev/fuse.  Cleans up mounts and daemons whatever happens.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { isMounted } from "../src/fuse/mount.js";
import { findDaemonPid, installMountHelper } from "../src/cli/daemon.js";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { alive, cleanupMount, inProcMounts, makeCliFs, run, sbinHelperPossible, scoutfs, waitGone, type Run } from "./support/cli_harness.js";

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
  const { tmp, meta, data, mnt } = await makeCliFs("cli-mount-");
  const prefix = path.join(tmp, "sbin");
  let sbinHelper: string | null = null;
  try {
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
    const sbinOk = sbinHelperPossible();
    if (sbinOk) {
      sbinHelper = "/sbin/mount.scoutfs";
      fs.copyFileSync(helper, sbinHelper);
      fs.chmodSync(sbinHelper, 0o755);
      await mountedCycle(mnt, () => run("mount", ["-t", "scoutfs", "-o", `metadev_path=${meta}`, data, mnt]), "five");
    }
  } finally {
    if (sbinHelper) fs.rmSync(sbinHelper, { force: true });
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// (in this file, after the test above, so that only one test at a time puts mount.scoutfs in /sbin)
test("an fstab line mounts with mount(8)", { skip: skip ?? false, timeout: 300_000 }, async (t) => {
  if (!sbinHelperPossible()) {
    t.skip("cannot install /sbin/mount.scoutfs here");
    return;
  }
  const { tmp, meta, data, mnt } = await makeCliFs("cli-fstab-");
  let helper: string | null = null;
  try {
    helper = installMountHelper("/sbin");
    const fstab = path.join(tmp, "fstab");
    fs.writeFileSync(fstab, `# scoutfs test\n${data} ${mnt} scoutfs metadev_path=${meta},noauto,_netdev,ino_alloc_per_lock=512 0 0\n`);
    const m = await run("mount", ["-T", fstab, mnt]);
    assert.equal(m.code, 0, m.stderr);
    assert.ok(inProcMounts(mnt));
    fs.writeFileSync(path.join(mnt, "via-fstab"), "fstab\n");
    const d = findDaemonPid(mnt)!;
    assert.equal((await run("umount", [mnt])).code, 0);
    await waitGone(d.pid);
    assert.equal((await run("mount", ["-T", fstab, mnt])).code, 0);
    assert.equal(fs.readFileSync(path.join(mnt, "via-fstab"), "utf8"), "fstab\n");
    assert.equal((await scoutfs("umount", mnt)).code, 0);
  } finally {
    if (helper) fs.rmSync(helper, { force: true });
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
