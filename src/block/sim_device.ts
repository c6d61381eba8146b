/*
 * MemBlockDevice: a device in memory for simulations and crash tests.
 *
 * It keeps two images: `durable` (what survives a power loss) and the
 * pending writes since the last sync, in order.  Reads see everything
 * written.  crash(rng) builds the post-crash image: each pending write
 * independently reached the media or not (devices reorder freely between
 * barriers), and one of them may be torn (only a prefix of its 512-byte
 * sectors written).  Reads and writes can also be made to fail, to test
 * EIO paths.  Deterministic given the rng.
 */
import type { BlockDevice } from "./device.js";
import { FsError } from "../util/errors.js";

interface PendingWrite {
  offset: number;
  data: Buffer;
}

export type Rng = () => number;

/**
 * Power shared by the devices of one machine: after writesLeft more
 * writes and syncs (across all of them) the power is cut: later writes
 * and syncs do nothing, as if the machine had stopped there.
 */
export class Power {
  writesLeft: number | undefined;
  cut = false;
  /** called by a device for each write; false once the power is cut */
  use(): boolean {
    if (this.cut) return false;
    if (this.writesLeft !== undefined && this.writesLeft-- <= 0) {
      this.cut = true;
      return false;
    }
    return true;
  }
}

export class MemBlockDevice implements BlockDevice {
  private durable: Map<number, Buffer> = new Map(); // 4 KiB pages
  private current: Map<number, Buffer> = new Map();
  private pending: PendingWrite[] = [];
  syncs = 0;

  constructor(
    readonly name: string,
    private readonly size: number,
    public power: Power = new Power(),
  ) {}

  private static PAGE = 4096;

  private readFrom(pages: Map<number, Buffer>, offset: number, length: number, into?: Buffer): Buffer {
    const out = into && into.length >= length ? into.subarray(0, length).fill(0) : Buffer.alloc(length);
    let pos = offset;
    while (pos < offset + length) {
      const pg = Math.floor(pos / MemBlockDevice.PAGE);
      const inPage = pos - pg * MemBlockDevice.PAGE;
      const n = Math.min(MemBlockDevice.PAGE - inPage, offset + length - pos);
      const page = pages.get(pg);
      if (page) page.copy(out, pos - offset, inPage, inPage + n);
      pos += n;
    }
    return out;
  }

  private writeTo(pages: Map<number, Buffer>, offset: number, data: Buffer): void {
    let pos = offset;
    while (pos < offset + data.length) {
      const pg = Math.floor(pos / MemBlockDevice.PAGE);
      const inPage = pos - pg * MemBlockDevice.PAGE;
      const n = Math.min(MemBlockDevice.PAGE - inPage, offset + data.length - pos);
      let page = pages.get(pg);
      if (!page) {
        page = Buffer.alloc(MemBlockDevice.PAGE);
        pages.set(pg, page);
      } else if (pages === this.current && this.durable.get(pg) === page) {
        page = Buffer.from(page);
        pages.set(pg, page);
      }
      data.copy(page, inPage, pos - offset, pos - offset + n);
      pos += n;
    }
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    this.check(offset, length);
    return this.readFrom(this.current, offset, length, into);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.check(offset, data.length);
    if (!this.power.use()) return;
    this.writeTo(this.current, offset, data);
    this.pending.push({ offset, data: Buffer.from(data) });
  }

  async sync(): Promise<void> {
    if (!this.power.use()) return; // a sync is an event the power can be cut before
    for (const w of this.pending) this.applyDurable(w.offset, w.data);
    this.pending = [];
    this.syncs++;
  }

  private applyDurable(offset: number, data: Buffer): void {
    let pos = offset;
    while (pos < offset + data.length) {
      const pg = Math.floor(pos / MemBlockDevice.PAGE);
      const inPage = pos - pg * MemBlockDevice.PAGE;
      const n = Math.min(MemBlockDevice.PAGE - inPage, offset + data.length - pos);
      const old = this.durable.get(pg);
      const page = old ? Buffer.from(old) : Buffer.alloc(MemBlockDevice.PAGE);
      data.copy(page, inPage, pos - offset, pos - offset + n);
      this.durable.set(pg, page);
      pos += n;
    }
  }

  /**
   * Power loss: each unsynced write survives with probability 1/2, and
   * with tear=true one surviving write is cut after a random number of
   * 512-byte sectors.  Afterwards the device holds only the survivors.
   */
  crash(rng: Rng, tear = false): void {
    const survivors = this.pending.filter(() => rng() < 0.5);
    let tornIndex = -1;
    if (tear && survivors.length > 0) tornIndex = Math.floor(rng() * survivors.length);
    survivors.forEach((w, i) => {
      let data = w.data;
      if (i === tornIndex) {
        const sectors = Math.max(1, data.length / 512);
        data = data.subarray(0, Math.floor(rng() * sectors) * 512);
      }
      if (data.length > 0) this.applyDurable(w.offset, data);
    });
    this.pending = [];
    this.current = new Map(this.durable);
    this.power = new Power();
  }

  /** flip one bit of the durable and current image */
  flipBit(byteOffset: number, bit: number): void {
    for (const pages of [this.durable, this.current]) {
      const pg = Math.floor(byteOffset / MemBlockDevice.PAGE);
      const page = pages.get(pg) ?? Buffer.alloc(MemBlockDevice.PAGE);
      const copy = Buffer.from(page);
      copy[byteOffset - pg * MemBlockDevice.PAGE]! ^= 1 << bit;
      pages.set(pg, copy);
    }
  }

  sizeBytes(): number {
    return this.size;
  }

  async close(): Promise<void> {}

  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.size) throw new FsError("EIO", `${this.name}: I/O beyond end of device`);
  }
}
