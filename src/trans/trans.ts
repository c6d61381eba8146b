/*
 * A mount's transaction.  fs operations run inside hold(); a commit
 * waits until no hold is running, keeps new holds out while it writes,
 * and then opens the next transaction (a new, greater seq).  So every
 * change made in one hold lands in one commit, whole.
 *
 * Commits happen when sync() is called (fsync, sync, unmount), when the
 * committer says enough is dirty or allocators run low (checked as a hold
 * starts), and on a timer while anything is dirty.  The timer waits
 * commitIntervalMs after a commit, or longer after an expensive one: a
 * commit keeps every hold out while it runs, and its cost grows with the
 * part of the log tree it rewrites rather than with the items it adds (a
 * directory's name hashes spread its changes over every leaf), so under
 * a steady load of changes timed commits are spaced to take about
 * TIMED_COMMIT_SHARE of the time, never more than maxCommitIntervalMs
 * apart (the original's interval).  A failed commit is
 * latched: every later hold and sync fails with the same error, since
 * the items it could not write are still only in memory.
 */
import type { FsTrans } from "../fs/storage.js";
import type { Clock } from "../util/clock.js";
import { FsError, rethrowBugs } from "../util/errors.js";
import { counters } from "../util/counters.js";

/** the share of time that timed commits may take under load (each one blocks every hold while it runs) */
export const TIMED_COMMIT_SHARE = 0.02;

export interface Committer {
  /** write everything dirty, make it durable, return the next transaction's seq */
  commit(): Promise<number>;
  hasDirty(): boolean;
  needsCommit(): boolean;
}

export class Trans implements FsTrans {
  private active = 0;
  private committing: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private failed: Error | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  /** how long the last commit took, ms */
  private lastCommitMs = 0;

  constructor(
    private readonly committer: Committer,
    public seq: number,
    private readonly clock: Clock,
    private readonly commitIntervalMs = 1000,
    /** told once, when a commit fails and the error is latched */
    private readonly onCommitFailure: (e: Error) => void = () => {},
    private readonly maxCommitIntervalMs = 10_000,
  ) {
    this.armTimer();
  }

  /** the wait before the next timed commit: see the file comment */
  timedCommitDelayMs(): number {
    const spaced = this.lastCommitMs / TIMED_COMMIT_SHARE;
    return Math.max(this.commitIntervalMs, Math.min(this.maxCommitIntervalMs, spaced));
  }

  private armTimer(): void {
    if (this.stopped) return;
    this.cancelTimer = this.clock.setTimer(this.timedCommitDelayMs(), () => {
      const run = this.committer.hasDirty() && !this.committing ? this.commit() : Promise.resolve();
      run.catch(() => undefined).finally(() => this.armTimer());
    });
  }

  held(): boolean {
    return this.active > 0;
  }

  hold<T>(fn: () => Promise<T>): Promise<T> {
    // the usual case, nothing to wait for or commit first, without an async function's frame and turns
    if (this.failed || this.committing || (this.active === 0 && this.committer.hasDirty() && this.committer.needsCommit())) {
      return this.holdAfterWaits(fn);
    }
    this.active++;
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      this.leave();
      return Promise.reject(e);
    }
    return p.then(
      (v) => {
        this.leave();
        return v;
      },
      (e: unknown) => {
        this.leave();
        throw e;
      },
    );
  }

  private leave(): void {
    this.active--;
    if (this.active === 0 && this.drained) this.drained();
  }

  private async holdAfterWaits<T>(fn: () => Promise<T>): Promise<T> {
    // at most one forced commit per hold: a commit that could not cure the
    // condition (allocators still low on a full device) must not repeat forever
    let forced = false;
    for (;;) {
      if (this.failed) throw this.failed;
      if (this.committing) {
        await this.committing.catch(() => undefined);
        continue;
      }
      if (!forced && this.active === 0 && this.committer.hasDirty() && this.committer.needsCommit()) {
        forced = true;
        counters.inc("trans_commit_full");
        await this.commit().catch(() => undefined);
        continue;
      }
      break;
    }
    this.active++;
    try {
      return await fn();
    } finally {
      this.leave();
    }
  }

  /** commit what is dirty or being changed: a running hold may not have dirtied anything yet (answer_first.ts) */
  async sync(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.committing) await this.committing;
    else if (this.committer.hasDirty() || this.active > 0) await this.commit();
    if (this.failed) throw this.failed;
  }

  private commit(): Promise<void> {
    if (this.committing) return this.committing;
    this.committing = (async () => {
      while (this.active > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = undefined;
      const started = this.clock.nowMs();
      try {
        this.seq = await this.committer.commit();
        this.lastCommitMs = this.clock.nowMs() - started;
        counters.inc("trans_commit");
      } catch (e) {
        this.onCommitFailure(e as Error);
        rethrowBugs(e);
        this.failed = e instanceof FsError ? e : new FsError("EIO", `commit failed: ${(e as Error).message}`);
        counters.inc("trans_commit_error");
        throw this.failed;
      }
    })().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
  }
}
