/*
 * Who a control request comes from, and the fs answers behind the inode
 * name commands: /proc status parsing, the kernel-like permission check,
 * the lookup-based handshake (a nonce is claimed once, only after a
 * lookup, only on its own terms), and inode paths, referring entries and
 * allocated inode numbers on an in-process filesystem.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseProcStatus, hasCap, CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH } from "../src/util/proc_creds.js";
import { mayAccess, MAY_EXEC, MAY_READ, MAY_WRITE, type ControlCaller } from "../src/control/caller.js";
import { AUTH_NAME_PREFIX, ControlAuth } from "../src/control/auth.js";
import { newFs, ROOT } from "./support/fs_harness.js";
import { DT } from "../src/fs/types.js";

const STATUS = (groups: string, cap: string) =>
  ["Name:\tnode", "Tgid:\t4242", "Pid:\t4250", "Uid:\t1000\t1001\t1002\t1003", "Gid:\t50\t51\t52\t53", `Groups:\t${groups}`, "NStgid:\t4242", `CapEff:\t${cap}`, ""].join("\n");

test("/proc status: fs ids, groups (also none), the process id and capabilities", () => {
  assert.deepEqual(parseProcStatus(STATUS("4 24 27 ", "0000000000200004")), { uid: 1003, gid: 53, groups: [4, 24, 27], tgid: 4242, capEff: 0x200004n });
  const none = parseProcStatus(STATUS(" ", "0000000000000000"));
  assert.deepEqual(none?.groups, [], "an empty Groups line is not the next line");
  assert.equal(none?.tgid, 4242);
  assert.equal(parseProcStatus("Uid:\t0\t0\t0\t0\n"), undefined, "missing fields");
  assert.equal(parseProcStatus(STATUS("", "zz")), undefined, "bad capability mask");
  assert.ok(hasCap(0x200004n, CAP_SYS_ADMIN) && hasCap(0x200004n, CAP_DAC_READ_SEARCH));
  assert.ok(!hasCap(0x4n, CAP_SYS_ADMIN));
});

test("permission as the kernel checks mode bits: owner, group, supplementary groups, other, root", () => {
  const user = (uid: number, gid: number, groups: number[] = []): ControlCaller => ({ uid, gid, groups, pid: 1, sysAdmin: false, dacReadSearch: false });
  const f = { mode: 0o100640, uid: 10, gid: 20 };
  assert.ok(mayAccess(user(10, 99), f, MAY_READ | MAY_WRITE));
  assert.ok(!mayAccess(user(10, 20), f, MAY_EXEC), "the owner class decides, not the group's");
  assert.ok(mayAccess(user(11, 20), f, MAY_READ));
  assert.ok(!mayAccess(user(11, 20), f, MAY_WRITE));
  assert.ok(mayAccess(user(11, 7, [3, 20]), f, MAY_READ), "a supplementary group");
  assert.ok(!mayAccess(user(11, 7), f, MAY_READ), "other: nothing");
  const root = user(0, 0);
  assert.ok(mayAccess(root, { ...f, mode: 0o100000 }, MAY_READ | MAY_WRITE));
  assert.ok(!mayAccess(root, { ...f, mode: 0o100600 }, MAY_EXEC), "root executes only what someone may");
  assert.ok(mayAccess(root, { ...f, mode: 0o040700 }, MAY_EXEC), "root searches any directory");
});

test("the handshake: a nonce names one lookup, is claimed once, and never matches ordinary names", () => {
  const auth = new ControlAuth();
  const who = { uid: 0, gid: 0, pid: process.pid };
  const c = auth.issue();
  assert.equal(c.name, AUTH_NAME_PREFIX + c.nonce);
  assert.equal(auth.claim(c.nonce), undefined, "no lookup yet");
  const c2 = auth.issue();
  assert.equal(auth.noteLookup(Buffer.from("file.txt"), who), false);
  assert.equal(auth.noteLookup(Buffer.from(c2.name.slice(0, -1)), who), false, "not our shape (one byte short)");
  assert.equal(auth.noteLookup(Buffer.from("x" + c2.name.slice(1)), who), false, "not our shape (other prefix)");
  assert.equal(auth.noteLookup(Buffer.from(AUTH_NAME_PREFIX + "0".repeat(32)), who), true, "our shape, never issued: still never a real name");
  assert.equal(auth.noteLookup(Buffer.from(c2.name), who), true);
  const caller = auth.claim(c2.nonce);
  assert.equal(caller?.uid, process.getuid?.());
  assert.equal(caller?.pid, process.pid);
  assert.equal(auth.claim(c2.nonce), undefined, "once");
  const c3 = auth.issue();
  auth.noteLookup(Buffer.from(c3.name), { uid: 12345, gid: 0, pid: process.pid });
  assert.equal(auth.claim(c3.nonce), undefined, "the process must still have the credentials the kernel reported");
});

test("inode paths, referring entries and allocated inode numbers from the items", async () => {
  const { fs } = newFs();
  const a = await fs.mkdir(ROOT, "a", 0o755, 0, 0);
  const b = await fs.mkdir(a.ino, "b", 0o755, 0, 0);
  const f = await fs.create(b.ino, "f", 0o644, 0, 0);
  await fs.link(f.ino, ROOT, "top");
  await fs.link(f.ino, a.ino, "mid");

  const refs = await fs.referringEntries(f.ino, 0, 0, 10);
  assert.deepEqual(
    refs.map((r) => [r.dir, r.name.toString(), r.type]),
    [
      [ROOT, "top", DT.REG],
      [a.ino, "mid", DT.REG],
      [b.ino, "f", DT.REG],
    ].sort((x, y) => (x[0] as number) - (y[0] as number)),
  );
  const rest = await fs.referringEntries(f.ino, refs[0]!.dir, refs[0]!.pos + 1, 10);
  assert.deepEqual(rest, refs.slice(1), "continues after a position");

  const paths: string[] = [];
  for (let from = { dir: 0, pos: 0 }; ; ) {
    const p = await fs.inoPath(f.ino, from.dir, from.pos);
    if (!p) break;
    paths.push(p.path.toString());
    from = { dir: p.dir, pos: p.pos + 1 };
  }
  assert.deepEqual(paths.sort(), ["a/b/f", "a/mid", "top"]);
  assert.equal(await fs.inoPath(ROOT, 0, 0), undefined, "the root has no path");

  // a rename moves the path; an unlinked name leaves
  await fs.rename(ROOT, "a", ROOT, "z");
  await fs.unlink(ROOT, "top");
  const after = await fs.inoPath(f.ino, 0, 0);
  assert.ok(after && ["z/b/f", "z/mid"].includes(after.path.toString()), after?.path.toString());

  const inos = await fs.allocatedInos(ROOT, 1024);
  assert.deepEqual(inos, [ROOT, a.ino, b.ino, f.ino].sort((x, y) => x - y));
  assert.deepEqual(await fs.allocatedInos(b.ino, 1), [b.ino]);
  await fs.unlink(b.ino, "f");
  assert.ok((await fs.allocatedInos(ROOT, 1024)).includes(f.ino), "still linked as z/mid");
  await fs.unlink(a.ino, "mid");
  assert.ok(!(await fs.allocatedInos(ROOT, 1024)).includes(f.ino), "the last name gone: the inode is deleted");
  const group = 1024;
  assert.deepEqual(await fs.allocatedInos(group, 1024), [], "the next group holds none");
});
