/*
 * The transaction's timed commits (src/trans/trans.ts): one commit
 * interval after a commit, or spaced so that timed commits take about
 * TIMED_COMMIT_SHARE of the time after an expensive one, never further
 * apart than the maximum.  On a clock the test moves by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TIMED_COMMIT_SHARE, Trans, type Committer } from "../src/trans/trans.js";
import type { Clock } from "../src/util/clock.js";

class HandClock implements Clock {
  t = 0;
  timers: { ms: number; fn: () => void }[] = [];
  nowMs(): number {
    return this.t;
  }
  wall() {
    return { sec: Math.floor(this.t / 1000), nsec: (this.t % 1000) * 1e6 };
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer = { ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  /** run the last armed timer as if its time had come, and let the commit it starts finish */
  async fire(): Promise<void> {
    const timer = this.timers.pop()!;
    this.t += timer.ms;
    timer.fn();
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  }
}

test("timed commits are spaced by what the last commit cost", async () => {
  const clock = new HandClock();
  const committer = {
    cost: 0,
    commits: 0,
    async commit() {
      clock.t += this.cost;
      this.commits++;
      return 1 + this.commits;
    },
    hasDirty: () => true,
    needsCommit: () => false,
  } satisfies Committer & { cost: number; commits: number };
  const trans = new Trans(committer, 1, clock, 1000, () => {}, 10_000);
  assert.deepEqual(clock.timers.map((x) => x.ms), [1000]);

  for (const [cost, next] of [
    [100, 100 / TIMED_COMMIT_SHARE], // an expensive commit pushes the next one out
    [5, 1000], // a cheap one: the interval again
    [2000, 10_000], // never further apart than the maximum
  ] as const) {
    committer.cost = cost;
    const before = committer.commits;
    await clock.fire();
    assert.equal(committer.commits, before + 1);
    assert.equal(trans.seq, committer.commits + 1);
    assert.deepEqual(clock.timers.map((x) => x.ms), [next]);
    assert.equal(trans.timedCommitDelayMs(), next);
  }

  // a commit that sync() asks for counts too
  committer.cost = 100;
  await trans.sync();
  assert.equal(trans.timedCommitDelayMs(), 100 / TIMED_COMMIT_SHARE);
  trans.stop();
});

test("sync commits while a hold runs that has not dirtied anything yet, after it ends", async () => {
  const clock = new HandClock();
  let dirty = false;
  const order: string[] = [];
  const committer: Committer = {
    async commit() {
      order.push(`commit dirty=${dirty}`);
      dirty = false;
      return 2;
    },
    hasDirty: () => dirty,
    needsCommit: () => false,
  };
  const trans = new Trans(committer, 1, clock, 1000, () => {}, 10_000);
  // an answered change: inside its hold, it writes only after a turn of the event loop
  const change = trans.hold(async () => {
    await new Promise<void>((r) => setImmediate(r));
    dirty = true;
    order.push("change");
  });
  await trans.sync();
  assert.deepEqual(order, ["change", "commit dirty=true"]);
  await change;
  trans.stop();
});
