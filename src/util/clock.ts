/*
 * Clock: time and timers behind an interface, so simulations can run on
 * virtual time.  RealClock uses Date and setTimeout (unref'd: a pending
 * commit timer never keeps a process alive).
 */
export interface Clock {
  /** milliseconds since the epoch */
  nowMs(): number;
  /** wall time with nanoseconds, for timestamps */
  wall(): { sec: number; nsec: number };
  setTimer(ms: number, fn: () => void): () => void;
}

export class RealClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
  wall(): { sec: number; nsec: number } {
    const ns = process.hrtime.bigint() - hrtimeAtStart + epochNsAtStart;
    return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
  }
  setTimer(ms: number, fn: () => void): () => void {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  }
}

const hrtimeAtStart = process.hrtime.bigint();
const epochNsAtStart = BigInt(Date.now()) * 1_000_000n;
