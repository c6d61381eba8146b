/*
 * The /dev/fuse reader thread, fed through a pipe: requests come out in
 * order, each in a slot that is not filled again until it is released,
 * the reader waits (and reads nothing) while every slot is taken, and it
 * ends once the other side is gone, after handing on what it read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { execFileSync } from "node:child_process";
import { FuseReaderThread, type ReaderEndCode } from "../src/fuse/reader_thread.js";

/** a pipe as a FIFO (node has no pipe(2)): a blocking read end, and a write end whose close is EOF */
function pipe(): { r: number; w: number; cleanup: () => void } {
  const dir = fs.mkdtempSync("/tmp/reader-thread-");
  const path = `${dir}/fifo`;
  execFileSync("mkfifo", [path]);
  // a non-blocking reader lets the writer open without waiting; with a writer there, a blocking open returns at once
  const nb = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(path, fs.constants.O_WRONLY);
  const r = fs.openSync(path, fs.constants.O_RDONLY);
  fs.closeSync(nb);
  return { r, w, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const tick = () => {
      if (cond()) return res();
      if (Date.now() - t0 > ms) return rej(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 2);
    };
    tick();
  });
}

test("reader thread: requests in order, slots reused only once released, a full ring waits, ends after the last", async () => {
  const p = pipe();
  const got: { text: string; buf: Buffer }[] = [];
  let ended: { code: ReaderEndCode; error?: Error } | undefined;
  const reader = new FuseReaderThread(p.r, 2, 4096, (buf, n) => got.push({ text: buf.subarray(0, n).toString(), buf }), (code, error) => (ended = { code, error }));
  reader.start();
  try {
    const send = async (text: string, want: number) => {
      fs.writeSync(p.w, text);
      await until(() => got.length === want, `request ${want}`);
    };
    await send("one", 1);
    await send("two", 2);
    assert.equal(reader.freeSlots(), 0);
    assert.notEqual(got[0]!.buf, got[1]!.buf, "two requests taken at once are in different slots");
    // both slots taken: a third request stays in the pipe until one is released
    fs.writeSync(p.w, "three");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 2, "read into a slot still taken");
    assert.equal(reader.release(Buffer.alloc(1)), false, "only slots are released");
    assert.equal(reader.release(got[1]!.buf), true);
    await until(() => got.length === 3, "request 3");
    assert.equal(got[2]!.buf, got[1]!.buf, "the released slot is the one filled");
    assert.equal(got[0]!.text, "one");
    assert.equal(got[1]!.text.length > 0, true);
    assert.equal(got[2]!.text, "three");
    reader.release(got[0]!.buf);
    reader.release(got[2]!.buf);
    for (let i = 0; i < 50; i++) {
      await send(`r${i}`, 4 + i);
      reader.release(got.at(-1)!.buf);
    }
    assert.deepEqual(got.slice(3).map((g) => g.text), Array.from({ length: 50 }, (_, i) => `r${i}`));
    assert.equal(ended, undefined);
    // every writer gone: EOF ends the reader, after the request written before it
    fs.writeSync(p.w, "last");
    fs.closeSync(p.w);
    await until(() => ended !== undefined, "the end");
    assert.equal(got.at(-1)!.text, "last");
    assert.equal(ended!.code, "EOF");
    assert.equal(ended!.error, undefined);
  } finally {
    if (!ended) fs.closeSync(p.w);
    await until(() => ended !== undefined, "the end").catch(() => {});
    fs.closeSync(p.r);
    p.cleanup();
  }
});

test("reader thread: slot counts outside 1..64 are refused", () => {
  assert.throws(() => new FuseReaderThread(-1, 0, 4096, () => {}, () => {}), RangeError);
  assert.throws(() => new FuseReaderThread(-1, 65, 4096, () => {}, () => {}), RangeError);
});
