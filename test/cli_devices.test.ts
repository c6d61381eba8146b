/*
 * Device administration through real mounts and on unmounted devices:
 * resize-devices (grow only, committed by the server, the new space used,
 * kept across remount and kill -9), change-format-version (upgrade only,
 * the features of version 2 refused below it), change-quorum-config and
 * prepare-empty-data-device, each refusing devices in use and
 * filesystems not cleanly unmounted, with their usage messages.  Needs
 * root and /dev/fuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, haveCommand, killDaemon, killDaemonAndRemount, makeCliFs, run, scoutfs, scoutfsAsUser, succeeds, umountAndCheckPrint } from "./support/cli_harness.js";

const skip = fuseSkipReason() ?? (haveCommand("setpriv") ? null : "setpriv missing");
const ok = succeeds;

async function statfsField(mnt: string, field: string): Promise<number> {
  return Number((await ok(scoutfs("statfs", "-s", field, "-p", mnt))).trim());
}

test("resize-devices grows a mounted filesystem", { skip: skip ?? false, timeout: 180_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-resize-", "64M", "64M");
  fs.chmodSync(tmp, 0o755);
  try {
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    assert.equal(await statfsField(mnt, "total_meta_blocks"), 1024);
    assert.equal(await statfsField(mnt, "total_data_blocks"), 16384);
    // more than fits: ENOSPC before the resize
    const big = crypto.randomBytes(100 << 20);
    const src = path.join(tmp, "src");
    fs.writeFileSync(src, big);
    assert.notEqual((await run("cp", [src, path.join(mnt, "too-big")])).code, 0);
    fs.rmSync(path.join(mnt, "too-big"));

    assert.match((await scoutfs("resize-devices", "-p", mnt, "-d", "32M")).stderr, /^scoutfs: resize-devices failed: EINVAL: .*shrinking/);
    assert.match((await scoutfs("resize-devices", "-p", mnt, "-d", "2G")).stderr, /^scoutfs: resize-devices failed: EINVAL: .*do not fit the data device/);
    assert.match((await scoutfsAsUser("resize-devices", "-p", mnt, "-d", "512M")).stderr, /^scoutfs: resize-devices failed: EPERM: /);
    assert.equal(await statfsField(mnt, "total_data_blocks"), 16384, "refused resizes change nothing");
    const r = await ok(scoutfs("resize-devices", "-p", mnt, "-m", "128M", "-d", "536872960"));
    assert.equal(r, "data device size 536872960 is not a multiple of 4096 data block size, truncating down to 536870912 byte size\n");
    assert.equal(await statfsField(mnt, "total_meta_blocks"), 2048);
    assert.equal(await statfsField(mnt, "total_data_blocks"), 131072);
    assert.equal(await ok(scoutfs("resize-devices", "-p", mnt, "-m", "0", "-d", "512M")), "", "0 or the current size: no change");
    await ok(run("cp", [src, path.join(mnt, "fits")]));
    await ok(run("sync", [path.join(mnt, "fits")]));

    await killDaemonAndRemount({ meta, data, mnt });
    assert.equal(await statfsField(mnt, "total_data_blocks"), 131072);
    assert.ok(fs.readFileSync(path.join(mnt, "fits")).equals(big));
    await umountAndCheckPrint(mnt, meta);
    const printed = await ok(scoutfs("print", "-S", meta));
    assert.match(printed, /total_meta_blocks 2048/);
    assert.match(printed, /total_data_blocks 131072/);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("offline commands: format version, quorum config, a new empty data device", { skip: skip ?? false, timeout: 180_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-offline-");
  fs.chmodSync(tmp, 0o755);
  try {
    // a version 1 filesystem lacks retention, project ids, quotas and indx.
    await ok(scoutfs("mkfs", "-f", "-A", "-V", "1", "-Q", "0,127.0.0.1,12345", "-m", "64M", "-d", "256M", meta, data));
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    const f = path.join(mnt, "f");
    fs.writeFileSync(f, "data");
    assert.match((await scoutfs("set-attr-x", "-t", "1", f)).stderr, /^scoutfs: set-attr-x failed: EOPNOTSUPP: /);
    assert.match((await scoutfs("get-attr-x", f)).stderr, /^scoutfs: get-attr-x failed: EOPNOTSUPP: /, "asking for every field asks for version 2's too");
    assert.equal(await ok(scoutfs("get-attr-x", "-v", f)), "1\n");
    assert.match((await scoutfs("quota-list", "-p", mnt)).stderr, /^scoutfs: quota-list failed: EOPNOTSUPP: /);
    assert.match((await run("setfattr", ["-n", "scoutfs.hide.indx.x.1.2", f])).stderr, /Operation not supported/);

    // offline commands refuse a mounted device, then a filesystem a crash left mounted
    assert.match((await scoutfs("change-format-version", "-F", meta, data)).stderr, /^scoutfs: change-format-version failed: EBUSY: metadata device .* is in use by scoutfs daemon \d+/);
    assert.match((await scoutfs("change-quorum-config", "-F", "-Q", "0,127.0.0.1,12346", meta)).stderr, /EBUSY: metadata device .* is in use/);
    assert.match((await scoutfs("prepare-empty-data-device", "-c", meta)).stderr, /EBUSY: metadata device .* is in use/);
    await ok(run("sync", [f]));
    await killDaemonAndRemount({ meta, data, mnt });
    await killDaemon(mnt); // SIGKILL again: the mounted client stays in the super block
    await cleanupMount(mnt, meta);
    assert.match((await scoutfs("change-format-version", "-F", meta, data)).stderr, /EBUSY: The filesystem must be fully recovered and cleanly unmounted to change the format version/);
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    await umountAndCheckPrint(mnt, meta);

    // change-format-version: usage, upgrade, no downgrade
    assert.match((await scoutfs("change-format-version", meta, data)).stderr, /^scoutfs change-format-version: must specify --offline/);
    assert.match((await scoutfs("change-format-version", "-F", meta)).stderr, /^scoutfs change-format-version: no data device argument given/);
    assert.match((await scoutfs("change-format-version", "-F", "-V", "3", meta, data)).stderr, /format-version 3 is outside supported range of 1-2/);
    const up = await ok(scoutfs("change-format-version", "-F", meta, data));
    assert.match(up, /^Successfully updated format version for scoutfs filesystem:\n(.|\n)*  format version:       2\n$/);
    assert.equal(await ok(scoutfs("change-format-version", "-F", meta, data)), "both metadata and data device format version are already 2, nothing to do.\n");
    assert.match((await scoutfs("change-format-version", "-F", "-V", "1", meta, data)).stderr, /Downgrade of Meta Format Version: 2 and Data Format Version: 2 to Format Version: 1 is not allowed/);

    // change-quorum-config replaces the slots
    assert.match((await scoutfs("change-quorum-config", "-F", meta)).stderr, /must specify at least one quorum slot with --quorum-slot\|-Q/);
    assert.match((await scoutfs("change-quorum-config", "-Q", "0,127.0.0.1,12346", meta)).stderr, /must specify --offline/);
    assert.match(await ok(scoutfs("change-quorum-config", "-F", "-Q", "0,127.0.0.1,12346", "-Q", "2,127.0.0.2,12347", meta)), /quorum slots: {11}0: 127\.0\.0\.1:12346\n {26}2: 127\.0\.0\.2:12347\n$/);
    assert.match(await ok(scoutfs("print", "-S", meta)), /0: 127\.0\.0\.1:12346\n\s+2: 127\.0\.0\.2:12347/);

    // the features of version 2 work after the upgrade
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    await ok(scoutfs("set-attr-x", "-p", "7", f));
    assert.equal(await ok(scoutfs("get-attr-x", "-p", f)), "7\n");
    await umountAndCheckPrint(mnt, meta);

    // prepare-empty-data-device: files still hold data blocks
    const checkUsed = await scoutfs("prepare-empty-data-device", "-c", meta);
    assert.equal(checkUsed.code, 1);
    assert.match(checkUsed.stderr, /^Data block allocator metadata shows 1 \(4\.00 KB\) data blocks used by files\./);
    assert.equal(checkUsed.stdout, "Errors were found that must be addressed before a new empty data device could be prepared and used.\n");
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    await ok(scoutfs("release", f, "-V", "1"));
    await umountAndCheckPrint(mnt, meta);
    const small = path.join(tmp, "small.img");
    fs.writeFileSync(small, "");
    fs.truncateSync(small, 128 << 20);
    assert.match((await scoutfs("prepare-empty-data-device", meta, small)).stderr, /new data device .* has 32768 4KiB blocks, it needs at least 65536 \(256\.00 MB\) blocks\./);
    const fresh = path.join(tmp, "fresh.img");
    fs.writeFileSync(fresh, "");
    fs.truncateSync(fresh, 1 << 30);
    assert.equal(await ok(scoutfs("prepare-empty-data-device", "-c", meta, fresh)), "All checks passed.\n");
    assert.match(await ok(scoutfs("prepare-empty-data-device", meta, fresh)), /^Successfully initialized empty data device for scoutfs filesystem:\n/);
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, fresh, mnt));
    assert.equal(await ok(scoutfs("get-attr-x", "-p", "-f", f)), "offline_blocks: 1\nproject_id: 7\n");
    fs.writeFileSync(path.join(mnt, "new"), "on the new device");
    await ok(run("sync", [path.join(mnt, "new")]));
    await umountAndCheckPrint(mnt, meta);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
