/*
 * get-attr-x and set-attr-x through a real mount: the original's
 * retention-basic and projects sequences (retention refusing changes
 * with EPERM through ordinary tools, project ids inherited at creation),
 * output formats, usage and permission errors, and the attributes kept
 * across a remount and a kill -9 after sync.  Needs root, /dev/fuse,
 * setfattr and setpriv.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, haveCommand, killDaemonAndRemount, makeCliFs, run, scoutfs, scoutfsAsUser, succeeds, umountAndCheckPrint } from "./support/cli_harness.js";

const skip = fuseSkipReason() ?? (haveCommand("setfattr") && haveCommand("setpriv") ? null : "setfattr or setpriv missing");

const ok = succeeds;

/** a shell command's stderr (it must fail) */
async function fails(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  assert.notEqual(r.code, 0, `${cmd} ${args.join(" ")} should fail`);
  return r.stderr;
}

test("get-attr-x and set-attr-x through a mount: retention, project ids, output and errors", { skip: skip ?? false, timeout: 180_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-attr-x-");
  fs.chmodSync(tmp, 0o755);
  try {
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    const f1 = path.join(mnt, "file-1");
    const f2 = path.join(mnt, "file-2");
    fs.writeFileSync(f1, "");

    // retention: the original's retention-basic, with the tools' own messages
    assert.match((await scoutfs("set-attr-x", "-t", "1", mnt)).stderr, /^scoutfs: set-attr-x failed: EINVAL: .*retention only applies to regular files/);
    await ok(scoutfs("set-attr-x", "-t", "1", f1));
    assert.equal(await ok(scoutfs("get-attr-x", "-t", f1)), "1\n");
    assert.match((await scoutfsAsUser("set-attr-x", "-t", "0", f1)).stderr, /^scoutfs: set-attr-x failed: EPERM: /);
    await ok(run("setfattr", ["-n", "scoutfs.hide.srch.retention_test", "-v", "val", f1]));
    assert.equal(await fails("setfattr", ["-n", "user.retention_test", "-v", "val", f1]), `setfattr: ${f1}: Operation not permitted\n`);
    assert.equal(await fails("rm", ["-f", f1]), `rm: cannot remove '${f1}': Operation not permitted\n`);
    assert.equal(await fails("mv", [f1, f2]), `mv: cannot move '${f1}' to '${f2}': Operation not permitted\n`);
    assert.match(await fails("sh", ["-c", `date >> ${f1}`]), /Operation not permitted/);
    assert.equal(await fails("truncate", ["-s", "0", f1]), `truncate: failed to truncate '${f1}' at 0 bytes: Operation not permitted\n`);
    assert.equal(await fails("touch", [f1]), `touch: setting times of '${f1}': Operation not permitted\n`);
    assert.equal(fs.statSync(f1).size, 0, "nothing was written");

    // retention survives a remount
    await umountAndCheckPrint(mnt, meta);
    await ok(scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt));
    assert.equal(await ok(scoutfs("get-attr-x", "-t", f1)), "1\n");
    assert.equal(await fails("rm", ["-f", f1]), `rm: cannot remove '${f1}': Operation not permitted\n`);
    await ok(scoutfs("set-attr-x", "-t", "0", f1));
    await ok(run("sh", ["-c", `echo more >> ${f1}`]));
    await ok(run("mv", [f1, f2]));
    await ok(run("mv", [f2, f1]));
    await ok(run("touch", [f1]));
    await ok(run("setfattr", ["-x", "scoutfs.hide.srch.retention_test", f1]));

    // projects: the original's sequence
    const id = "8675309";
    const file = path.join(mnt, "file");
    const dir = path.join(mnt, "dir");
    fs.writeFileSync(file, "");
    fs.mkdirSync(dir);
    assert.equal(await ok(scoutfs("get-attr-x", "-p", file)), "0\n");
    await ok(scoutfs("set-attr-x", "-p", id, file));
    await ok(scoutfs("set-attr-x", "-p", id, dir));
    assert.equal(await ok(scoutfs("get-attr-x", "-p", file)), `${id}\n`);
    assert.equal(await ok(scoutfs("get-attr-x", "-p", dir)), `${id}\n`);
    fs.chmodSync(file, 0o644);
    assert.equal(await ok(scoutfsAsUser("get-attr-x", "-p", file)), `${id}\n`, "anyone who may read the file sees its id");
    const ids = path.join(mnt, "ids");
    fs.writeFileSync(ids, "");
    for (const [given, shown] of [["0x7FFFFFFF", "2147483647"], ["0x80000000", "2147483648"], ["0xFFFFFFFF", "4294967295"], ["0x7FFFFFFFFFFFFFFF", "9223372036854775807"], ["0x8000000000000000", "9223372036854775808"], ["0xFFFFFFFFFFFFFFFF", "18446744073709551615"]]) {
      await ok(scoutfs("set-attr-x", "-p", given!, ids));
      assert.equal(await ok(scoutfs("get-attr-x", "-p", ids)), `${shown}\n`);
    }
    fs.writeFileSync(path.join(dir, "file"), "");
    fs.mkdirSync(path.join(dir, "sub"));
    fs.mkdirSync(path.join(dir, "sub", "more"));
    for (const p of ["file", "sub", "sub/more"]) assert.equal(await ok(scoutfs("get-attr-x", "-p", path.join(dir, p))), `${id}\n`, p);
    await ok(scoutfs("set-attr-x", "-p", "0", dir));
    fs.writeFileSync(path.join(dir, "another-file"), "");
    assert.equal(await ok(scoutfs("get-attr-x", "-p", path.join(dir, "another-file"))), "0\n");

    // output: several fields as "name: value" in a fixed order, all of them by default
    const fresh = path.join(mnt, "fresh");
    fs.writeFileSync(fresh, "");
    await ok(scoutfs("set-attr-x", "-v", "5", "-s", "100", "-c", "12.5", "-r", "11.3", fresh));
    assert.equal(await ok(scoutfs("get-attr-x", "-s", "-v", "-c", "-r", fresh)), "data_version: 5\nctime: 12.5\ncrtime: 11.3\nsize: 100\n");
    const all = (await ok(scoutfs("get-attr-x", fresh))).trimEnd().split("\n").map((l) => l.split(":")[0]);
    assert.deepEqual(all, ["meta_seq", "data_seq", "data_version", "online_blocks", "offline_blocks", "ctime", "crtime", "size", "retention", "project_id"]);
    assert.equal(fs.statSync(fresh).size, 100);

    // usage and errors
    const zero = await scoutfs("set-attr-x", "-v", "0", fresh);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /^scoutfs set-attr-x: data version must not be 0\n/);
    assert.match((await scoutfs("get-attr-x")).stderr, /^scoutfs get-attr-x: no filename given/);
    assert.match((await scoutfs("set-attr-x", "-v", "3", fresh)).stderr, /^scoutfs: set-attr-x failed: EINVAL: /, "a data_version only for a file that never had one");
    assert.match((await scoutfs("set-attr-x", "-p", "junk", fresh)).stderr, /^scoutfs set-attr-x: invalid 64bit value: 'junk'/);
    assert.match((await scoutfs("get-attr-x", path.join(mnt, "missing"))).stderr, /^scoutfs: get-attr-x failed: ENOENT: /);
    assert.equal(await ok(scoutfs("set-attr-x", fresh)), "", "setting nothing does nothing");

    // kill -9 after a sync keeps what was set
    await ok(scoutfs("set-attr-x", "-t", "1", "-p", "42", file));
    await ok(run("sync", [file]));
    await killDaemonAndRemount({ meta, data, mnt });
    assert.equal(await ok(scoutfs("get-attr-x", "-t", "-p", file)), "retention: 1\nproject_id: 42\n");
    await ok(scoutfs("set-attr-x", "-t", "0", file));
    await umountAndCheckPrint(mnt, meta);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
