/*
 * Page-aligned bounce buffers for O_DIRECT writes.
 *
 * The kernel refuses (EINVAL) an O_DIRECT transfer whose memory does not
 * start on a logical block boundary of the device, and Node neither hands
 * out aligned Buffers nor tells a Buffer's address.  A WebAssembly.Memory
 * is different: V8 reserves its bytes with the system page allocator, so
 * they start on a page boundary, and a slice at a multiple of 4096 bytes
 * is aligned for any device whose logical blocks are 4096 bytes or less.
 * FileBlockDevice still checks it once with a probe read before it trusts
 * direct I/O (see device.ts).
 *
 * The pool is SLOT_COUNT slots of SLOT_BYTES in one such memory.  A writer
 * takes a slot, copies its bytes in, writes, and gives the slot back;
 * when every slot is out, takers wait in arrival order.
 *
 * Invariants: the memory is never grown (growing would detach the
 * ArrayBuffer every slot is a view of); a slot is out to one holder at a
 * time; every slot starts at a multiple of ALIGN bytes.
 */

/** alignment every slot starts on, enough for 512- and 4096-byte sector devices */
export const ALIGN = 4096;
const WASM_PAGE = 64 * 1024;

export class AlignedPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((slot: Buffer) => void)[] = [];

  constructor(
    readonly slotBytes: number,
    readonly slotCount: number,
  ) {
    if (slotBytes <= 0 || slotBytes % ALIGN !== 0) throw new RangeError(`slot size ${slotBytes} is not a positive multiple of ${ALIGN}`);
    if (slotCount <= 0) throw new RangeError(`slot count ${slotCount} must be positive`);
    const pages = Math.ceil((slotBytes * slotCount) / WASM_PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    for (let i = 0; i < slotCount; i++) this.free.push(Buffer.from(memory.buffer, i * slotBytes, slotBytes));
  }

  /** a slot of slotBytes, waiting for one to come back when all are out */
  take(): Promise<Buffer> {
    const slot = this.free.pop();
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** give a slot from take() back: to the longest waiter, else to the pool */
  give(slot: Buffer): void {
    const next = this.waiters.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }

  /** slots not out (for tests) */
  available(): number {
    return this.free.length;
  }
}
