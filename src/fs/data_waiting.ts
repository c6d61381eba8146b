/*
 * Data waiting: the registry of operations blocked on offline blocks.
 *
 * A read, write or size change that needs a file's offline (released)
 * blocks does not fail: it registers here, under the inode's lock, the
 * first offline block it found and what it is (DATA_WAIT_OP), releases
 * its locks and waits.  It is woken when the inode's offline blocks
 * change (staging, punch-offline, truncation: changed(ino)), then starts
 * over and checks again, so a read that spans several offline regions
 * waits once per region it still finds offline.  Archive agents list the
 * waiters (list(), `scoutfs data-waiting`) to know what to stage first,
 * and can fail them with an errno (fail(), `scoutfs data-wait-err`).
 *
 * Invariants:
 *  - a waiter is registered before the inode lock of the check that found
 *    the offline block is released, and changes of extents happen under
 *    that lock held exclusively, so a change that comes after the check
 *    always finds the waiter to wake (no lost wakeups);
 *  - every waiter leaves the registry when its wait() settles: woken,
 *    failed (it throws the errno given to fail()), or aborted through
 *    the caller's AbortSignal (EINTR: a FUSE INTERRUPT);
 *  - several waiters on one (ino, iblock) are listed as one entry whose
 *    ops are the union of theirs, in (ino, iblock) order, as the original
 *    lists them.
 *
 * A failed wait leaves a short-lived mark for its task (the pid of the
 * FUSE request): the kernel answers a failed readahead READ by reading
 * the page again, a second request from the same task, which must fail
 * with the same errno instead of waiting anew, or the task the agent
 * meant to fail would block again (the original fails the task itself).
 * A mark is used once, by the first wait of that pid on that block and op,
 * and forgotten after FAILED_MARK_MS.
 *
 * The registry is per mount and in memory only: waiters are requests in
 * flight, nothing of them is persistent.
 */
import { FsError, type Errno } from "../util/errors.js";

/** what a waiter was doing (the original's DWO bits) */
export const DATA_WAIT_OP = { read: 1, write: 2, changeSize: 4 } as const;
/** how long a failed task's next wait on the same block fails at once (the kernel's retry) */
export const FAILED_MARK_MS = 2000;

/** who waits: the request's signal (INTERRUPT: EINTR) and the task it came from */
export interface DataWaitCaller {
  signal?: AbortSignal;
  pid?: number;
}

interface FailedMark {
  pid: number;
  ino: number;
  iblock: number;
  op: number;
  errno: Errno;
  until: number;
}

/** every known op bit */
export const DATA_WAIT_OP_ALL = 7;

/** one listed entry: a block with waiters, and the union of their ops */
export interface DataWaitEntry {
  ino: number;
  iblock: number;
  op: number;
}

/** a registered wait, handed back to wait() */
export interface DataWait {
  readonly ino: number;
  readonly iblock: number;
  readonly op: number;
}

interface Waiter extends DataWait {
  pid: number | undefined;
  /** set by changed() or fail(): wait() returns (or throws err) */
  woken: boolean;
  err: Errno | undefined;
  wake: (() => void) | undefined;
}

const cmpPos = (aIno: number, aBlk: number, bIno: number, bBlk: number): number => aIno - bIno || aBlk - bBlk;

export class DataWaiters {
  private readonly byIno = new Map<number, Set<Waiter>>();
  /** failed tasks whose next wait on the block fails at once (few: one per failed waiter with a pid) */
  private failedMarks: FailedMark[] = [];

  constructor(private readonly nowMs: () => number = Date.now) {}

  /**
   * The errno a wait of pid on (ino, iblock, op) gets at once, because
   * that task's wait there was just failed; the mark is used up.
   */
  takeFailure(ino: number, iblock: number, op: number, pid: number | undefined): Errno | undefined {
    if (pid === undefined || this.failedMarks.length === 0) return undefined;
    const now = this.nowMs();
    this.failedMarks = this.failedMarks.filter((m) => m.until > now);
    const i = this.failedMarks.findIndex((m) => m.pid === pid && m.ino === ino && m.iblock === iblock && (m.op & op) !== 0);
    if (i < 0) return undefined;
    const m = this.failedMarks[i]!;
    this.failedMarks.splice(i, 1);
    return m.errno;
  }

