/*
 * End-to-end tests of the FUSE layer: a MemFs daemon (a child process,
 * see test/support/fuse_harness.ts) mounted for real on a temporary
 * directory, driven with ordinary tools and node:fs from this process.
 *
 * Skips (does not fail) when not root or without /dev/fuse.  Every mount is
 * taken down in a finally (umount, then umount -l and kill as fallbacks),
 * and the last test checks that it is gone.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { MemfsDaemon, fuseSkipReason } from "./support/fuse_harness.js";
import { FuseMount, FuseMountError, forceUnmount, isMounted } from "../src/fuse/mount.js";
import { MemFs } from "./support/fuse_memfs.js";

const skip = fuseSkipReason();

function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function errCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  return undefined;
}

describe("FUSE mount errors", { skip: skip ?? false }, () => {
  test("mounting on a missing directory or a file fails with a clear error and leaves nothing open", async () => {
    const fuseFds = () =>
      fs.readdirSync("/proc/self/fd").filter((n) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${n}`) === "/dev/fuse";
        } catch {
          return false;
        }
      }).length;
    const fdsBefore = fuseFds();
    await assert.rejects(FuseMount.mount("/nonexistent/fuse-mnt", new MemFs(), { subtype: "memfs" }), (e: unknown) => {
      assert.ok(e instanceof FuseMountError);
      assert.equal(e.errno, "ENOENT");
      return true;
    });
    const f = path.join(fs.mkdtempSync("/tmp/fuse-err-"), "file");
    fs.writeFileSync(f, "x");
    await assert.rejects(FuseMount.mount(f, new MemFs(), { subtype: "memfs" }), (e: unknown) => e instanceof FuseMountError && e.errno === "ENOTDIR");
    await assert.rejects(FuseMount.mount(path.dirname(f), new MemFs(), { subtype: "bad/type" }), (e: unknown) => e instanceof FuseMountError && e.errno === "EINVAL");
    await assert.rejects(
      FuseMount.mount(path.dirname(f), new MemFs(), { subtype: "memfs", extraOptions: ["a,b"] }),
      (e: unknown) => e instanceof FuseMountError && e.errno === "EINVAL",
    );
    fs.rmSync(path.dirname(f), { recursive: true });
    assert.equal(fuseFds(), fdsBefore);
  });
});

describe("FUSE session against a real mount", { skip: skip ?? false }, () => {
  let d: MemfsDaemon;
  let mnt: string;
  const p = (...parts: string[]) => path.join(mnt, ...parts);

  before(async () => {
    d = await MemfsDaemon.start({
      memfs: { keepCache: true, slowLookupName: "slowpoke" },
      // long timeouts: the kernel trusts its caches, so the notify tests can see them
      mount: { entryTimeout: 3600, attrTimeout: 3600 },
    });
    mnt = d.mnt;
  });

  after(async () => {
    if (d) await d.stop();
    if (d) assert.equal(isMounted(d.mnt), false, "mount left behind");
  });

  test("the mount is listed as fuse.memfs and the root is an empty directory", () => {
    const line = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .find((l) => l.split(" ")[4] === fs.realpathSync(mnt));
    assert.ok(line, "mount not in mountinfo");
    assert.match(line, / - fuse\.memfs memfs /);
    const st = fs.statSync(mnt);
    assert.ok(st.isDirectory());
    assert.equal(st.ino, 1);
    assert.deepEqual(fs.readdirSync(mnt), []);
  });

  test("mkdir -p, ls, stat", () => {
    sh("mkdir", "-p", p("a/b/c"));
    assert.ok(fs.statSync(p("a/b/c")).isDirectory());
    assert.equal(sh("ls", p("a")).trim(), "b");
    const st = fs.statSync(p("a"));
    assert.equal(st.nlink, 3);
    assert.equal(st.mode & 0o7777, 0o777 & ~process.umask());
    assert.equal(sh("stat", "-c", "%F %h %u", p("a/b")).trim(), "directory 3 0");
  });

  test("files of several sizes round-trip, including more than 1 MiB", () => {
    const sizes = [0, 1, 4095, 4096, 4097, 65536 + 3, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 123];
    for (const n of sizes) {
      const data = crypto.randomBytes(n);
      const f = p(`f${n}`);
      fs.writeFileSync(f, data);
      assert.equal(fs.statSync(f).size, n);
      assert.ok(fs.readFileSync(f).equals(data), `contents of a ${n}-byte file`);
    }
    // tools: cp reads and writes in their own sizes; cmp compares
    sh("cp", p(`f${3 * (1 << 20) + 123}`), p("copy"));
    sh("cmp", p(`f${3 * (1 << 20) + 123}`), p("copy"));
    const hash = crypto.createHash("sha256").update(fs.readFileSync(p("copy"))).digest("hex");
    assert.equal(sh("sha256sum", p("copy")).split(" ")[0], hash);
  });

  test("large READ replies, written on the threadpool, arrive whole and in place, their buffers reused only after", async () => {
    const c0 = await d.call<Record<string, number>>("counters");
    const before = c0.fuse_reply_async ?? 0;
    const data = crypto.randomBytes(4 * (1 << 20) + 777);
    fs.writeFileSync(p("large-read"), data);
    // O_DIRECT: every read is a READ request of the caller's size, none is served from the page cache
    const fd = fs.openSync(p("large-read"), fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    try {
      // rounds of several reads at once, of 1 MiB and of odd sizes, each into its own place: the
      // daemon serves them into lent buffers, so one handed on before its reply was written would
      // show another read's bytes here
      for (let round = 0; round < 4; round++) {
        const got = Buffer.alloc(data.length);
        const chunks: [number, number][] = [];
        for (let off = 0; off < data.length; off += 1 << 20) chunks.push([off, Math.min(1 << 20, data.length - off)]);
        chunks.push([12_345, 300_000]);
        await Promise.all(
          chunks.map(
            ([off, len]) =>
              new Promise<void>((res, rej) =>
                fs.read(fd, got, off, len, off, (err, n) => (err ? rej(err) : n !== len ? rej(new Error(`short read at ${off}: ${n}`)) : res())),
              ),
          ),
        );
        assert.ok(got.equals(data), `round ${round}`);
      }
    } finally {
      fs.closeSync(fd);
    }
    const c1 = await d.call<Record<string, number>>("counters");
    const after = c1.fuse_reply_async ?? 0;
    assert.ok(after >= before + 20, `async replies ${before} -> ${after}`);
    const reused = (c1.fuse_read_buffer_reused ?? 0) - (c0.fuse_read_buffer_reused ?? 0);
    assert.ok(reused >= 15, `READ buffers reused ${reused} times in 24 READs`);
  });

  test("writes at offsets, appends and sparse extension", () => {
    const f = p("offsets");
    const fd = fs.openSync(f, "w+");
    fs.writeSync(fd, Buffer.from("hello"), 0, 5, 0);
    fs.writeSync(fd, Buffer.from("world"), 0, 5, 10);
    fs.closeSync(fd);
    assert.deepEqual(fs.readFileSync(f), Buffer.concat([Buffer.from("hello"), Buffer.alloc(5), Buffer.from("world")]));
    fs.appendFileSync(f, "!");
    assert.equal(fs.readFileSync(f, "utf8").slice(-6), "world!");
  });

  test("mv: rename in a directory, across directories, over an existing file, and of a directory", () => {
    fs.writeFileSync(p("m1"), "one");
    sh("mv", p("m1"), p("m2"));
    assert.equal(errCode(() => fs.statSync(p("m1"))), "ENOENT");
    assert.equal(fs.readFileSync(p("m2"), "utf8"), "one");
    sh("mv", p("m2"), p("a/b/m3"));
    assert.equal(fs.readFileSync(p("a/b/m3"), "utf8"), "one");
    fs.writeFileSync(p("m4"), "four");
    sh("mv", "-f", p("m4"), p("a/b/m3"));
    assert.equal(fs.readFileSync(p("a/b/m3"), "utf8"), "four");
    sh("mv", p("a/b/c"), p("c2"));
    assert.ok(fs.statSync(p("c2")).isDirectory());
    assert.equal(fs.statSync(p("a/b")).nlink, 2);
    // RENAME2 flags via mv --exchange is not in every coreutils; RENAME_NOREPLACE via mv -n
    fs.writeFileSync(p("n1"), "n1");
    fs.writeFileSync(p("n2"), "n2");
    spawnSync("mv", ["-n", p("n1"), p("n2")]);
    assert.equal(fs.readFileSync(p("n2"), "utf8"), "n2");
    assert.equal(fs.readFileSync(p("n1"), "utf8"), "n1");
  });

  test("ln and ln -s: hard links share the inode, symlinks resolve", () => {
    fs.writeFileSync(p("target"), "linked");
    sh("ln", p("target"), p("hard"));
    const a = fs.statSync(p("target"));
    const b = fs.statSync(p("hard"));
    assert.equal(a.ino, b.ino);
    assert.equal(b.nlink, 2);
    fs.writeFileSync(p("hard"), "changed through the link");
    assert.equal(fs.readFileSync(p("target"), "utf8"), "changed through the link");
    sh("ln", "-s", "target", p("soft"));
    assert.equal(fs.readlinkSync(p("soft")), "target");
    assert.ok(fs.lstatSync(p("soft")).isSymbolicLink());
    assert.equal(fs.readFileSync(p("soft"), "utf8"), "changed through the link");
    assert.equal(sh("readlink", p("soft")).trim(), "target");
    fs.unlinkSync(p("target"));
    assert.equal(fs.statSync(p("hard")).nlink, 1);
    assert.equal(errCode(() => fs.statSync(p("soft"))), "ENOENT");
  });

  test("truncate, O_TRUNC, chmod, utimes", () => {
    const f = p("trunc");
    fs.writeFileSync(f, Buffer.alloc(10000, 7));
    sh("truncate", "-s", "100", f);
    assert.equal(fs.statSync(f).size, 100);
    sh("truncate", "-s", "5000", f);
    const got = fs.readFileSync(f);
    assert.equal(got.length, 5000);
    assert.ok(got.subarray(0, 100).every((x) => x === 7));
    assert.ok(got.subarray(100).every((x) => x === 0));
    fs.truncateSync(f, 3);
    assert.equal(fs.readFileSync(f).length, 3);
    fs.writeFileSync(f, "new"); // open O_TRUNC
    assert.equal(fs.readFileSync(f, "utf8"), "new");
    fs.chmodSync(f, 0o600);
    assert.equal(fs.statSync(f).mode & 0o7777, 0o600);
    fs.utimesSync(f, 1000, 2000);
    const st = fs.statSync(f);
    assert.equal(st.atimeMs, 1000_000);
    assert.equal(st.mtimeMs, 2000_000);
    sh("touch", "-d", "2001-02-03 04:05:06.789 UTC", f);
    assert.equal(fs.statSync(f).mtime.toISOString(), "2001-02-03T04:05:06.789Z");
  });

  test("xattrs: set, get, list, remove (setfattr/getfattr when installed)", { skip: have("setfattr") && have("getfattr") ? false : "no setfattr/getfattr" }, () => {
    const f = p("xa");
    fs.writeFileSync(f, "");
    sh("setfattr", "-n", "user.color", "-v", "blue", f);
    sh("setfattr", "-n", "user.big", "-v", "0x" + "ab".repeat(3000), f);
    assert.equal(sh("getfattr", "--only-values", "-n", "user.color", f), "blue");
    const dump = sh("getfattr", "-d", "-e", "hex", f);
    assert.match(dump, /user\.color=0x626c7565/);
    assert.match(dump, new RegExp(`user\\.big=0x${"ab".repeat(3000)}`));
    sh("setfattr", "-x", "user.color", f);
    const r = spawnSync("getfattr", ["-n", "user.color", f], { encoding: "utf8" });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /No such attribute/);
    assert.doesNotMatch(sh("getfattr", "-d", f), /color/);
  });

  test("POSIX ACLs stored as xattrs are enforced by the kernel", { skip: have("setfattr") && have("setpriv") ? false : "no setfattr/setpriv" }, () => {
    const f = p("acl");
    fs.writeFileSync(f, "secret");
    fs.chmodSync(f, 0o600);
    const asNobody = () => spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "cat", f], { encoding: "utf8" });
    const denied = asNobody();
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /Permission denied/);
    // version 2; user::rw-, user:65534:r--, group::---, mask::r--, other::---
    const acl = "0x02000000" + "01000600ffffffff" + "02000400feff0000" + "04000000ffffffff" + "10000400ffffffff" + "20000000ffffffff";
    sh("setfattr", "-n", "system.posix_acl_access", "-v", acl, f);
    const allowed = asNobody();
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(allowed.stdout, "secret");
    // the mask shows as the group bits
    assert.equal(fs.statSync(f).mode & 0o777, 0o640);
  });

  test("statfs reports the backend's numbers", () => {
    const s = fs.statfsSync(mnt);
    assert.equal(s.bsize, 4096);
    assert.equal(s.blocks, (64 * 2 ** 30) / 4096);
    assert.ok(s.bfree < s.blocks);
    assert.match(sh("df", "-P", mnt), /memfs/);
  });

  test("a directory of 500 entries with odd names lists completely (several READDIRPLUS calls)", () => {
    fs.mkdirSync(p("big"));
    const names = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const n = `entry ${i} ${"é".repeat(i % 7)}${"x".repeat(i % 90)}`;
      names.add(n);
      fs.writeFileSync(p("big", n), String(i));
    }
    const listed = fs.readdirSync(p("big"));
    assert.equal(listed.length, 500);
    assert.deepEqual(new Set(listed), names);
    assert.equal(sh("sh", "-c", `ls -1 '${p("big")}' | wc -l`).trim(), "500");
    // stats come from the READDIRPLUS entries or lookups alike
    for (const n of [...names].slice(0, 20)) assert.ok(fs.statSync(p("big", n)).isFile());
  });

  test("concurrent reads and writes of many files", async () => {
    fs.mkdirSync(p("conc"));
    const datas = Array.from({ length: 24 }, (_, i) => crypto.randomBytes(1000 + i * 20000));
    await Promise.all(datas.map((b, i) => fs.promises.writeFile(p("conc", `c${i}`), b)));
    const back = await Promise.all(datas.map((_, i) => fs.promises.readFile(p("conc", `c${i}`))));
    back.forEach((b, i) => assert.ok(b.equals(datas[i]!), `file c${i}`));
  });

  test("rm -r removes a tree, and the kernel forgets the removed inodes", async () => {
    const before = await d.call<{ inodes: number; lookedUp: number }>("counts");
    assert.ok(before.inodes > 500);
    sh("mkdir", "-p", p("tree/x/y"));
    fs.writeFileSync(p("tree/x/y/f"), "f");
    sh("ln", "-s", "nowhere", p("tree/x/dangling"));
    sh("rm", "-r", p("tree"), p("big"), p("conc"));
    assert.equal(errCode(() => fs.statSync(p("tree"))), "ENOENT");
    assert.ok(!fs.readdirSync(mnt).includes("big"));
    assert.equal(errCode(() => fs.rmdirSync(p("a"))), "ENOTEMPTY");
    // unlinked inodes are evicted by the kernel, which sends FORGETs; the backend then drops them
    // (an inode would linger if readdirplus or lookup counting were off)
    let after = before;
    for (let i = 0; i < 100; i++) {
      after = await d.call<{ inodes: number; lookedUp: number }>("counts");
      if (after.inodes < before.inodes - 500) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(after.inodes < before.inodes - 500, `inodes ${before.inodes} -> ${after.inodes}`);
    const c = await d.call<Record<string, number>>("counters");
    assert.ok((c.fuse_op_readdirplus ?? 0) > 0, "READDIRPLUS was used");
    assert.ok((c.fuse_op_forget ?? 0) + (c.fuse_op_batch_forget ?? 0) > 0, "FORGETs arrived");
  });

  test("INTERRUPT: a caller killed while its request hangs in the daemon gets out promptly", async () => {
    const t0 = Date.now();
    const child = spawn("stat", [p("slowpoke")], { stdio: "ignore" });
    const exited = new Promise<void>((res) => child.once("exit", () => res()));
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    await exited;
    // without the interrupt the lookup would hang for 30 s
    assert.ok(Date.now() - t0 < 10_000, `stat took ${Date.now() - t0} ms`);
    const c = await d.call<Record<string, number>>("counters");
    assert.ok((c.fuse_interrupts ?? 0) >= 1, "an INTERRUPT arrived");
    // the mount still works
    fs.writeFileSync(p("after-interrupt"), "ok");
    assert.equal(fs.readFileSync(p("after-interrupt"), "utf8"), "ok");
  });

  test("fallocate and copy_file_range", { skip: have("fallocate") ? false : "no fallocate" }, () => {
    const f = p("falloc");
    sh("fallocate", "-l", "12345", f);
    assert.equal(fs.statSync(f).size, 12345);
    fs.writeFileSync(p("cfr-src"), crypto.randomBytes(300000));
    fs.copyFileSync(p("cfr-src"), p("cfr-dst"));
    assert.ok(fs.readFileSync(p("cfr-src")).equals(fs.readFileSync(p("cfr-dst"))));
  });

  test("notify inval inode: the kernel drops cached pages and attributes", async () => {
    const f = p("notified");
    fs.writeFileSync(f, "old-content-AAAA");
    assert.equal(fs.readFileSync(f, "utf8"), "old-content-AAAA");
    const ino = await d.call<number>("resolve", { path: "notified" });
    assert.equal(fs.statSync(f).ino, ino);

    // change the backend behind the kernel's back: the kernel still serves its cache
    await d.call("setData", { path: "notified", data: Buffer.from("new-content-BBBB").toString("base64") });
    assert.equal(fs.readFileSync(f, "utf8"), "old-content-AAAA", "the kernel's cache should still be in use");

    assert.equal(await d.call("notifyInvalInode", { ino, off: 0, len: 0 }), true);
    assert.equal(fs.readFileSync(f, "utf8"), "new-content-BBBB");

    // a size change: the attributes are dropped too.  (A read marks the cached atime stale, so the
    // next stat asks the daemon anyway: stat once first, then the attributes are all cached.)
    assert.equal(fs.statSync(f).size, 16);
    const longer = "a much longer replacement, with a different size";
    await d.call("setData", { path: "notified", data: Buffer.from(longer).toString("base64") });
    assert.equal(fs.statSync(f).size, 16, "the kernel's cached attributes should still be in use");
    assert.equal(await d.call("notifyInvalInode", { ino, off: 0, len: 0 }), true);
    assert.equal(fs.statSync(f).size, longer.length);
    assert.equal(fs.readFileSync(f, "utf8"), longer);

    // attributes only (off < 0)
    assert.equal(fs.statSync(f).size, longer.length);
    await d.call("setData", { path: "notified", data: Buffer.from("xy").toString("base64") });
    assert.equal(fs.statSync(f).size, longer.length);
    assert.equal(await d.call("notifyInvalInode", { ino, off: -1, len: 0 }), true);
    assert.equal(fs.statSync(f).size, 2);

    // an inode the kernel does not know: false, not an error
    assert.equal(await d.call("notifyInvalInode", { ino: 999999, off: 0, len: 0 }), false);
  });

  test("notify inval entry: the kernel forgets a cached name", async () => {
    fs.mkdirSync(p("ent"));
    fs.writeFileSync(p("ent", "e1"), "entry");
    assert.equal(fs.statSync(p("ent", "e1")).size, 5);
    const dir = await d.call<number>("resolve", { path: "ent" });
    await d.call("renameBehind", { dir: "ent", from: "e1", to: "e2" });
    // cached dentry: still found
    assert.equal(fs.statSync(p("ent", "e1")).size, 5);
    assert.equal(await d.call("notifyInvalEntry", { parent: dir, name: "e1" }), true);
    assert.equal(errCode(() => fs.statSync(p("ent", "e1"))), "ENOENT");
    assert.equal(fs.readFileSync(p("ent", "e2"), "utf8"), "entry");
  });

  test("O_TMPFILE makes an unnamed file", () => {
    const O_TMPFILE = 0o20200000;
    const fd = fs.openSync(mnt, O_TMPFILE | fs.constants.O_RDWR, 0o600);
    try {
      fs.writeSync(fd, Buffer.from("unnamed"), 0, 7, 0);
      const b = Buffer.alloc(7);
      fs.readSync(fd, b, 0, 7, 0);
      assert.equal(b.toString(), "unnamed");
      const st = fs.fstatSync(fd);
      assert.equal(st.nlink, 0);
      assert.equal(st.mode & 0o7777, 0o600);
    } finally {
      fs.closeSync(fd);
    }
  });

  test("no request failed with an unexpected error", async () => {
    const c = await d.call<Record<string, number>>("counters");
    if (process.env.FUSE_TEST_VERBOSE) console.log(c);
    assert.ok((c.fuse_requests ?? 0) > 100, "requests were counted");
    assert.equal(c.fuse_reply_eio_unexpected ?? 0, 0);
  });

  test("unmount is clean: the daemon exits and the mount is gone", async () => {
    await d.call("unmount");
    const code = await d.exited;
    assert.equal(code, 0);
    assert.equal(isMounted(mnt), false);
  });
});

describe("FUSE unmount when busy, and after the daemon died", { skip: skip ?? false }, () => {
  test("a busy mount refuses a plain unmount, detaches lazily and is served until its last file closes", async () => {
    const d = await MemfsDaemon.start();
    try {
      fs.writeFileSync(path.join(d.mnt, "held"), "still here");
      const fd = fs.openSync(path.join(d.mnt, "held"), "r");
      try {
        await assert.rejects(d.call("unmount"), /busy/i);
        assert.ok(isMounted(d.mnt));
        const lazy = d.call("unmount", { lazy: true });
        for (let i = 0; i < 100 && isMounted(d.mnt); i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(isMounted(d.mnt), false, "detached at once");
        const b = Buffer.alloc(100);
        const n = fs.readSync(fd, b, 0, 100, 0);
        assert.equal(b.subarray(0, n).toString(), "still here");
        fs.closeSync(fd);
        await lazy;
        assert.equal(await d.exited, 0);
      } finally {
        try {
          fs.closeSync(fd);
        } catch {
          // closed above
        }
      }
    } finally {
      await d.stop();
      assert.equal(isMounted(d.mnt), false);
    }
  });

  test("a dead daemon's mount fails with ENOTCONN and umount -l removes it", async () => {
    const d = await MemfsDaemon.start();
    try {
      fs.writeFileSync(path.join(d.mnt, "f"), "x");
      d.child.kill("SIGKILL");
      await d.exited;
      assert.ok(isMounted(d.mnt));
      assert.equal(errCode(() => fs.statSync(path.join(d.mnt, "f"))), "ENOTCONN");
      await forceUnmount(d.mnt);
      assert.equal(isMounted(d.mnt), false);
    } finally {
      await d.stop();
      assert.equal(isMounted(d.mnt), false);
    }
  });
});
