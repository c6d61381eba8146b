/*
 * Dropping what the kernel caches of an inode after a change made behind
 * its back (the control socket's release, stage, move-blocks, ...),
 * without waiting forever on pages that requests in flight hold.
 *
 * The kernel keeps the pages of a READ or WRITE request locked until our
 * reply, and a notify-invalidate of a range locks each of its pages: a
 * request waiting in the daemon for offline blocks to be staged would
 * hold the invalidation (and the control request behind it) until some
 * later stage.  Those pages hold nothing stale (a READ's are filled by
 * our reply, read after the change; a WRITE's are its own new bytes), so
 * the ranges of requests in flight (InFlight) are left out, rounded out
 * to whole pages.  A request the kernel has queued but we have not read
 * yet can still hold a page of the range: the caller waits at most
 * timeoutMs, and the notification finishes in the background after.
 *
 * off < 0 drops the attributes only (no page is touched); len 0 means to
 * the end of the file.  Attributes are dropped by every notification.
 */

export interface ByteRange {
  start: number;
  end: number;
}

const PAGE = 4096;

/** the byte range [start, end) minus the ranges in holes, as sorted disjoint ranges */
export function subtractRanges(start: number, end: number, holes: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let pos = start;
  for (const h of [...holes].sort((a, b) => a.start - b.start)) {
    if (h.end <= pos) continue;
    if (h.start >= end) break;
    if (h.start > pos) out.push({ start: pos, end: h.start });
    pos = Math.max(pos, h.end);
  }
  if (pos < end) out.push({ start: pos, end });
  return out;
}

/** the byte ranges of data requests in flight, per inode */
export class InFlight {
  private readonly byIno = new Map<number, Set<ByteRange>>();

  /** note a request on [start, end) of ino; call the returned function when it is answered */
  add(ino: number, start: number, end: number): () => void {
    const r = { start, end };
    let set = this.byIno.get(ino);
    if (!set) {
      set = new Set();
      this.byIno.set(ino, set);
    }
    set.add(r);
    return () => {
      set.delete(r);
      if (set.size === 0 && this.byIno.get(ino) === set) this.byIno.delete(ino);
    };
  }

  /** the ranges in flight on ino, rounded out to whole pages */
  ranges(ino: number): ByteRange[] {
    return [...(this.byIno.get(ino) ?? [])].map((r) => ({ start: Math.floor(r.start / PAGE) * PAGE, end: Math.ceil(r.end / PAGE) * PAGE }));
  }
}

export type NotifyInvalInode = (ino: number, off: number, len: number) => Promise<unknown>;

/** drop the attributes and the cached pages of [off, off+len) of ino, except busy ranges; waits at most timeoutMs */
export async function invalidateAround(notify: NotifyInvalInode, busy: readonly ByteRange[], ino: number, off: number, len: number, timeoutMs = 2000): Promise<void> {
  const ranges = off < 0 ? [] : subtractRanges(off, len > 0 ? off + len : Number.MAX_SAFE_INTEGER, busy);
  const sent =
    ranges.length === 0
      ? [notify(ino, -1, 0)]
      : ranges.map((r) => notify(ino, r.start, r.end >= Number.MAX_SAFE_INTEGER ? 0 : r.end - r.start));
  // one that fails after we stopped waiting must not be an unhandled rejection
  for (const p of sent) p.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([Promise.all(sent), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
