/*
 * The quota commands through a real mount, following the original's
 * quota test: rules added, listed, deleted, wiped and restored in bulk;
 * enforcement with the tools' own EDQUOT messages for creations (touch
 * as another uid/gid), writes (dd) and fallocate; the rules kept across
 * a remount and a kill -9 after sync.  Totals count once committed:
 * `sync FILE` commits.  Needs root, /dev/fuse, setfattr and setpriv.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { CLI, cleanupMount, haveCommand, killDaemonAndRemount, makeCliFs, run, scoutfs, scoutfsAsUser, succeeds, umountAndCheckPrint } from "./support/cli_harness.js";

const skip = fuseSkipReason() ?? (haveCommand("setfattr") && haveCommand("setpriv") ? null : "setfattr or setpriv missing");
const ok = succeeds;
const TEST_UID = "22222";
const TEST_GID = "44444";

test("quota rules and their enforcement through a mount", { skip: skip ?? false, timeout: 240_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-quota-");
  fs.chmodSync(tmp, 0o755);
  try {
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    const dir = path.join(mnt, "dir");
    const file = path.join(dir, "file");
    fs.mkdirSync(dir);
    fs.chownSync(dir, Number(TEST_UID), Number(TEST_GID));
    const q = (...args: string[]) => scoutfs(...args.slice(0, 1), "-p", mnt, ...args.slice(1));
    const list = () => ok(q("quota-list"));
    const commit = () => ok(run("sync", [dir]));
    const totl = async (name: string, v: string | null) => {
      await ok(v === null ? run("setfattr", ["-x", `scoutfs.totl.test.${name}`, mnt]) : run("setfattr", ["-n", `scoutfs.totl.test.${name}`, "-v", v, mnt]));
      await commit();
    };
    const touchAs = (...ids: string[]) => run("setpriv", [...ids, "touch", file]);
    const asUid = ["--ruid", TEST_UID, "--euid", TEST_UID];
    const asGid = ["--rgid", TEST_GID, "--egid", TEST_GID, "--clear-groups"];
    const edquot = `touch: cannot touch '${file}': Disk quota exceeded\n`;

    assert.equal(await list(), "");
    await ok(q("quota-add", "-r", "7 13,L,- 15,L,- 17,L,- I 33 -"));
    assert.equal(await list(), "  7 13,L,- 15,L,- 17,L,- I 33 -\n");
    assert.match((await q("quota-add", "-r", "7 13,L,- 15,L,- 17,L,- I 33 -")).stderr, /^scoutfs: quota-add failed: EEXIST: /);
    await ok(q("quota-del", "-r", "7 13,L,- 15,L,- 17,L,- I 33 -"));
    assert.equal(await list(), "");
    assert.match((await q("quota-del", "-r", "7 13,L,- 15,L,- 17,L,- I 33 -")).stderr, /^scoutfs: quota-del failed: ENOENT: /);

    // wipe and restore in bulk, in the order quota-list prints
    for (let a = 10; a <= 15; a++) await ok(q("quota-add", "-r", `7 ${a},L,- 0,L,- 0,L,- I 33 -`));
    const six = await list();
    assert.equal(six, [15, 14, 13, 12, 11, 10].map((a) => `  7 ${a},L,- 0,L,- 0,L,- I 33 -\n`).join(""));
    await ok(q("quota-wipe"));
    assert.equal(await list(), "");
    const restore = (text: string) => run("sh", ["-c", `${process.execPath} ${CLI} quota-restore -p ${mnt} < ${text}`]);
    const saved = path.join(tmp, "rules");
    fs.writeFileSync(saved, six);
    await ok(restore(saved));
    assert.equal(await list(), six);
    await ok(q("quota-wipe"));

    // a default rule: a totl at or above the limit stops creations
    await ok(q("quota-add", "-r", "1 1,L,- 1,L,- 1,L,- I 1 -"));
    await totl("1.1.1", "2");
    assert.equal((await touchAs(...asUid)).stderr, edquot);
    await totl("1.1.1", null);
    await ok(touchAs(...asUid));
    fs.rmSync(file);
    await ok(q("quota-wipe"));

    // selecting rules, and all selections must match
    await ok(q("quota-add", "-r", `1 ${TEST_UID},U,S ${TEST_GID},G,S 1,L,- I 1 -`));
    await totl(`${TEST_UID}.${TEST_GID}.1`, "2");
    await ok(touchAs(...asUid));
    fs.rmSync(file);
    await ok(touchAs(...asGid));
    fs.rmSync(file);
    assert.equal((await touchAs(...asUid, ...asGid)).stderr, edquot);
    await ok(q("quota-wipe"));
    await totl(`${TEST_UID}.${TEST_GID}.1`, null);

    // data rules with total and count stop writes and fallocate
    fs.writeFileSync(file, "");
    await ok(q("quota-add", "-r", "1 1,L,- 1,L,- 1,L,- D 1 -"));
    await totl("1.1.1", "2");
    assert.equal((await run("dd", ["if=/dev/zero", `of=${file}`, "bs=4096", "count=1", "conv=notrunc", "status=none"])).stderr, `dd: error writing '${file}': Disk quota exceeded\n`);
    assert.equal((await run("fallocate", ["-l", "4096", file])).stderr, "fallocate: fallocate failed: Disk quota exceeded\n");
    await ok(q("quota-del", "-r", "1 1,L,- 1,L,- 1,L,- D 1 -"));
    await ok(q("quota-add", "-r", "1 1,L,- 1,L,- 1,L,- D 0 C"));
    assert.equal((await run("fallocate", ["-l", "4096", file])).stderr, "fallocate: fallocate failed: Disk quota exceeded\n");

    // usage, parse and permission errors
    assert.match((await scoutfs("quota-list")).stderr, /^scoutfs quota-list: must provide file path/);
    assert.match((await q("quota-add")).stderr, /^scoutfs quota-add: must provide rule string/);
    assert.match((await q("quota-add", "-r", "1 1,X,- 1,L,- 1,L,- I 1 -")).stderr, /invalid name source 'X' in name #1 in rule/);
    assert.match((await q("quota-add", "-r", "1 1,L,S 1,L,- 1,L,- I 1 -")).stderr, /^scoutfs: quota-add failed: EINVAL: /);
    assert.match((await scoutfsAsUser("quota-list", "-p", mnt)).stderr, /^scoutfs: quota-list failed: EPERM: /);

    // rules outlive a remount and a kill -9 after sync
    await umountAndCheckPrint(mnt, meta);
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    assert.equal(await list(), "  1 1,L,- 1,L,- 1,L,- D 0 C\n");
    assert.equal((await run("fallocate", ["-l", "4096", file])).stderr, "fallocate: fallocate failed: Disk quota exceeded\n");
    await ok(q("quota-wipe"));
    await totl("1.1.1", null);

    // many rules restored, then one more that applies
    const lots = Array.from({ length: 2000 }, (_, i) => `  1 ${9000002000 - i},U,S 1,L,- 1,L,- I 1 -\n`).join("");
    fs.writeFileSync(saved, lots);
    await ok(restore(saved));
    assert.equal(await list(), lots);
    await ok(q("quota-add", "-r", `1 ${TEST_UID},U,S 1,L,- 1,L,- I 1 -`));
    fs.rmSync(file);
    await totl(`${TEST_UID}.1.1`, "2"); // commits the rule, the total and the removal
    await killDaemonAndRemount({ meta, data, mnt });
    assert.equal((await touchAs(...asUid)).stderr, edquot);
    await ok(q("quota-wipe"));
    assert.equal(await list(), "");
    await umountAndCheckPrint(mnt, meta);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
