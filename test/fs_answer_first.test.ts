/*
 * Answer first, then change (src/fs/answer_first.ts): the calls that make
 * and remove names hand their answer back before their items are written,
 * and nothing this mount can ask in between sees the change half made or
 * not made.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { holdAnswerFirst, type HoldFn } from "../src/fs/answer_first.js";
import { ROOT, assertConsistent, expectErrno, listNames, newFs } from "./support/fs_harness.js";
import { decodeInode, inodeKey } from "../src/format/fs_items.js";
import { counters } from "../src/util/counters.js";
import { FsError } from "../src/util/errors.js";

const plainHold: HoldFn = (fn) => fn();
const turn = () => new Promise<void>((r) => setImmediate(r));

test("holdAnswerFirst: the answer comes inside the hold, the change a turn of the event loop later", async () => {
  const events: string[] = [];
  let holding = false;
  const hold: HoldFn = async (fn) => {
    holding = true;
    events.push("hold");
    try {
      return await fn();
    } finally {
      holding = false;
      events.push("unhold");
    }
  };
  const answered = await holdAnswerFirst(
    hold,
    () => {
      events.push("answer");
      return 42;
    },
    async (a) => {
      assert.equal(a, 42);
      assert.ok(holding, "the change is made inside the same hold");
      events.push("apply");
    },
  );
  assert.equal(answered.value, 42);
  events.push("caller");
  // microtasks alone do not reach the change
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.deepEqual(events, ["hold", "answer", "caller"]);
  await answered.applied;
  assert.deepEqual(events, ["hold", "answer", "caller", "apply", "unhold"]);
});

test("holdAnswerFirst: a failed hold or answer is the caller's error and changes nothing", async () => {
  let applied = 0;
  const failingHold: HoldFn = async () => {
    throw new FsError("EIO", "commit failed");
  };
  await expectErrno(holdAnswerFirst(failingHold, () => 1, async () => void applied++), "EIO");
  await expectErrno(
    holdAnswerFirst(plainHold, () => {
      throw new FsError("ENOSPC", "no");
    }, async () => void applied++),
    "ENOSPC",
  );
  await turn();
  assert.equal(applied, 0);
});

test("holdAnswerFirst: a change that fails after the answer rejects applied, not the answer", async () => {
  const answered = await holdAnswerFirst(plainHold, () => "yes", async () => {
    throw new FsError("EIO", "read failed");
  });
  assert.equal(answered.value, "yes");
  await expectErrno(answered.applied, "EIO");
});

test("unlink answers before the items change; getattr and lookup of what it changes wait for the change", async () => {
  const t = newFs();
  const a = await t.fs.mkdir(ROOT, "a", 0o755, 0, 0);
  const b = await t.fs.mkdir(ROOT, "b", 0o755, 0, 0);
  const f = await t.fs.create(a.ino, "f", 0o644, 0, 0);
  await t.fs.link(f.ino, b.ino, "g");
  await t.fs.settled();
  const dirBefore = await t.fs.getattr(a.ino);

  await t.fs.unlink(a.ino, "f");
  assert.equal(decodeInode(t.st.items.map.get(inodeKey(f.ino))!).nlink, 2, "answered before the change is made");
  const dirAfter = await t.fs.getattr(a.ino);
  assert.ok(dirAfter.mtime.sec > dirBefore.mtime.sec || dirAfter.mtime.nsec > dirBefore.mtime.nsec, "getattr waited for the new mtime");
  assert.equal(dirAfter.size, dirBefore.size - 1);
  assert.equal(decodeInode(t.st.items.map.get(inodeKey(f.ino))!).nlink, 1);

  // a lookup locks the directory, not the inode it finds: through another name it waits for the change too
  await t.fs.unlink(b.ino, "g");
  const c = await t.fs.create(b.ino, "h", 0o644, 0, 0);
  await t.fs.link(c.ino, a.ino, "h2");
  await t.fs.unlink(b.ino, "h");
  assert.equal((await t.fs.lookup(a.ino, "h2")).nlink, 1, "lookup through the other name sees the unlink");
  assert.deepEqual(await listNames(t.fs, a.ino), ["h2"]);
  assert.deepEqual(await listNames(t.fs, b.ino), []);
  await t.fs.settled();
  assert.equal(t.st.items.map.get(inodeKey(f.ino)), undefined, "the inode is deleted once its last name's change is made");
  await assertConsistent(t);
});

test("a new inode is locked until its items are written: calls on the answered number wait for them", async () => {
  const t = newFs();
  const f = await t.fs.create(ROOT, "f", 0o600, 7, 8);
  // each of these reads or changes the inode right after the answer
  assert.equal(await t.fs.write(f.ino, 0, Buffer.from("hello")), 5);
  await t.fs.setxattr(f.ino, "user.k", "v");
  assert.equal((await t.fs.getattr(f.ino)).size, 5);
  const d = await t.fs.mkdir(ROOT, "d", 0o755, 0, 0);
  const sub = await t.fs.mkdir(d.ino, "sub", 0o755, 0, 0);
  assert.equal((await t.fs.getattr(d.ino)).nlink, 3);
  await t.fs.rmdir(d.ino, "sub");
  await expectErrno(t.fs.getattr(sub.ino), "ENOENT");
  await t.fs.rename(ROOT, "f", d.ino, "moved");
  assert.deepEqual(await listNames(t.fs, ROOT), ["d"]);
  assert.equal((await t.fs.read(f.ino, 0, 10)).toString(), "hello");
  await assertConsistent(t);
});

test("a change that fails after its answer is logged and counted", async () => {
  const logged: string[] = [];
  const t = newFs({ log: (m) => logged.push(m) });
  await t.fs.create(ROOT, "f", 0o644, 0, 0);
  await t.fs.settled();
  const del = t.st.items.delete.bind(t.st.items);
  t.st.items.delete = () => {
    throw new FsError("EIO", "injected: the device failed");
  };
  const before = counters.get("fs_apply_after_answer_errors");
  await t.fs.unlink(ROOT, "f"); // answered: every check passed
  await t.fs.settled();
  t.st.items.delete = del;
  assert.equal(counters.get("fs_apply_after_answer_errors"), before + 1);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /failed after its answer.*injected/s);
  // its locks were let go
  await t.fs.create(ROOT, "g", 0o644, 0, 0);
});
