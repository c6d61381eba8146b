/*
 * An async mutex: run() executes its functions one at a time in arrival
 * order.  Used where an await must not let another request observe or
 * change half-done state (server transactions, cross-directory renames).
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
