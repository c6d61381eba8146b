/*
 * scoutfs xattr tags through a real mount: setfattr/getfattr of
 * scoutfs.hide./.srch./.totl./.indx. names with the original's errors,
 * and list-hidden-xattrs, search-xattrs, read-xattr-totals and
 * read-xattr-index with their output, usage and permission errors,
 * across a remount and a kill -9 after sync.  Readers show committed
 * changes: `sync FILE` (an fsync) commits, a plain sync does not reach a
 * FUSE daemon.  Needs root, /dev/fuse, setfattr/getfattr and setpriv.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, haveCommand, killDaemonAndRemount, makeCliFs, run, scoutfs, scoutfsAsUser, succeeds, umountAndCheckPrint } from "./support/cli_harness.js";

const skip = fuseSkipReason() ?? (haveCommand("setfattr") && haveCommand("setpriv") ? null : "setfattr or setpriv missing");

const setfattr = (...args: string[]) => run("setfattr", args);
const asUser = (cmd: string, ...args: string[]) => run("setpriv", ["--reuid", "1000", "--regid", "1000", "--clear-groups", cmd, ...args]);

const ok = succeeds;

test("xattr tags and their readers through a mount", { skip: skip ?? false, timeout: 180_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-xattr-tags-");
  fs.chmodSync(tmp, 0o755);
  try {
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    fs.chmodSync(mnt, 0o777);
    const f1 = path.join(mnt, "file-1");
    const f2 = path.join(mnt, "file-2");
    fs.writeFileSync(f1, "");
    fs.writeFileSync(f2, "");
    const ino = (f: string) => String(fs.statSync(f).ino);
    const commit = () => ok(run("sync", [f1]));
    const totals = async () => {
      await commit();
      return ok(scoutfs("read-xattr-totals", "-p", mnt));
    };

    // totl: the original's totl-xattr-tag sequence
    await ok(setfattr("-n", "scoutfs.totl.test.1.2.3", "-v", "1", f1));
    await ok(setfattr("-n", "scoutfs.totl.test.4.5.6", "-v", "1", f1));
    assert.equal(await totals(), "1.2.3 = 1, 1\n4.5.6 = 1, 1\n");
    await ok(setfattr("-n", "scoutfs.totl.test.1.2.3", "-v", "1", f2));
    await ok(setfattr("-n", "scoutfs.totl.test.4.5.6", "-v", "1", f2));
    assert.equal(await totals(), "1.2.3 = 2, 2\n4.5.6 = 2, 2\n");
    await ok(setfattr("-x", "scoutfs.totl.test.4.5.6", f2));
    await ok(setfattr("-n", "scoutfs.totl.test.1.2.3", "-v", "10", f2));
    assert.equal(await totals(), "1.2.3 = 11, 2\n4.5.6 = 1, 1\n");
    for (const bad of ["scoutfs.totl.test...", "scoutfs.totl.test..2.3", "scoutfs.totl.test.1.2", "scoutfs.nothing.x"]) {
      const r = await setfattr("-n", bad, "-v", "10", f1);
      assert.equal(r.code, 1, bad);
      assert.equal(r.stderr, `setfattr: ${f1}: Invalid argument\n`, bad);
    }
    for (const bad of ["+1", "10.", "-", "junk10", "10junk"]) {
      assert.equal((await setfattr("-n", "scoutfs.totl.test.1.2.3", "-v", bad, f1)).stderr, `setfattr: ${f1}: Invalid argument\n`, bad);
    }

    // hide: gone from listxattr, shown by list-hidden-xattrs, readable by name
    await ok(setfattr("-n", "scoutfs.hide.srch.archived", "-v", "yes", f1));
    await ok(setfattr("-n", "scoutfs.hide.srch.archived", "-v", "yes", f2));
    await ok(setfattr("-n", "scoutfs.hide.indx.when.5.100", f2));
    await ok(setfattr("-n", "user.visible", "-v", "1", f2));
    const dump = await ok(run("getfattr", ["-d", "-m", "-", "--absolute-names", f2]));
    assert.equal(dump, `# file: ${f2}\nscoutfs.totl.test.1.2.3="10"\nuser.visible="1"\n\n`);
    const hidden = await ok(scoutfs("list-hidden-xattrs", f2));
    assert.deepEqual(hidden.trimEnd().split("\n").sort(), ["scoutfs.hide.indx.when.5.100", "scoutfs.hide.srch.archived"]);
    assert.equal((await ok(run("getfattr", ["--only-values", "-n", "scoutfs.hide.srch.archived", f2]))), "yes");
    assert.equal(await ok(scoutfs("list-hidden-xattrs", f1)), "scoutfs.hide.srch.archived\n");

    // indx: no value allowed; search: both files, in inode order
    assert.equal((await setfattr("-n", "scoutfs.hide.indx.when.5.100", "-v", "1", f1)).stderr, `setfattr: ${f1}: Invalid argument\n`);
    await commit();
    assert.equal(await ok(scoutfs("read-xattr-index", "-p", mnt)), `5.100 = ${ino(f2)}\n`);
    assert.equal(await ok(scoutfs("read-xattr-index", "-p", mnt, "5.0.0", "5.-1.-1")), `5.100 = ${ino(f2)}\n`);
    assert.equal(await ok(scoutfs("read-xattr-index", "-p", mnt, "5.101.0", "5.-1.-1")), "");
    assert.equal(await ok(scoutfs("search-xattrs", "scoutfs.hide.srch.archived", "-p", mnt)), `${ino(f1)}\n${ino(f2)}\n`);
    assert.equal(await ok(scoutfs("search-xattrs", "scoutfs.hide.srch.other", "-p", mnt)), "");

    // the readers' usage and argument errors, in the original's words
    const badEntry = await scoutfs("read-xattr-index", "-p", mnt, "bad");
    assert.equal(badEntry.code, 1);
    assert.match(badEntry.stderr, /^scoutfs: read-xattr-index failed: EINVAL: bad index position entry argument 'bad', it must be in the form "a\.b\.ino"/);
    assert.match((await scoutfs("read-xattr-index", "-p", mnt, "1.2.3", "256.0.0")).stderr, /initial major index position '256' must be between 0 and 255, inclusive\./);
    assert.match((await scoutfs("read-xattr-index", "-p", mnt, "2.2.2", "2.2.1")).stderr, /first index position 2\.2\.2 must be less than last index position 2\.2\.1/);
    const noName = await scoutfs("search-xattrs", "-p", mnt);
    assert.equal(noName.code, 1);
    assert.match(noName.stderr, /^scoutfs search-xattrs: must provide xattr containing \.srch\. scoutfs tag/);
    assert.match((await scoutfs("search-xattrs", "user.plain", "-p", mnt)).stderr, /^scoutfs: search-xattrs failed: EINVAL: /);
    assert.match((await scoutfs("list-hidden-xattrs")).stderr, /^scoutfs list-hidden-xattrs: must specify filename/);
    assert.match((await scoutfs("list-hidden-xattrs", path.join(mnt, "nope"))).stderr, /^scoutfs: list-hidden-xattrs failed: ENOENT: /);

    // permission: tags need CAP_SYS_ADMIN, the readers too (list-hidden-xattrs only read access)
    const mine = path.join(mnt, "mine");
    fs.writeFileSync(mine, "");
    fs.chownSync(mine, 1000, 1000);
    assert.equal((await asUser("setfattr", "-n", "scoutfs.totl.u.1.1.1", "-v", "1", mine)).stderr, `setfattr: ${mine}: Operation not permitted\n`);
    assert.equal((await asUser("setfattr", "-n", "scoutfs.x", "-v", "short names are plain xattrs", mine)).code, 0);
    for (const args of [["read-xattr-totals", "-p", mnt], ["read-xattr-index", "-p", mnt], ["search-xattrs", "scoutfs.srch.x", "-p", mnt]]) {
      const r = await scoutfsAsUser(...args);
      assert.equal(r.code, 1, args[0]);
      assert.match(r.stderr, new RegExp(`^scoutfs: ${args[0]} failed: EPERM: `), args[0]);
    }
    assert.equal(await ok(scoutfsAsUser("list-hidden-xattrs", f2)), await ok(scoutfs("list-hidden-xattrs", f2)));
    fs.chmodSync(f2, 0o600);
    assert.match((await scoutfsAsUser("list-hidden-xattrs", f2)).stderr, /^scoutfs: list-hidden-xattrs failed: EACCES: /);

    // remount: everything committed is still there
    await commit();
    await umountAndCheckPrint(mnt, meta);
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    assert.equal(await ok(scoutfs("read-xattr-totals", "-p", mnt)), "1.2.3 = 11, 2\n4.5.6 = 1, 1\n");
    assert.equal(await ok(scoutfs("search-xattrs", "scoutfs.hide.srch.archived", "-p", mnt)), `${ino(f1)}\n${ino(f2)}\n`);

    // deleting a file takes its tag items with it; kill -9 after the sync loses nothing
    const f2ino = ino(f2);
    fs.unlinkSync(f2);
    await commit();
    await killDaemonAndRemount({ meta, data, mnt });
    assert.equal(await ok(scoutfs("read-xattr-totals", "-p", mnt)), "1.2.3 = 1, 1\n4.5.6 = 1, 1\n");
    assert.equal(await ok(scoutfs("search-xattrs", "scoutfs.hide.srch.archived", "-p", mnt)), `${ino(f1)}\n`);
    assert.equal(await ok(scoutfs("read-xattr-index", "-p", mnt)), "", `inode ${f2ino}'s index entry went with it`);
    await umountAndCheckPrint(mnt, meta);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
