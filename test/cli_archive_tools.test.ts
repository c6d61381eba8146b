/*
 * The restore-side archive commands through a real mount: setattr
 * (offline files from an archive's catalogue), get-fiemap, punch-offline
 * and move-blocks, with their output formats, usage and permission
 * errors, and their effects across a remount and a kill -9 after sync.
 * Needs root, /dev/fuse and setpriv (for the non-root caller).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fuseSkipReason } from "./support/fuse_harness.js";
import { cleanupMount, killDaemonAndRemount, makeCliFs, run, scoutfs, scoutfsAsUser, statFileFields, umountAndCheckPrint } from "./support/cli_harness.js";

const skip = fuseSkipReason() ?? (fs.existsSync("/usr/bin/setpriv") || fs.existsSync("/bin/setpriv") ? null : "setpriv missing");
const BS = 4096;

/** get-fiemap output with physical offsets replaced by P (they depend on the allocator) */
async function fiemap(file: string, ...opts: string[]): Promise<string> {
  const r = await scoutfs("get-fiemap", ...opts, file);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const logicalOnly = (file: string) => fiemap(file, "-L");

test("setattr, get-fiemap, punch-offline and move-blocks through a mount", { skip: skip ?? false, timeout: 180_000 }, async () => {
  const { tmp, meta, data, mnt } = await makeCliFs("cli-archive-tools-");
  fs.chmodSync(tmp, 0o755); // the non-root user must reach the mount
  try {
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    const restored = path.join(mnt, "restored");
    fs.writeFileSync(restored, "");

    // setattr: an offline file of the archived size, data_version and times
    const sa = await scoutfs("setattr", restored, "-V", "7", "-s", "10000", "-o", "-t", "1600000000.123456789", "-r", "1500000000.5");
    assert.equal(sa.code, 0, sa.stderr);
    assert.equal(sa.stdout, "");
    let s = await statFileFields(restored);
    assert.equal(s["data_version"], "7");
    assert.equal(s["online_blocks"], "0");
    assert.equal(s["offline_blocks"], "3");
    assert.equal(s["crtime"], "1500000000.000000005", "the part after the dot counts nanoseconds, as the original reads it");
    const st = fs.statSync(restored, { bigint: true });
    assert.equal(st.size, 10000n);
    assert.equal(st.ctimeNs, 1600000000123456789n);
    assert.equal(await fiemap(restored), "0: offset: 0 0 length: 3 flags: O.L\nextents: 1\n");
    assert.equal(await fiemap(restored, "-b", "-P"), "0: offset: 0 length: 12288 flags: O.L\nextents: 1\n");

    // setattr's errors: the original's usage messages, then the ioctl's rules
    const usage: Array<[string[], RegExp]> = [
      [["setattr", restored, "-s", "10"], /must provide data-version if using --size option/],
      [["setattr", restored, "-V", "1", "-o"], /must provide size if using --offline option/],
      [["setattr", restored, "-V", "0"], /data version must not be 0/],
      [["setattr", "-V", "1"], /no filename given/],
      [["setattr", restored, "-t", "12"], /invalid timespec string: '12'/],
    ];
    for (const [args, msg] of usage) {
      const r = await scoutfs(...args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, msg);
    }
    const again = await scoutfs("setattr", restored, "-V", "8", "-s", "4096");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^scoutfs: setattr failed: EINVAL: .*data_version is already 7/);
    const userFile = path.join(mnt, "user-file");
    fs.writeFileSync(userFile, "");
    fs.chownSync(userFile, 1000, 1000);
    const notAdmin = await scoutfsAsUser("setattr", userFile, "-V", "1", "-s", "4096", "-o");
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /EPERM/);

    // punch-offline: the middle block becomes a hole
    const po = await scoutfs("punch-offline", restored, "-V", "7", "-o", "4096", "-l", "4096");
    assert.equal(po.code, 0, po.stderr);
    assert.equal(await logicalOnly(restored), "0: offset: 0 length: 1 flags: O..\n1: offset: 2 length: 1 flags: O.L\nextents: 2\n");
    assert.equal((await statFileFields(restored))["offline_blocks"], "2");
    const poStale = await scoutfs("punch-offline", restored, "-V", "6", "-o", "0", "-l", "4096");
    assert.match(poStale.stderr, /ESTALE/);
    const poUsage = await scoutfs("punch-offline", restored, "-V", "7", "-o", "0");
    assert.match(poUsage.stderr, /must provide length/);

    // move-blocks: the extents of a region change files, no bytes are copied
    const a = path.join(mnt, "a");
    const b = path.join(mnt, "b");
    const bytesA = Buffer.alloc(3 * BS, 0xaa);
    const bytesB = Buffer.alloc(BS, 0xbb);
    fs.writeFileSync(a, bytesA);
    fs.writeFileSync(b, bytesB);
    const physOf = (line: string | undefined): number => Number(line?.split(" ")[2]);
    const physA = physOf((await fiemap(a, "-P")).split("\n")[0]);
    const overMapped = await scoutfs("move-blocks", a, "-f", "0", "-l", String(2 * BS), b, "-t", "0");
    assert.equal(overMapped.code, 1);
    assert.match(overMapped.stderr, /^scoutfs: move-blocks failed: EINVAL: .*already mapped/, "the destination must not have blocks there");
    const mv = await scoutfs("move-blocks", a, "-f", "0", "-l", String(2 * BS), b, "-t", String(BS));
    assert.equal(mv.code, 0, mv.stderr);
    const gotB = fs.readFileSync(b);
    assert.ok(gotB.equals(Buffer.concat([bytesB, bytesA.subarray(0, 2 * BS)])), "b has a's blocks from block 1, and grew");
    assert.ok(fs.readFileSync(a).equals(Buffer.concat([Buffer.alloc(2 * BS), bytesA.subarray(2 * BS)])), "a has a hole where they were");
    const mapB = await fiemap(b);
    const physOfBlock = (map: string, block: number): number | undefined => {
      for (const m of map.matchAll(/^\d+: offset: (\d+) (\d+) length: (\d+) /gm)) {
        const [l, p, n] = [Number(m[1]), Number(m[2]), Number(m[3])];
        if (block >= l && block < l + n) return p + block - l;
      }
      return undefined;
    };
    assert.equal(physOfBlock(mapB, 1), physA, `b's block 1 is a's old block 0: ${mapB}`);
    assert.equal(physOfBlock(mapB, 2), physA + 1);
    assert.equal((await statFileFields(a))["online_blocks"], "1");
    assert.equal((await statFileFields(b))["online_blocks"], "3");
    const mvUsage = await scoutfs("move-blocks", a, "-l", "4096", b, "-t", "0");
    assert.match(mvUsage.stderr, /must provide from file offset --from-offset/);
    const mvSame = await scoutfs("move-blocks", a, "-f", "0", "-l", "4096", a, "-t", "8192");
    assert.match(mvSame.stderr, /EINVAL/);
    const outside = await scoutfs("move-blocks", meta, "-f", "0", "-l", "4096", b, "-t", "0");
    assert.match(outside.stderr, /ENOTTY/);

    // get-fiemap's own errors
    assert.match((await scoutfs("get-fiemap", "-P", "-L", a)).stderr, /can't pass both -P and -L options/);
    assert.match((await scoutfs("get-fiemap", path.join(mnt, "missing"))).stderr, /ENOENT/);

    // all of it is kept across a remount, and across kill -9 after sync
    assert.equal((await scoutfs("umount", mnt)).code, 0);
    assert.equal((await scoutfs("mount", "-o", `metadev_path=${meta}`, data, mnt)).code, 0);
    assert.equal(await logicalOnly(restored), "0: offset: 0 length: 1 flags: O..\n1: offset: 2 length: 1 flags: O.L\nextents: 2\n");
    assert.ok(fs.readFileSync(b).equals(gotB));
    const later = path.join(mnt, "later");
    fs.writeFileSync(later, "");
    assert.equal((await scoutfs("setattr", later, "-V", "3", "-s", "8192", "-o")).code, 0);
    assert.equal((await run("sync", [later])).code, 0);
    await killDaemonAndRemount({ meta, data, mnt });
    s = await statFileFields(later);
    assert.deepEqual([s["data_version"], s["offline_blocks"]], ["3", "2"]);
    assert.equal(fs.statSync(later).size, 8192);
    await umountAndCheckPrint(mnt, meta);
  } finally {
    await cleanupMount(mnt, meta);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
