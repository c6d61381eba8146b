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
 * Invariants: a buffer is lent to one request at a time (take() removes
 * it from the free list; only give() puts it back, and the session calls
 * give() once, after the reply's bytes are in the kernel or the request
 * failed); the pool keeps at most `keep` free buffers, all of `size`
 * bytes; a request larger than `size` gets a buffer of its own, which
 * give() drops.
 */
import { counters } from "../util/counters.js";

export class ReadBufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** bytes of each pooled buffer: the largest READ plus any slack a reader wants */
    readonly size: number,
    /** free buffers kept for reuse; more than that in use at once are allocated and dropped */
    readonly keep: number,
  ) {}

  /** a buffer of at least want bytes, lent until give() */
  take(want: number): Buffer {
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
  }

  /** free buffers held (for tests) */
  get freeCount(): number {
    return this.free.length;
  }
}
