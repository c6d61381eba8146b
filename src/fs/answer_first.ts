/*
 * Answer first, then change: how create, mkdir, mknod, symlink, unlink,
 * rmdir and rename let their caller go before their items are written.
 *
 * Such an operation checks everything that can refuse it first, under
 * its inode locks (names, types, permissions to change, space for the
 * entry, quotas).  Then it enters the transaction, and inside that one
 * hold: computes its answer (answer(), which must not fail for any reason
 * the caller should hear of), hands it to its caller, waits one turn of
 * the event loop (setImmediate) and only then makes its changes
 * (apply()).  Through FUSE that turn is when the reply is written: the
 * answer's promise chain up to the reply runs as microtasks, before any
 * setImmediate callback.  So the kernel and the calling process carry on
 * while the changes are made, instead of waiting for them.
 *
 * Why it is safe (the caller, Filesystem, keeps these):
 *  - every inode the operation touches stays locked until apply() has
 *    finished (a new inode is locked before its number is answered), so
 *    every locked operation of this mount sees the change whole, or waits;
 *    the reads of an inode that take no lock on it (getattr, the inode a
 *    lookup finds) wait for its pending change;
 *  - the hold is entered before the answer, so a failed transaction is
 *    still the caller's error, and a commit (sync, fsync, unmount) waits
 *    for the change: it is in the transaction the answer belongs to;
 *  - what can still fail in apply() is a read of items from the device
 *    (or a bug): the answer was given, so it is logged and counted
 *    (fs_apply_after_answer_errors), as a failed commit is.
 */
export type HoldFn = <T>(fn: () => Promise<T>) => Promise<T>;

/** an operation's answer, and the promise that its changes are made */
export class AnsweredChange<T> {
  constructor(
    readonly value: T,
    readonly applied: Promise<void>,
  ) {}

  /** an answer with nothing left to change */
  static done<T>(value: T): AnsweredChange<T> {
    return new AnsweredChange(value, Promise.resolve());
  }
}

const nextTurn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/**
 * Enter the transaction, answer, then after a turn apply the change, all
 * in one hold.  Resolves once answered; rejects (having changed nothing)
 * if the hold or answer() failed.
 */
export function holdAnswerFirst<T>(hold: HoldFn, answer: () => T, apply: (answer: T) => Promise<void>): Promise<AnsweredChange<T>> {
  return new Promise<AnsweredChange<T>>((resolve, reject) => {
    let answered = false;
    let appliedOk!: () => void;
    let appliedFailed!: (e: unknown) => void;
    const applied = new Promise<void>((res, rej) => {
      appliedOk = res;
      appliedFailed = rej;
    });
    hold(async () => {
      const value = answer();
      answered = true;
      resolve(new AnsweredChange(value, applied));
      await nextTurn();
      await apply(value);
    }).then(appliedOk, (e: unknown) => {
      if (answered) appliedFailed(e);
      else reject(e);
    });
  });
}