  /** register an op that found iblock of ino offline; call with the inode locked, then wait() */
  add(ino: number, iblock: number, op: number, pid?: number): DataWait {
    const w: Waiter = { ino, iblock, op, pid, woken: false, err: undefined, wake: undefined };
    let set = this.byIno.get(ino);
    if (!set) {
      set = new Set();
      this.byIno.set(ino, set);
    }
    set.add(w);
    return w;
  }

  /**
   * Wait until the inode's offline blocks change (then the caller checks
   * again), the wait is failed (throws its errno), or signal aborts
   * (throws EINTR).  The waiter is gone from the registry after.
   */
  async wait(dw: DataWait, signal?: AbortSignal): Promise<void> {
    const w = dw as Waiter;
    try {
      await new Promise<void>((resolve, reject) => {
        if (w.woken) return resolve();
        const onAbort = (): void => reject(new FsError("EINTR", `wait for offline block ${w.iblock} of inode ${w.ino} interrupted`));
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        w.wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    } finally {
      this.remove(w);
    }
    if (w.err) throw new FsError(w.err, `wait for offline block ${w.iblock} of inode ${w.ino} failed (data-wait-err)`);
  }

  /** the offline blocks of ino changed: wake all its waiters to check again */
  changed(ino: number): void {
    const set = this.byIno.get(ino);
    if (!set) return;
    for (const w of set) this.wakeOne(w);
  }

  /**
   * Fail the waiters of ino on blocks first..last whose op shares a bit
   * with op, with errno; the others of ino are woken to check again.
   * Returns how many were failed.
   */
  fail(ino: number, first: number, last: number, op: number, errno: Errno): number {
    const set = this.byIno.get(ino);
    if (!set) return 0;
    let n = 0;
    for (const w of set) {
      if (w.iblock >= first && w.iblock <= last && (w.op & op) !== 0 && !w.err) {
        w.err = errno;
        n++;
        if (w.pid !== undefined) this.failedMarks.push({ pid: w.pid, ino, iblock: w.iblock, op: w.op, errno, until: this.nowMs() + FAILED_MARK_MS });
      }
    }
    if (n > 0) this.changed(ino);
    return n;
  }

  /** fail every waiter (the mount is going away) */
  failAll(errno: Errno): void {
    for (const set of this.byIno.values()) {
      for (const w of set) {
        w.err ??= errno;
        this.wakeOne(w);
      }
    }
  }

  /**
   * Up to max entries after (afterIno, afterIblock), in (ino, iblock)
   * order; waiters on one block are one entry with their ops or'ed.
   */
  list(afterIno: number, afterIblock: number, max: number): DataWaitEntry[] {
    const found: Waiter[] = [];
    for (const [ino, set] of this.byIno) {
      if (ino < afterIno) continue;
      for (const w of set) if (cmpPos(w.ino, w.iblock, afterIno, afterIblock) > 0) found.push(w);
    }
    found.sort((a, b) => cmpPos(a.ino, a.iblock, b.ino, b.iblock));
    const out: DataWaitEntry[] = [];
    for (const w of found) {
      const last = out[out.length - 1];
      if (last && last.ino === w.ino && last.iblock === w.iblock) {
        last.op |= w.op;
        continue;
      }
      if (out.length === max) break;
      out.push({ ino: w.ino, iblock: w.iblock, op: w.op });
    }
    return out;
  }

  /** waiters registered (for tests) */
  get size(): number {
    let n = 0;
    for (const set of this.byIno.values()) n += set.size;
    return n;
  }

  private wakeOne(w: Waiter): void {
    w.woken = true;
    w.wake?.();
  }

  private remove(w: Waiter): void {
    const set = this.byIno.get(w.ino);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.byIno.delete(w.ino);
  }
}
