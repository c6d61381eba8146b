/*
 * The body of the /dev/fuse reader thread (reader_thread.ts explains the
 * design): a loop of blocking reads of the FUSE fd into free slots of a
 * shared buffer, each announced to the main thread through the shared
 * control words, until the kernel ends the connection.
 *
 * Invariants: it writes only into a slot whose state is FREE, and marks it
 * FULL (with the length and its place in the order ring) only after the
 * read has returned, then bumps PRODUCED and notifies; it never touches a
 * slot again until the main thread has set it FREE.  It exits after
 * setting ENDED (and notifying), on the first read error that means the
 * connection is gone, or after too many other errors in a row.
 */
import fs from "node:fs";
import { workerData } from "node:worker_threads";
import { CTL, END_CODES, SLOT, type ReaderEndCode, type ReaderWorkerData } from "./reader_thread.js";

const { fd, slots, slotSize, data, ctl } = workerData as ReaderWorkerData;
const c = new Int32Array(ctl);
const views = Array.from({ length: slots }, (_, i) => new Uint8Array(data, i * slotSize, slotSize));

/** a free slot, waiting for the main thread to release one if none is */
function freeSlot(): number {
  for (;;) {
    const freed = Atomics.load(c, CTL.FREED);
    for (let i = 0; i < slots; i++) if (Atomics.load(c, CTL.STATE + i) === SLOT.FREE) return i;
    Atomics.wait(c, CTL.FREED, freed);
  }
}

function end(errno: ReaderEndCode): void {
  Atomics.store(c, CTL.END_CODE, END_CODES.indexOf(errno) + 1);
  Atomics.store(c, CTL.ENDED, 1);
  Atomics.notify(c, CTL.PRODUCED);
}

/** the errors after which the kernel has nothing more to send: the connection was ended or aborted */
const GONE = new Set<string>(["ENODEV", "ECONNABORTED", "EBADF"] satisfies ReaderEndCode[]);
/** a read that may simply be tried again */
const AGAIN = new Set(["EINTR", "EAGAIN", "ENOENT"]);

let seq = 0;
let errorsInARow = 0;
for (;;) {
  const i = freeSlot();
  let n: number;
  try {
    n = fs.readSync(fd, views[i]!, 0, slotSize, null);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    if (GONE.has(code)) {
      end(code as ReaderEndCode);
      break;
    }
    if (AGAIN.has(code)) continue;
    if (++errorsInARow > 100) {
      end("EIO");
      break;
    }
    continue;
  }
  if (n === 0) {
    // not /dev/fuse (a test's pipe): the other end closed
    end("EOF");
    break;
  }
  errorsInARow = 0;
  Atomics.store(c, CTL.LEN + i, n);
  Atomics.store(c, CTL.STATE + i, SLOT.FULL);
  Atomics.store(c, CTL.ORDER + (seq % slots), i);
  seq++;
  // a wrapping 32-bit count: the main thread only asks whether it differs from what it consumed
  Atomics.store(c, CTL.PRODUCED, seq | 0);
  Atomics.notify(c, CTL.PRODUCED);
}
