/*
 * Opening the devices that mkfs writes, and recognizing what is already
 * on them.
 *
 * A "device" is a block device node or a regular file (an image).
 * Images are the common case in tests and experiments, so mkfs may
 * create a missing image as a sparse file when given a size, and grows
 * an existing image sparsely when asked for more than it holds.  Block
 * devices are opened exclusively (O_EXCL), so a mounted or otherwise
 * claimed device is refused by the kernel, and their size comes from
 * sysfs since Node has no BLKGETSIZE64 ioctl.
 *
 * Unless forced, mkfs refuses a device that already carries a known
 * signature in its first 192 KiB: another filesystem, a partition
 * table, or a scoutfs super block.  detectSignature() is a pure function
 * of those bytes; it only knows the handful of signatures listed below
 * and is no substitute for libblkid, but it catches the usual mistakes.
 *
 * All failures are UsageErrors carrying the one line the CLI prints.
 */
import { open, readFile, stat, type FileHandle } from "node:fs/promises";
import { constants as fsConstants, type BigIntStats } from "node:fs";
import { getSystemErrorMap } from "node:util";
import { basename } from "node:path";
import { BLOCK_MAGIC } from "../format/constants.js";
import { UsageError } from "./parse.js";

export interface MkfsDevice {
  fh: FileHandle;
  path: string;
  /** the number of bytes mkfs may use */
  sizeBytes: number;
  isBlockDevice: boolean;
  /** a missing image file was created */
  created: boolean;
  /** informational lines for the user (size limits, growth) */
  notes: string[];
}

export interface OpenDeviceOptions {
  /** "meta" or "data", used in messages */
  which?: string;
  /** skip the existing signature check (mkfs -f) */
  force?: boolean;
}

/** how much of the start of a device detectSignature() looks at */
export const SIGNATURE_PROBE_BYTES = 192 * 1024;

/** "No such file or directory (2)" for a Node system error */
function describeErrno(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err.errno === "number") {
    const n = Math.abs(err.errno);
    const msg = getSystemErrorMap().get(-n)?.[1] ?? err.code ?? "unknown error";
    return `${msg.charAt(0).toUpperCase()}${msg.slice(1)} (${n})`;
  }
  return String(err.message ?? e);
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

