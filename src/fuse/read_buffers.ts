/*
 * ReadBufferPool: the buffers READ requests are served into, reused.
 *
 * A READ of file data asks for up to max_pages pages (1 MiB).  A new
 * buffer per request costs the process fresh memory each time (a large
 * allocation is its own mapping, page-faulted in as it is filled and
 * unmapped when collected) and, being memory outside the JS heap, pushes
 * the garbage collector into extra full collections: measured on a 1 GiB
 * cold sequential read, about a fifth of the event loop's time.  So the
 * session lends each READ a buffer from this pool and takes it back once
 * the reply holding it has been written.
 *
 * A large sequential read needs many buffers at once (the kernel keeps
 * up to max_background READs in flight), an idle mount none: with an
 * idle policy, once more than `idle.keep` are free a check is scheduled,
 * and if no take() came in the `idle.ms` since, the extra free buffers
 * are dropped (a take meanwhile schedules the check again).
 *
 * Invariants: a buffer is lent to one request at a time (take() removes
 * it from the free list; only give() puts it back, and the session calls
 * give() once, after the reply's bytes are in the kernel or the request
 * failed); the pool keeps at most `keep` free buffers, all of `size`
 * bytes, and at most idle.keep of them once idle.ms passed without a
 * take; a request larger than `size` gets a buffer of its own, which
 * give() drops; at most one idle check is pending.
 */
import { counters } from "../util/counters.js";

export interface ReadBufferIdlePolicy {
  /** free buffers kept once the pool has been idle */
  keep: number;
  /** how long without a take() counts as idle */
  ms: number;
  /** run fn after ms (a timer that must not keep the process alive); returns its cancel */
  schedule(fn: () => void, ms: number): () => void;
}

export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private takes = 0;
  /** the pending idle check's cancel, and the take count when it was scheduled */
  private idleCheck: { cancel: () => void; takes: number } | undefined;

  constructor(
    /** bytes of each pooled buffer: the largest READ plus any slack a reader wants */
    readonly size: number,
    /** free buffers kept for reuse; more than that in use at once are allocated and dropped */
    readonly keep: number,
    private readonly idle?: ReadBufferIdlePolicy,
  ) {}

  /** a buffer of at least want bytes, lent until give() */
  take(want: number): Buffer {
    this.takes++;
    if (want > this.size) return Buffer.allocUnsafe(want);
    const b = this.free.pop();
    if (b) {
      counters.inc("fuse_read_buffer_reused");
      return b;
    }
    return Buffer.allocUnsafe(this.size);
  }

  /** a buffer from take() whose contents nobody uses any more */
  give(b: Buffer): void {
    if (b.length === this.size && this.free.length < this.keep) this.free.push(b);
    if (this.idle && !this.idleCheck && this.free.length > this.idle.keep) this.scheduleIdleCheck(this.idle);
  }

  private scheduleIdleCheck(idle: ReadBufferIdlePolicy): void {
    const takes = this.takes;
    const cancel = idle.schedule(() => {
      this.idleCheck = undefined;
      if (this.takes !== takes) {
        if (this.free.length > idle.keep) this.scheduleIdleCheck(idle);
        return;
      }
      if (this.free.length > idle.keep) {
        counters.inc("fuse_read_buffers_trimmed", this.free.length - idle.keep);
        this.free.length = idle.keep;
      }
    }, idle.ms);
    this.idleCheck = { cancel, takes };
  }

  /** cancel a pending idle check (the session is closing) */
  stop(): void {
    this.idleCheck?.cancel();
    this.idleCheck = undefined;
  }

  /** free buffers held (for tests) */
  get freeCount(): number {
    return this.free.length;
  }
}
