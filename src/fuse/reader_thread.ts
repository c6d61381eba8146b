/*
 * The /dev/fuse reader thread: requests come to the event loop without
 * the event loop ever issuing a read.
 *
 * A read of /dev/fuse blocks until a request comes, so it cannot run on
 * the event loop.  Issued as an fs.read on libuv's threadpool, every
 * request cost the event loop a second cross-thread wake-up besides the
 * one that delivers it: queueing the replacement read signals a parked
 * pool thread, and on a virtual machine a wake-up of another CPU costs
 * tens of microseconds of the waker's time (measured through mdbench:
 * about 40 µs of the event loop per request went to issuing reads).  Here
 * one worker thread loops on blocking reads by itself, into slots of a
 * SharedArrayBuffer, and the event loop only consumes them: it waits with
 * Atomics.waitAsync (woken through node's platform, one wake-up per
 * batch) and hands each request to the session as a Buffer view of its
 * slot.
 *
 * Shared state (CTL, Int32 words of `ctl`):
 *  - STATE[i]: FREE (the reader may fill it), FULL (read, not yet taken),
 *    TAKEN (the session has it; it returns it with release());
 *  - LEN[i]: bytes read into slot i;
 *  - ORDER[k % slots]: the slot of the k-th request read, so requests are
 *    served in the order the kernel gave them (slots come free out of
 *    order: a WRITE keeps its slot until its op settles);
 *  - PRODUCED: requests read so far (a wrapping 32-bit count), notified
 *    after each; FREED: bumped on each release, which the reader waits on
 *    when no slot is free; ENDED/END_CODE: the reader has stopped, and why.
 *
 * Invariants: at most `slots` requests are read and not yet released, so
 * the k-th ORDER entry is never overwritten before it is consumed; a slot
 * is written by the reader only while FREE and by nothing while TAKEN;
 * onEnd runs once, after the worker has exited (its read is no longer in
 * the kernel, so the fd may be closed) and after every request it read
 * was handed on.  The worker keeps the process alive while it reads, as
 * the parked pool reads did: a daemon unmounts before it exits.
 */
import { Worker } from "node:worker_threads";

/** the most slots a reader may have (the control words are laid out for it) */
export const MAX_SLOTS = 64;

export const SLOT = { FREE: 0, FULL: 1, TAKEN: 2 } as const;

export const CTL = {
  PRODUCED: 0,
  FREED: 1,
  ENDED: 2,
  END_CODE: 3,
  ORDER: 4,
  STATE: 4 + MAX_SLOTS,
  LEN: 4 + 2 * MAX_SLOTS,
  WORDS: 4 + 3 * MAX_SLOTS,
} as const;

/** why a reader stopped: END_CODE is 1 + an index into this */
export const END_CODES = ["ENODEV", "ECONNABORTED", "EBADF", "EIO", "EOF"] as const;
export type ReaderEndCode = (typeof END_CODES)[number];

export interface ReaderWorkerData {
  fd: number;
  slots: number;
  slotSize: number;
  data: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
}

const WORKER_URL = new URL("./reader_worker.js", import.meta.url);

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Atomics.waitAsync: in node 20 (V8), in TypeScript's ES2024 lib, newer than this project's target */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, index: number, value: number): { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
  }
).waitAsync;

export class FuseReaderThread {
  private readonly ctl: Int32Array;
  private readonly views: Buffer[];
  private readonly slotOf = new Map<Buffer, number>();
  private worker: Worker | undefined;
  private consumed = 0;
  private exited = false;
  private endCalled = false;

  constructor(
    private readonly fd: number,
    readonly slots: number,
    readonly slotSize: number,
    /** a request: buf is its slot (n bytes of it), to be given back with release(buf) */
    private readonly onRequest: (buf: Buffer, n: number) => void,
    /** the reader stopped (code), and every request it read was handed on; error: the worker itself failed */
    private readonly onEnd: (code: ReaderEndCode, error?: Error) => void,
  ) {
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) throw new RangeError(`reader slots ${slots} not in [1, ${MAX_SLOTS}]`);
    const data = new SharedArrayBuffer(slots * slotSize);
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL.WORDS * 4));
    this.views = Array.from({ length: slots }, (_, i) => Buffer.from(data, i * slotSize, slotSize));
    this.views.forEach((v, i) => this.slotOf.set(v, i));
    this.workerData = { fd, slots, slotSize, data, ctl: this.ctl.buffer as SharedArrayBuffer };
  }

  private readonly workerData: ReaderWorkerData;

  start(): void {
    if (this.worker) throw new Error("reader thread already started");
    const w = new Worker(WORKER_URL, { workerData: this.workerData });
    this.worker = w;
    let failure: Error | undefined;
    w.on("error", (e) => (failure = e));
    w.on("exit", () => {
      this.exited = true;
      // wake the pump if it waits: it drains what was read and ends
      Atomics.notify(this.ctl, CTL.PRODUCED);
      this.drain();
      this.end(failure);
    });
    void this.pump();
  }

  /** give back a request's slot; false if buf is not one (a copy the session made) */
  release(buf: Buffer): boolean {
    const i = this.slotOf.get(buf);
    if (i === undefined) return false;
    Atomics.store(this.ctl, CTL.STATE + i, SLOT.FREE);
    Atomics.add(this.ctl, CTL.FREED, 1);
    Atomics.notify(this.ctl, CTL.FREED, 1);
    return true;
  }

  /** slots the reader may fill now */
  freeSlots(): number {
    let n = 0;
    for (let i = 0; i < this.slots; i++) if (Atomics.load(this.ctl, CTL.STATE + i) === SLOT.FREE) n++;
    return n;
  }

  /** hand on every request read and not yet consumed */
  private drain(): void {
    const c = this.ctl;
    while ((this.consumed | 0) !== Atomics.load(c, CTL.PRODUCED)) {
      const i = Atomics.load(c, CTL.ORDER + (this.consumed % this.slots));
      this.consumed++;
      Atomics.store(c, CTL.STATE + i, SLOT.TAKEN);
      this.onRequest(this.views[i]!, Atomics.load(c, CTL.LEN + i));
    }
  }

  private async pump(): Promise<void> {
    const c = this.ctl;
    for (;;) {
      this.drain();
      if (this.exited || Atomics.load(c, CTL.ENDED) === 1) return;
      const w = waitAsync(c, CTL.PRODUCED, this.consumed | 0);
      // already more: let replies and deferred work run between batches
      if (w.async) await w.value;
      else await nextTurn();
    }
  }

  private end(failure: Error | undefined): void {
    if (this.endCalled) return;
    this.endCalled = true;
    const code = Atomics.load(this.ctl, CTL.END_CODE);
    this.onEnd(code > 0 ? END_CODES[code - 1]! : "EIO", failure ?? (code === 0 ? new Error("the reader thread exited without a reason") : undefined));
  }
}