/** Bytes as the original prints them: two decimals and a binary unit. */
export function formatBaseSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
  let x = bytes;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(2)}${units[i]}`;
}

/** major:minor of a Linux dev_t */
function devMajorMinor(dev: bigint): [bigint, bigint] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [major, minor];
}

/** The size in bytes of a block device, from its 512-byte sector count in sysfs. */
export async function blockDeviceBytes(path: string, st: BigIntStats): Promise<number> {
  const [major, minor] = devMajorMinor(st.rdev);
  const candidates = [`/sys/dev/block/${major}:${minor}/size`, `/sys/class/block/${basename(path)}/size`];
  for (const f of candidates) {
    try {
      const sectors = BigInt((await readFile(f, "utf8")).trim());
      const bytes = sectors * 512n;
      if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new UsageError(`device '${path}' is too large (${bytes} bytes)`);
      }
      return Number(bytes);
    } catch (e) {
      if (e instanceof UsageError) throw e;
    }
  }
  throw new UsageError(`BLKGETSIZE64 failed '${path}': could not read size of ${major}:${minor} from /sys`);
}

/*
 * Open a device for mkfs, read-write.  A missing path is created as a
 * sparse image of sizeBytes if given.  For an image, sizeBytes (when
 * given) is the size to use: a larger size grows the file sparsely, a
 * smaller one leaves the file alone and uses only its start.  For a
 * block device sizeBytes is a limit: the device's own size is used if
 * it is smaller.  Unless opts.force, a device with a known signature is
 * refused (and closed).
 */
export async function openDeviceForMkfs(
  path: string,
  sizeBytes: number | undefined,
  opts: OpenDeviceOptions = {},
): Promise<MkfsDevice> {
  const devDesc = opts.which ? `${opts.which} dev` : "dev";
  const useType = opts.which ? `${opts.which} ` : "";
  if (sizeBytes !== undefined && (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0)) {
    throw new UsageError(`invalid size ${sizeBytes} for ${devDesc} '${path}'`);
  }

  let st: BigIntStats | undefined;
  try {
    st = await stat(path, { bigint: true });
  } catch (e) {
    if (!isErrno(e, "ENOENT") || sizeBytes === undefined) {
      throw new UsageError(`failed to open ${devDesc} '${path}': ${describeErrno(e)}`);
    }
  }

  const notes: string[] = [];
  let fh: FileHandle;
  let created = false;
  let isBlockDevice = false;
  let size: number;

  if (st === undefined) {
    // missing, and we know how big to make it
    try {
      fh = await open(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
    } catch (e) {
      throw new UsageError(`failed to create ${devDesc} '${path}': ${describeErrno(e)}`);
    }
    created = true;
    size = sizeBytes!;
    try {
      await fh.truncate(size);
    } catch (e) {
      await fh.close();
      throw new UsageError(`failed to size ${devDesc} '${path}' to ${size} bytes: ${describeErrno(e)}`);
    }
    notes.push(`Created sparse ${useType}device file '${path}' of ${formatBaseSize(size)}`);
    // a brand new file holds nothing to detect
    return { fh, path, sizeBytes: size, isBlockDevice, created, notes };
  }

  if (st.isFile()) {
    try {
      fh = await open(path, fsConstants.O_RDWR);
    } catch (e) {
      throw new UsageError(`failed to open ${devDesc} '${path}': ${describeErrno(e)}`);
    }
    const fileSize = Number(st.size);
    size = fileSize;
    if (sizeBytes !== undefined && sizeBytes > fileSize) {
      try {
        await fh.truncate(sizeBytes);
      } catch (e) {
        await fh.close();
        throw new UsageError(`failed to extend ${devDesc} '${path}' to ${sizeBytes} bytes: ${describeErrno(e)}`);
      }
      notes.push(
        `Extended ${useType}device file '${path}' from ${formatBaseSize(fileSize)} to ${formatBaseSize(sizeBytes)}`,
      );
      size = sizeBytes;
    } else if (sizeBytes !== undefined && sizeBytes < fileSize) {
      notes.push(`Limiting use of ${formatBaseSize(fileSize)} ${useType}device to ${formatBaseSize(sizeBytes)}`);
      size = sizeBytes;
    }
  } else if (st.isBlockDevice()) {
    isBlockDevice = true;
    try {
      // O_EXCL on a block device: fail with EBUSY if it is mounted or claimed
      fh = await open(path, fsConstants.O_RDWR | fsConstants.O_EXCL);
    } catch (e) {
      throw new UsageError(`failed to open ${devDesc} '${path}': ${describeErrno(e)}`);
    }
    try {
      size = await blockDeviceBytes(path, st);
    } catch (e) {
      await fh.close();
      throw e;
    }
    if (sizeBytes !== undefined && sizeBytes < size) {
      notes.push(`Limiting use of ${formatBaseSize(size)} ${useType}device to ${formatBaseSize(sizeBytes)}`);
      size = sizeBytes;
    } else if (sizeBytes !== undefined && sizeBytes > size) {
      notes.push(
        `Device size limit of ${formatBaseSize(sizeBytes)} for ${useType}device is greater than ` +
          `${formatBaseSize(size)} available, ignored.`,
      );
    }
  } else {
    throw new UsageError(`path isn't regular or device file '${path}'`);
  }

  if (!opts.force) {
    try {
      const head = await readHead(fh, SIGNATURE_PROBE_BYTES);
      const sig = detectSignature(head);
      if (sig) throw new UsageError(signatureMessage(path, sig));
    } catch (e) {
      await fh.close();
      if (e instanceof UsageError) throw e;
      throw new UsageError(`failed to read ${devDesc} '${path}': ${describeErrno(e)}`);
    }
  }

  return { fh, path, sizeBytes: size, isBlockDevice, created, notes };
}

