/*
 * DirectWriter: write-behind through an O_DIRECT file descriptor, for
 * FileBlockDevice's direct writes (see device.ts for why).
 *
 * write() copies the caller's bytes into page-aligned bounce slots
 * (aligned_pool.ts), a slot-sized piece at a time, starts the O_DIRECT
 * write of each piece and returns once every piece is copied: the caller's
 * buffer is free and the device write goes on behind it.  So a FUSE WRITE
 * is answered after a memory copy, while the device takes the bytes, and
 * a streaming writer keeps up to the pool's slot count of pieces in
 * flight.  The pool bounds the memory: with every slot out, write() waits
 * for one to come back.
 *
 * Invariants:
 * * Order: a piece overlapping a piece still in flight is written only
 *   after that one completes, so the later write's bytes are what stays.
 * * Visibility: waitFor(range) returns once no piece in flight overlaps
 *   the range; the device's reader calls it first, so a read never sees
 *   the bytes from before a write that was already answered.
 * * Errors: a piece that fails latches its error.  waitFor throws it when
 *   a piece it waited for failed; drain (the device's sync and close
 *   wait on it) and every later write throw the latched error: the
 *   bytes are lost, so nothing may call them durable (the kernel reports
 *   a failed writeback the same way, at the next fsync).
 */
import { FsError } from "../util/errors.js";
import type { AlignedPool } from "./aligned_pool.js";

/** what DirectWriter needs of its descriptor: a FileHandle opened O_DIRECT (an interface so tests can hold writes back) */
export interface PositionalWriter {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  close(): Promise<void>;
}

interface Piece {
  start: number;
  end: number;
  failed: boolean;
  done: Promise<void>;
}

export class DirectWriter {
  private readonly inflight = new Set<Piece>();
  private error: Error | undefined;

  constructor(
    private readonly name: string,
    private readonly fh: PositionalWriter,
    private readonly pool: AlignedPool,
  ) {}

  /** copy data into bounce slots and start writing it at offset; offset and length are multiples of the device's block size */
  async write(offset: number, data: Buffer): Promise<void> {
    for (let done = 0; done < data.length; ) {
      if (this.error) throw this.error;
      const n = Math.min(this.pool.slotBytes, data.length - done);
      const slot = await this.pool.take();
      data.copy(slot, 0, done, done + n);
      this.start(slot, n, offset + done);
      done += n;
    }
  }

  private start(slot: Buffer, n: number, at: number): void {
    const before = this.overlapping(at, at + n).map((p) => p.done);
    const piece: Piece = { start: at, end: at + n, failed: false, done: Promise.resolve() };
    // in the set before the write starts: a write that fails at once still leaves it in its finally
    this.inflight.add(piece);
    piece.done = (async () => {
      try {
        if (before.length > 0) await Promise.all(before);
        for (let w = 0; w < n; ) {
          const { bytesWritten } = await this.fh.write(slot, w, n - w, at + w);
          if (bytesWritten <= 0) throw new FsError("EIO", `${this.name}: direct write at ${at + w} wrote nothing`);
          w += bytesWritten;
        }
      } catch (e) {
        piece.failed = true;
        this.error ??= e instanceof Error ? e : new Error(String(e));
      } finally {
        this.pool.give(slot);
        this.inflight.delete(piece);
      }
    })();
  }

  private overlapping(start: number, end: number): Piece[] {
    const out: Piece[] = [];
    for (const p of this.inflight) if (p.start < end && start < p.end) out.push(p);
    return out;
  }

  /**
   * until no piece in flight overlaps [start, end); rejects if one of them
   * failed.  undefined when none overlaps (the usual case on every read:
   * no promise to make and await)
   */
  waitFor(start: number, end: number): Promise<void> | undefined {
    const pieces = this.overlapping(start, end);
    if (pieces.length === 0) return undefined;
    return Promise.all(pieces.map((p) => p.done)).then(() => {
      if (pieces.some((p) => p.failed)) throw this.error ?? new FsError("EIO", `${this.name}: a direct write failed`);
    });
  }

  /** until every piece in flight is written; throws the latched error of any piece that ever failed */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight].map((p) => p.done));
    if (this.error) throw this.error;
  }

  /** pieces in flight (for tests) */
  inFlight(): number {
    return this.inflight.size;
  }

  async close(): Promise<void> {
    try {
      await this.drain();
    } finally {
      await this.fh.close();
    }
  }
}
