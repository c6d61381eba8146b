/*
 * What a user does when things go wrong, through the real CLI mount:
 *
 * * SIGKILL of the daemon: the mount point is dead (ENOTCONN), `umount -l`
 *   clears it, and a remount finds every fsync'd change, deletes the file
 *   that was unlinked while open (its space comes back) and passes
 *   `scoutfs print` without corruption.
 * * A second mount of the same devices while the first is mounted is
 *   refused with a message naming the owner; a mount right after a plain
 *   umount(8) (which returns before the daemon has committed) waits for the
 *   old daemon instead of running beside it.
 * Needs root and /dev/fuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { isMounted } from "../src/fuse/mount.js";
import { findDaemonPid } from "../src/cli/daemon.js";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { alive, cleanupMount, inProcMounts, makeCliFs, run, scoutfs, waitGone } from "./support/cli_harness.js";

const skip = fuseSkipReason();

function fsyncedWrite(file: string, contents: Buffer | string): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.writeSync(fd, typeof contents === "string" ? Buffer.from(contents) : contents);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** free 4 KiB data blocks as statfs shows them */
function freeBlocks(mnt: string): number {
  const s = fs.statfsSync(mnt);
  return (s.bfree * s.bsize) / 4096;
}


test("kill -9 of the daemon: umount -l, remount, fsync'd data intact, orphan deleted", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-kill-");
  try {
    const m = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(m.code, 0, m.stderr);
    const freeAtStart = freeBlocks(mnt);

    // fsync'd changes of every kind: new files, a directory, a rename, an unlink, a truncate
    fs.mkdirSync(path.join(mnt, "dir"));
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    fsyncedWrite(path.join(mnt, "dir", "big"), big);
    fsyncedWrite(path.join(mnt, "keep"), "kept\n");
    fsyncedWrite(path.join(mnt, "gone"), "to be unlinked\n");
    fsyncedWrite(path.join(mnt, "old-name"), "renamed\n");
    fs.renameSync(path.join(mnt, "old-name"), path.join(mnt, "dir", "new-name"));
    fs.unlinkSync(path.join(mnt, "gone"));
    fsyncedWrite(path.join(mnt, "shrunk"), "0123456789");
    fs.truncateSync(path.join(mnt, "shrunk"), 4);
    // a 16 MiB file unlinked while open: an orphan at the time of the kill
    const orphanFd = fs.openSync(path.join(mnt, "orphan"), "w+");
    fs.writeSync(orphanFd, Buffer.alloc(16 << 20, 7));
    fs.unlinkSync(path.join(mnt, "orphan"));
    // the last fsync commits everything above (one transaction log per mount)
    fs.fsyncSync(orphanFd);

    const d = findDaemonPid(mnt);
    assert.ok(d && alive(d.pid));
    process.kill(d.pid, "SIGKILL");
    await waitGone(d.pid);
    try {
      fs.closeSync(orphanFd);
    } catch {
      // the connection is gone
    }

    // a dead FUSE mount: still in the table, every access fails
    assert.ok(inProcMounts(mnt));
    // (the kernel may still answer stat from its attribute cache; a create must reach the daemon)
    assert.throws(() => fs.writeFileSync(path.join(mnt, "after-the-kill"), "x"), (e: NodeJS.ErrnoException) => e.code === "ENOTCONN" || e.code === "ECONNABORTED");
    // mounting over it is refused with a clear message
    const over = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /already a mount point, of a daemon that is gone \(umount -l /);
    const l = await run("umount", ["-l", mnt]);
    assert.equal(l.code, 0, l.stderr);
    assert.ok(!isMounted(mnt));

    // the stale pidfile and device claim of the killed daemon do not stop a remount
    const again = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(fs.readFileSync(path.join(mnt, "dir", "big")), big);
    assert.equal(fs.readFileSync(path.join(mnt, "keep"), "utf8"), "kept\n");
    assert.equal(fs.readFileSync(path.join(mnt, "dir", "new-name"), "utf8"), "renamed\n");
    assert.equal(fs.readFileSync(path.join(mnt, "shrunk"), "utf8"), "0123");
    assert.ok(!fs.existsSync(path.join(mnt, "gone")));
    assert.ok(!fs.existsSync(path.join(mnt, "old-name")));
    assert.deepEqual(fs.readdirSync(mnt).sort(), ["dir", "keep", "shrunk"]);
    // the orphan's 16 MiB came back (all that is left in use is the 3 MiB file and small ones)
    // (the deletion commits with the mount's next transaction, and the server
    // returns freed blocks to the free pool once that commit is durable)
    let used = freeAtStart - freeBlocks(mnt);
    for (let i = 0; i < 100 && used >= (4 << 20) / 4096; i++) {
      await new Promise((r) => setTimeout(r, 100));
      used = freeAtStart - freeBlocks(mnt);
    }
    assert.ok(used < (4 << 20) / 4096, `blocks in use after recovery: ${used}`);
    const u = await scoutfs("umount", mnt);
    assert.equal(u.code, 0, u.stderr);

    const p = await scoutfs("print", meta);
    assert.equal(p.code, 0, p.stderr);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("one daemon per metadata device", { skip: skip ?? false, timeout: 300_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-claim-");
  const mnt2 = path.join(tmp, "mnt2");
  fs.mkdirSync(mnt2);
  try {
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    const first = findDaemonPid(mnt)!;
    // the same devices elsewhere, even by another path to the image: refused, naming the owner
    const other = await scoutfs("mount", "-o", `metadev_path=${path.join(tmp, ".", "meta.img")}`, data, mnt2);
    assert.equal(other.code, 1);
    assert.match(other.stderr, new RegExp(`in use by scoutfs daemon ${first.pid} \\(mounted on ${mnt.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)`));
    assert.ok(!isMounted(mnt2));

    // plain umount(8) returns before the daemon is done; an immediate remount waits for it
    for (let i = 0; i < 20; i++) fsyncedWrite(path.join(mnt, `f${i}`), `file ${i}\n`);
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(mnt, `unsynced${i}`), `unsynced ${i}\n`);
    const um = await run("umount", [mnt]);
    assert.equal(um.code, 0, um.stderr);
    const re = await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt2);
    assert.equal(re.code, 0, re.stderr);
    assert.ok(!alive(first.pid), "the old daemon had exited before the new one mounted");
    // its unmount committed everything, synced or not
    for (let i = 0; i < 20; i++) assert.equal(fs.readFileSync(path.join(mnt2, `f${i}`), "utf8"), `file ${i}\n`);
    for (let i = 0; i < 200; i++) assert.equal(fs.readFileSync(path.join(mnt2, `unsynced${i}`), "utf8"), `unsynced ${i}\n`);
    assert.equal((await scoutfs("umount", mnt2)).code, 0);
  } finally {
    await cleanupMount(mnt, meta);
    await cleanupMount(mnt2);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
