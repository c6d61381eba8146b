/*
 * Counters: named event counts, `<subsystem>_<event>`, shown by
 * `scoutfs counters`; tests assert that a counter moved.  One registry
 * per process (a process is one mount, or a test); cheap to bump.
 */
export class Counters {
  private values = new Map<string, number>();
  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  reset(): void {
    this.values.clear();
  }
}

export const counters = new Counters();
