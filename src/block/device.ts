/*
 * BlockDevice: the only way any layer touches a device.  Byte offsets and
 * lengths, async, plus sync (a barrier: everything written before it is
 * durable when it returns).  Two implementations: FileBlockDevice over a
 * regular file or a block device node, and MemBlockDevice (in
 * sim_device.ts) whose crash() loses or tears unsynced writes so tests
 * can cut the power at any point.
 *
 * Invariant: no layer keeps its own file descriptor; devices are opened
 * here and closed here.
 */
import { open, type FileHandle } from "node:fs/promises";
import { FsError } from "../util/errors.js";

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
  ) {}

  /** wrap a handle someone else opened (mkfs opens devices exclusively itself) */
  static fromHandle(path: string, fh: FileHandle, sizeBytes: number): FileBlockDevice {
    return new FileBlockDevice(path, fh, sizeBytes);
  }

  static async open(path: string, sizeBytes?: number, writable = true): Promise<FileBlockDevice> {
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
    return new FileBlockDevice(path, fh, size);
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
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
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async sync(): Promise<void> {
    await this.fh.datasync();
  }

  sizeBytes(): number {
    return this.size;
  }

  async close(): Promise<void> {
    await this.fh.close();
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
