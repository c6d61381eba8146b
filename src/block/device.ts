/*
 * BlockDevice: the only way any layer touches a device.  Byte offsets and
 * lengths, async, plus sync (a barrier: everything written before it is
 * durable when it returns).  Two implementations: FileBlockDevice over a
 * regular file or a block device node, and MemBlockDevice (in
 * sim_device.ts) whose crash() loses or tears unsynced writes so tests
 * can cut the power at any point.
 *
 * Direct writes (the data device of a mount): file contents already sit
 * in the kernel's page cache of the FUSE file, so writing them through the
 * image's page cache too would cache every byte twice, and taking pages
 * for that second copy is what a sequential write spends most of its time
 * on where memory is slow to get (on a VM whose host takes back guest
 * memory that was free, 1 GiB written into fresh pages takes 2-3 s against
 * 0.4-0.5 s with O_DIRECT).  So such a device writes through a second file
 * descriptor opened O_DIRECT, behind the caller: a DirectWriter
 * (direct_writer.ts) copies each write into page-aligned bounce buffers
 * and answers while the device write goes on.  Reads go through the
 * buffered descriptor, keeping the host's readahead, after waiting for
 * the writes in flight over their range; the kernel keeps the two
 * descriptors coherent (a direct write flushes and drops the cached pages
 * of its range).  sync() waits for every write in flight first.  Where
 * O_DIRECT is refused (ramfs) or a probe read shows the bounce memory is
 * not aligned enough, writes are buffered as before, and so is a write
 * not on 4096-byte boundaries (after the direct writes it overlaps).
 *
 * Invariant: no layer keeps its own file descriptor; devices are opened
 * here and closed here.
 */
import { constants as fsConstants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { FsError } from "../util/errors.js";
import { ALIGN, AlignedPool } from "./aligned_pool.js";
import { DirectWriter } from "./direct_writer.js";

/** bounce buffers of every direct-writing device in the process (one per MiB in flight, up to 8) */
const BOUNCE_SLOT_BYTES = 1 << 20;
const BOUNCE_SLOTS = 8;
let bouncePool: AlignedPool | undefined;
function bounce(): AlignedPool {
  bouncePool ??= new AlignedPool(BOUNCE_SLOT_BYTES, BOUNCE_SLOTS);
  return bouncePool;
}

export interface FileOpenOptions {
  /** write through O_DIRECT when the file allows it (see the file comment) */
  directWrites?: boolean;
}

export interface BlockDevice {
  readonly name: string;
  /**
   * length bytes at offset.  into (optional): a buffer the caller lends
   * for the bytes, used when it holds length; the result is then a view
   * of it (a hot reader can reuse one buffer instead of a new one per read)
   */
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /** data is the caller's again once the promise settles (it may be reused for the next write) */
  write(offset: number, data: Buffer): Promise<void>;
  sync(): Promise<void>;
  sizeBytes(): number;
  close(): Promise<void>;
}

export class FileBlockDevice implements BlockDevice {
  private constructor(
    readonly name: string,
    private readonly fh: FileHandle,
    private size: number,
    /** writes behind through an O_DIRECT descriptor, when direct writes were asked for and work */
    private readonly direct?: DirectWriter,
  ) {}

  /** whether whole-block writes bypass the page cache (for the mount log and tests) */
  get directWrites(): boolean {
    return this.direct !== undefined;
  }

  /** wrap a handle someone else opened (mkfs opens devices exclusively itself) */
  static fromHandle(path: string, fh: FileHandle, sizeBytes: number): FileBlockDevice {
    return new FileBlockDevice(path, fh, sizeBytes);
  }

  static async open(path: string, sizeBytes?: number, writable = true, opts: FileOpenOptions = {}): Promise<FileBlockDevice> {
    let fh: FileHandle;
    try {
      fh = await open(path, writable ? "r+" : "r");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new FsError((err.code as "ENOENT") ?? "EIO", `opening ${path}: ${err.message}`);
    }
    let size = sizeBytes;
    if (size === undefined) {
      const st = await fh.stat();
      size = st.isBlockDevice() ? await blockDeviceSize(path, st.rdev) : st.size;
    }
    const direct = writable && opts.directWrites ? await openDirect(path) : undefined;
    return new FileBlockDevice(path, fh, size, direct && new DirectWriter(path, direct, bounce()));
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const inFlight = this.direct?.waitFor(offset, offset + length);
    if (inFlight) await inFlight;
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) {
        buf.fill(0, done); // reading past the end of a sparse file: zeros
        break;
      }
      done += bytesRead;
    }
    return buf;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    if (this.direct && offset % ALIGN === 0 && data.length % ALIGN === 0) return this.direct.write(offset, data);
    const inFlight = this.direct?.waitFor(offset, offset + data.length);
    if (inFlight) await inFlight;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  /** the writes in flight, then fdatasync of the file (either descriptor would do): the direct writes' allocations and the device cache too */
  async sync(): Promise<void> {
    await this.direct?.drain();
    await this.fh.datasync();
  }

  sizeBytes(): number {
    return this.size;
  }

  /** after the writes in flight; throws a direct write's error, having closed both descriptors */
  async close(): Promise<void> {
    try {
      await this.direct?.close();
    } finally {
      await this.fh.close();
    }
  }
}

/**
 * path opened O_DIRECT for writing, or undefined when the file system
 * refuses O_DIRECT, the bounce memory cannot be had (a WebAssembly.Memory
 * reserves more address space than a tight ulimit -v allows), or a direct
 * read into a bounce slot fails (the slot's memory not aligned enough for
 * this device)
 */
async function openDirect(path: string): Promise<FileHandle | undefined> {
  let pool: AlignedPool;
  let fh: FileHandle;
  try {
    pool = bounce();
    fh = await open(path, fsConstants.O_RDWR | fsConstants.O_DIRECT);
  } catch {
    return undefined;
  }
  const slot = await pool.take();
  try {
    await fh.read(slot, 0, ALIGN, 0);
    return fh;
  } catch {
    await fh.close();
    return undefined;
  } finally {
    pool.give(slot);
  }
}

/** Size of a block device from sysfs (512-byte sectors). */
async function blockDeviceSize(path: string, rdev: number): Promise<number> {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  const { readFile } = await import("node:fs/promises");
  try {
    const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8")).trim());
    return sectors * 512;
  } catch {
    throw new FsError("EIO", `cannot find the size of block device ${path}`);
  }
}
