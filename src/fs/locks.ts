/*
 * Local serialization of fs operations: a shared/exclusive lock per
 * inode number (the plain mutex for renames is util/mutex.ts).
 *
 * Requests arrive concurrently and every await is a point where another
 * operation may run, so an operation locks every inode whose items it
 * reads to decide or changes: readers (lookup, readdir, read, getxattr)
 * take shared locks, changers take exclusive ones.  Deadlock is avoided
 * by ordering: an operation acquires all of its inode locks at once, in
 * ascending inode number, and never waits for more while holding some:
 * it may take more only if they are free right now (tryAcquire), else it
 * releases everything and starts again with the larger set (see
 * Filesystem).  Locks are taken before the transaction is held and never
 * inside hold(), so a commit waiting for holders cannot wait on a lock.
 *
 * Grants are FIFO per inode: a waiting exclusive request blocks later
 * shared ones, so writers are not starved.  Idle entries are dropped, so
 * the table holds only inodes that are in use.
 */

type Waiter = { excl: boolean; grant: () => void };

class RwLock {
  readers = 0;
  writer = false;
  queue: Waiter[] = [];

  idle(): boolean {
    return this.readers === 0 && !this.writer && this.queue.length === 0;
  }

  canTakeNow(excl: boolean): boolean {
    return this.queue.length === 0 && this.compatible(excl);
  }

  acquire(excl: boolean): Promise<void> | undefined {
    if (this.canTakeNow(excl)) {
      this.take(excl);
      return undefined;
    }
    return new Promise<void>((resolve) => this.queue.push({ excl, grant: resolve }));
  }

  release(excl: boolean): void {
    if (excl) this.writer = false;
    else this.readers--;
    while (this.queue.length > 0 && this.compatible(this.queue[0]!.excl)) {
      const w = this.queue.shift()!;
      this.take(w.excl);
      w.grant();
    }
  }

  private compatible(excl: boolean): boolean {
    return excl ? !this.writer && this.readers === 0 : !this.writer;
  }

  private take(excl: boolean): void {
    if (excl) this.writer = true;
    else this.readers++;
  }
}

export type LockRequest = { ino: number; excl: boolean };

export class InodeLocks {
  private readonly table = new Map<number, RwLock>();

  /**
   * Lock a set of inodes, in ascending number; an inode asked for twice
   * is locked once, exclusively if either asked so.  Returns the release.
   */
  async acquire(reqs: LockRequest[]): Promise<() => void> {
    const order = mergeRequests(reqs).sort((a, b) => a[0] - b[0]);
    for (const [ino, excl] of order) {
      const p = this.lockOf(ino).acquire(excl);
      if (p) await p;
    }
    return this.releaser(order);
  }

  private lockOf(ino: number): RwLock {
    let l = this.table.get(ino);
    if (!l) {
      l = new RwLock();
      this.table.set(ino, l);
    }
    return l;
  }

  private releaser(order: [number, boolean][]): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const [ino, excl] of order) {
        const l = this.table.get(ino)!;
        l.release(excl);
        if (l.idle()) this.table.delete(ino);
      }
    };
  }

  /**
   * Lock a set of inodes only if none of them would wait (held
   * incompatibly or with others queued): returns the release, or
   * undefined having taken nothing.  Never waiting, it may be called
   * while holding other locks, whatever their inode numbers.
   */
  tryAcquire(reqs: LockRequest[]): (() => void) | undefined {
    const order = mergeRequests(reqs);
    for (const [ino, ex] of order) {
      const l = this.table.get(ino);
      if (l && !l.canTakeNow(ex)) return undefined;
    }
    for (const [ino, ex] of order) this.lockOf(ino).acquire(ex);
    return this.releaser(order);
  }

  /** run fn holding the locks; when they are all free now it starts at once, without a turn of waiting */
  with<T>(reqs: LockRequest[], fn: () => Promise<T>): Promise<T> {
    const release = this.tryAcquire(reqs);
    if (!release) return this.withWaiting(reqs, fn);
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      release();
      throw e;
    }
    // then() rather than finally(): one promise, where finally() makes three
    return p.then(
      (v) => {
        release();
        return v;
      },
      (e: unknown) => {
        release();
        throw e;
      },
    );
  }

  private async withWaiting<T>(reqs: LockRequest[], fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(reqs);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** number of inodes with a lock held or wanted (for tests) */
  get active(): number {
    return this.table.size;
  }
}

/** one (ino, exclusive) per inode: an inode asked for twice is locked once, exclusively if either asked so */
function mergeRequests(reqs: LockRequest[]): [number, boolean][] {
  // most operations lock one or two inodes: no Map for those (a lookup's lock was a fifth of its time)
  if (reqs.length === 1) return [[reqs[0]!.ino, reqs[0]!.excl]];
  if (reqs.length === 2) {
    const [a, b] = reqs as [LockRequest, LockRequest];
    return a.ino === b.ino ? [[a.ino, a.excl || b.excl]] : [[a.ino, a.excl], [b.ino, b.excl]];
  }
  const merged = new Map<number, boolean>();
  for (const r of reqs) merged.set(r.ino, (merged.get(r.ino) ?? false) || r.excl);
  return [...merged.entries()];
}

export const excl = (...inos: number[]): LockRequest[] => inos.map((ino) => ({ ino, excl: true }));
export const shared = (...inos: number[]): LockRequest[] => inos.map((ino) => ({ ino, excl: false }));
