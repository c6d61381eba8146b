/*
 * scoutfs over a real FUSE mount: the daemon (support/scoutfs_daemon.ts)
 * runs as a child process on sparse-file devices; the test drives the
 * mount with shell tools, unmounts, checks the daemon committed and exited
 * 0, remounts the same images and checks everything is still there.
 * Needs root and /dev/fuse (skipped otherwise).  Never leaves a mount or a
 * child behind: the finally block detaches lazily and kills what is left.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { forceUnmount, isMounted } from "../src/fuse/mount.js";
import { fuseSkipReason, withTimeout } from "./support/fuse_harness.js";

const DAEMON = fileURLToPath(new URL("./support/scoutfs_daemon.js", import.meta.url));

interface Daemon {
  child: ChildProcess;
  exited: Promise<number | null>;
}

async function startDaemon(args: string[]): Promise<Daemon> {
  // the daemon re-executes itself with a big threadpool (reexecWithThreadpool), as a real one would
  const child = spawn(process.execPath, [DAEMON, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((res) => child.once("exit", (code, sig) => res(code ?? (sig ? -1 : null))));
  const d = { child, exited };
  await new Promise<void>((res, rej) => {
    let out = "";
    const t = setTimeout(() => rej(new Error("daemon not ready in 60 s")), 60_000);
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (out.includes("ready\n")) {
        clearTimeout(t);
        res();
      }
    });
    void exited.then((code) => {
      clearTimeout(t);
      rej(new Error(`daemon exited (${code}) before it was ready`));
    });
  });
  return d;
}

function sh(cmd: string, cwd: string): string {
  return execFileSync("sh", ["-ec", cmd], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const skip = fuseSkipReason();

test("scoutfs over FUSE: tools, umount, remount", { skip: skip ?? false, timeout: 180_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fuse-scoutfs-"));
  const meta = path.join(tmp, "meta.img");
  const data = path.join(tmp, "data.img");
  const mnt = path.join(tmp, "mnt");
  const ref = path.join(tmp, "ref");
  fs.mkdirSync(mnt);
  fs.mkdirSync(ref);
  const daemons: Daemon[] = [];
  try {
    let d = await startDaemon(["--mkfs", String(2 ** 30), String(4 * 2 ** 30), meta, data, mnt]);
    daemons.push(d);
    assert.ok(isMounted(mnt));
    const mounts = fs.readFileSync("/proc/self/mounts", "utf8");
    assert.match(mounts, new RegExp(`^${data.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\S+ fuse\\.scoutfs `, "m"));

    fs.writeFileSync(path.join(ref, "big"), crypto.randomBytes(3 << 20));
    fs.writeFileSync(path.join(ref, "small"), "hello, scoutfs\n");

    sh("mkdir -p a/b/c d/e", mnt);
    sh(`cp ${ref}/small a/b/c/small && cp ${ref}/big a/big`, mnt);
    sh(`cmp ${ref}/small a/b/c/small && cmp ${ref}/big a/big`, mnt);
    assert.equal(fs.readFileSync(path.join(mnt, "a/b/c/small"), "utf8"), "hello, scoutfs\n");
    assert.equal(sh("ls a", mnt), "b\nbig\n");
    assert.equal(sh("stat -c %s a/big a/b/c/small", mnt), `${3 << 20}\n15\n`);
    assert.equal(sh("ls -a a/b", mnt), ".\n..\nc\n");

    // mv, hard and soft links
    sh("mv a/big d/e/big2 && ln d/e/big2 d/hard && ln -s e/big2 d/soft", mnt);
    sh(`cmp ${ref}/big d/e/big2 && cmp ${ref}/big d/hard && cmp ${ref}/big d/soft`, mnt);
    assert.equal(sh("stat -c %h d/hard", mnt), "2\n");
    assert.equal(fs.readlinkSync(path.join(mnt, "d/soft")), "e/big2");
    assert.equal(sh("ls a", mnt), "b\n");

    // truncate, down and up
    sh("cp a/b/c/small t && truncate -s 5 t", mnt);
    assert.equal(fs.readFileSync(path.join(mnt, "t"), "utf8"), "hello");
    sh("truncate -s 100000 t", mnt);
    assert.equal(sh("stat -c %s t", mnt), "100000\n");
    const t = fs.readFileSync(path.join(mnt, "t"));
    assert.equal(t.subarray(0, 5).toString(), "hello");
    assert.ok(t.subarray(5).every((b) => b === 0));

    // an open unlinked file lives until closed
    const fd = fs.openSync(path.join(mnt, "orphan"), "w+");
    fs.writeSync(fd, "still here");
    fs.unlinkSync(path.join(mnt, "orphan"));
    const got = Buffer.alloc(10);
    fs.readSync(fd, got, 0, 10, 0);
    assert.equal(got.toString(), "still here");
    fs.closeSync(fd);

    // a tree to remove, then rm -r
    sh("mkdir -p x/y/z && echo 1 > x/y/z/f && echo 2 > x/g && ln -s nowhere x/dangling", mnt);
    sh("rm -r x", mnt);
    assert.ok(!fs.existsSync(path.join(mnt, "x")));
    assert.equal(sh("ls", mnt), "a\nd\nt\n");
    const df = sh(`df -P ${mnt} | tail -1`, mnt).trim().split(/\s+/);
    assert.ok(Number(df[1]) > 0, `df: ${df.join(" ")}`);

    // umount: the daemon commits and exits 0
    sh(`umount ${mnt}`, tmp);
    assert.equal(await withTimeout(d.exited, 60_000), 0);
    assert.ok(!isMounted(mnt));

    // remount the same images
    d = await startDaemon([meta, data, mnt]);
    daemons.push(d);
    sh(`cmp ${ref}/small a/b/c/small && cmp ${ref}/big d/e/big2 && cmp ${ref}/big d/hard && cmp ${ref}/big d/soft`, mnt);
    assert.equal(fs.readlinkSync(path.join(mnt, "d/soft")), "e/big2");
    assert.equal(sh("stat -c %h d/hard", mnt), "2\n");
    assert.equal(sh("stat -c %s t a/b/c/small", mnt), "100000\n15\n");
    assert.equal(sh("ls", mnt), "a\nd\nt\n");
    assert.equal(sh("ls -R a", mnt), "a:\nb\n\na/b:\nc\n\na/b/c:\nsmall\n");
    sh("rm -r a d t", mnt);
    assert.equal(sh("ls -A", mnt), "");

    // SIGTERM: unmounts, commits, exits 0
    d.child.kill("SIGTERM");
    assert.equal(await withTimeout(d.exited, 60_000), 0);
    assert.ok(!isMounted(mnt));
  } finally {
    if (isMounted(mnt)) await forceUnmount(mnt).catch(() => {});
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill("SIGTERM");
        if ((await withTimeout(d.exited, 15_000).catch(() => "timeout")) === "timeout") {
          d.child.kill("SIGKILL");
          await d.exited;
        }
      }
    }
    if (isMounted(mnt)) await forceUnmount(mnt).catch(() => {});
    if (!isMounted(mnt)) fs.rmSync(tmp, { recursive: true, force: true });
  }
});
