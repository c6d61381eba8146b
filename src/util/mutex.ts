/*
 * An async mutex: run() executes its functions one at a time in arrival
 * order.  Used where an await must not let another request observe or
 * change half-done state (server commits, per-inode fs operations).
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.held++;
      try {
        return await fn();
      } finally {
        this.held--;
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  get locked(): boolean {
    return this.held > 0;
  }
}