/** Up to len bytes from the start of a file (fewer if it is shorter). */
async function readHead(fh: FileHandle, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const { bytesRead } = await fh.read(buf, done, len - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/* ------------------------------------------------------------------ */
/* signatures                                                          */

export interface DeviceSignature {
  /** a filesystem (or volume) superblock, or a partition table */
  kind: "filesystem" | "partition-table";
  /** blkid's name for it: ext4, xfs, btrfs, swap, LVM2_member, gpt, dos, or ScoutFS */
  type: string;
}

/** byte offsets of the two super block copies (small blocks 16 and 17) */
export const SCOUTFS_SUPER_OFFSETS = [65536, 69632] as const;

function bytesAt(buf: Buffer, off: number, text: string): boolean {
  return buf.length >= off + text.length && buf.toString("latin1", off, off + text.length) === text;
}

function u16At(buf: Buffer, off: number): number | undefined {
  return buf.length >= off + 2 ? buf.readUInt16LE(off) : undefined;
}

function u32At(buf: Buffer, off: number): number | undefined {
  return buf.length >= off + 4 ? buf.readUInt32LE(off) : undefined;
}

/* ext2, ext3 or ext4, judged by feature flags the way blkid does */
function extFlavour(buf: Buffer): string {
  const sb = 1024;
  const compat = u32At(buf, sb + 0x5c) ?? 0;
  const incompat = u32At(buf, sb + 0x60) ?? 0;
  const roCompat = u32At(buf, sb + 0x64) ?? 0;
  const EXT3_INCOMPAT = 0x0002 | 0x0004 | 0x0010; // filetype, recover, meta_bg
  const EXT3_RO_COMPAT = 0x0001 | 0x0002 | 0x0004; // sparse_super, large_file, btree_dir
  if (incompat & 0x0008) return "jbd"; // an external journal device
  if (incompat & ~EXT3_INCOMPAT || roCompat & ~EXT3_RO_COMPAT) return "ext4";
  if (compat & 0x0004) return "ext3"; // has_journal
  return "ext2";
}

/**
 * The known signature in the first bytes of a device (192 KiB are
 * enough for all of them), or null.  Filesystems are reported before
 * partition tables, as blkid does; a scoutfs super block comes last.
 */
export function detectSignature(buf: Buffer): DeviceSignature | null {
  const fs = (type: string): DeviceSignature => ({ kind: "filesystem", type });
  const pt = (type: string): DeviceSignature => ({ kind: "partition-table", type });

  if (u16At(buf, 1080) === 0xef53) return fs(extFlavour(buf));
  if (bytesAt(buf, 0, "XFSB")) return fs("xfs");
  if (bytesAt(buf, 65600, "_BHRfS_M")) return fs("btrfs");
  if (bytesAt(buf, 4086, "SWAPSPACE2") || bytesAt(buf, 4086, "SWAP-SPACE")) return fs("swap");
  if (bytesAt(buf, 512, "LABELONE")) return fs("LVM2_member");

  if (bytesAt(buf, 512, "EFI PART")) return pt("gpt");
  if (u16At(buf, 510) === 0xaa55) return pt("dos");

  // this implementation's block header starts with the magic; the
  // original's starts with a crc and then the magic: recognize both
  for (const off of SCOUTFS_SUPER_OFFSETS) {
    if (u32At(buf, off) === BLOCK_MAGIC.super || u32At(buf, off + 4) === BLOCK_MAGIC.super) return fs("ScoutFS");
  }
  return null;
}

/** The line mkfs prints when it refuses a device with a signature. */
export function signatureMessage(path: string, sig: DeviceSignature): string {
  return sig.kind === "partition-table"
    ? `${path}: appears to contain a partition table (${sig.type})`
    : `${path}: appears to contain an existing ${sig.type} superblock`;
}
