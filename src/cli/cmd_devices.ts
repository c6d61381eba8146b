/*
 * Device administration, with the original's options and messages:
 *
 *   scoutfs resize-devices [-p PATH] [-m SIZE] [-d SIZE]
 *       online: the mount's server grows the devices in one committed
 *       transaction (sizes are truncated down to whole blocks, with a
 *       note; 0 or the current size changes nothing; shrinking refused)
 *   scoutfs change-format-version [-V VERS] -F META DATA
 *   scoutfs change-quorum-config -Q NR,ADDR,PORT ... -F META
 *   scoutfs prepare-empty-data-device [-c] META DATA
 *       offline: they write super blocks directly, so they refuse a
 *       device a mount daemon holds (its claim, device_lock.ts, which
 *       they take themselves for the duration so no mount can start
 *       meanwhile) and a filesystem that was not cleanly unmounted
 *       (mounted clients or open log trees in the super block).
 *
 * Super block writes go to the copy not in use first, then to the other,
 * both with the same seq: a crash between them leaves one consistent
 * super block either way.
 */
import { requestMount } from "../control/client.js";
import { selectedPath } from "../control/locate.js";
import { FileBlockDevice, type BlockDevice } from "../block/device.js";
import { checkDataSuper, readSuper, writeDataSuper, writeSuper } from "../block/super.js";
import { readAllLogTrees } from "../forest/forest.js";
import { MetaStore } from "../block/store.js";
import { btreeNext } from "../btree/btree.js";
import { KEY_MAX, KEY_MIN } from "../format/key.js";
import {
  BLOCK_LG_SHIFT, BLOCK_LG_SIZE, DATA_BLOCK_SHIFT, DATA_BLOCK_SIZE, DATA_FIRST_BLKNO, FORMAT_VERSION_MAX, FORMAT_VERSION_MIN,
} from "../format/constants.js";
import { LOG_TREES_FLAG_FINALIZED, type SuperBlock } from "../format/structs.js";
import { claimDevice } from "./device_lock.js";
import { usableLogDir } from "./daemon.js";
import { formatBaseSize } from "./devices.js";
import { UsageError, parseQuorumSlot, parseSizeU64, parseU64Number, quorumSlotTable, validateQuorumSlots } from "./parse.js";
import { FsError } from "../util/errors.js";

type Out = (line: string) => void;

/* ---- resize-devices ---- */

export async function resizeDevicesCommand(o: { path?: string; metaSize?: string; dataSize?: string }, out: Out): Promise<void> {
  const meta = o.metaSize === undefined ? 0n : parseSizeU64(o.metaSize);
  const data = o.dataSize === undefined ? 0n : parseSizeU64(o.dataSize);
  const lg = BigInt(BLOCK_LG_SIZE);
  const sm = BigInt(DATA_BLOCK_SIZE);
  if (meta % lg !== 0n) out(`metadata device size ${meta} is not a multiple of ${BLOCK_LG_SIZE} metadata block size, truncating down to ${meta - (meta % lg)} byte size`);
  if (data % sm !== 0n) out(`data device size ${data} is not a multiple of ${DATA_BLOCK_SIZE} data block size, truncating down to ${data - (data % sm)} byte size`);
  await requestMount(selectedPath(o.path), "resizeDevices", {
    metaBlocks: (meta >> BigInt(BLOCK_LG_SHIFT)).toString(),
    dataBlocks: (data >> BigInt(DATA_BLOCK_SHIFT)).toString(),
  });
}

/* ---- the offline commands ---- */

async function openDevice(path: string, what: string, writable: boolean): Promise<BlockDevice> {
  try {
    return await FileBlockDevice.open(path, undefined, writable);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FsError(err.code === "ENOENT" ? "ENOENT" : "EIO", `failed to open ${what} device '${path}': ${err.message}`);
  }
}

/**
 * Run fn with the metadata device claimed (no daemon holds it and none
 * can start meanwhile) and its super block read, refusing a filesystem
 * that was not cleanly unmounted.
 */
async function offline<T>(metaPath: string, what: string, fn: (meta: BlockDevice, sb: SuperBlock, copy: number) => Promise<T>): Promise<T> {
  const claim = await claimDevice(usableLogDir(), metaPath, `(offline ${what})`, 0, () => true);
  try {
    const meta = await openDevice(metaPath, "meta", true);
    try {
      const { super: sb, copy } = await readSuper(meta);
      const store = new MetaStore(meta, sb.fsid, 16 << 20);
      const open = (await readAllLogTrees(store, sb.logsRoot)).filter((lt) => !(lt.flags & LOG_TREES_FLAG_FINALIZED));
      if ((await btreeNext(store, sb.mountedClients, KEY_MIN, KEY_MAX)) || open.length > 0) {
        throw new FsError("EBUSY", `The filesystem must be fully recovered and cleanly unmounted to ${what}`);
      }
      return await fn(meta, sb, copy);
    } finally {
      await meta.close();
    }
  } finally {
    claim.release();
  }
}

/** the super block into both copies, the one not in use first */
async function writeBothSupers(meta: BlockDevice, sb: SuperBlock, copy: number): Promise<void> {
  await writeSuper(meta, sb, copy ^ 1);
  await meta.sync();
  await writeSuper(meta, sb, copy);
  await meta.sync();
}

function sizeText(nr: number, blockSize: number): string {
  const h = formatBaseSize(nr * blockSize);
  const m = /^([\d.]+)(\D+)$/.exec(h)!;
  return `${nr} (${m[1]} ${m[2]})`;
}

export interface ChangeFormatVersionArgs {
  devices: string[];
  formatVersion?: string;
  offline?: boolean;
}

export async function changeFormatVersionCommand(a: ChangeFormatVersionArgs, out: Out): Promise<void> {
  let vers = FORMAT_VERSION_MAX;
  if (a.formatVersion !== undefined) {
    vers = parseU64Number(a.formatVersion);
    if (vers < FORMAT_VERSION_MIN || vers > FORMAT_VERSION_MAX) {
      throw new UsageError(`format-version ${vers} is outside supported range of ${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}`);
    }
  }
  if (a.devices.length > 2) throw new UsageError("more than two device arguments given");
  if (!a.offline) throw new UsageError("must specify --offline");
  const [metaPath, dataPath] = a.devices;
  if (metaPath === undefined) throw new UsageError("no metadata device argument given");
  if (dataPath === undefined) throw new UsageError("no data device argument given");
  await offline(metaPath, "change the format version", async (meta, sb, copy) => {
    const data = await openDevice(dataPath, "data", true);
    try {
      await checkDataSuper(data, sb.fsid).catch(() => {
        throw new FsError("EINVAL", "device argument #2 is not a data device of this filesystem (swap arguments?)");
      });
      if (sb.formatVersion === vers) {
        out(`both metadata and data device format version are already ${vers}, nothing to do.`);
        return;
      }
      if (vers < sb.formatVersion) {
        throw new FsError("EINVAL", `Downgrade of Meta Format Version: ${sb.formatVersion} and Data Format Version: ${sb.formatVersion} to Format Version: ${vers} is not allowed`);
      }
      const next = { ...sb, formatVersion: vers };
      await writeBothSupers(meta, next, copy);
      try {
        await writeDataSuper(data, next);
        await data.sync();
      } catch (e) {
        throw new FsError("EIO", `Error writing data super block after writing the meta super block.  The two super blocks may now be out of sync which would prevent mounting.  Correct the source of the write error and retry changing the version to write both super blocks. (${(e as Error).message})`);
      }
      out("Successfully updated format version for scoutfs filesystem:");
      out(`  meta device path:     ${metaPath}`);
      out(`  data device path:     ${dataPath}`);
      out(`  fsid:                 ${sb.fsid.toString(16)}`);
      out(`  format version:       ${vers}`);
    } finally {
      await data.close();
    }
  });
}

export interface ChangeQuorumConfigArgs {
  devices: string[];
  quorumSlot: string[];
  offline?: boolean;
}

export async function changeQuorumConfigCommand(a: ChangeQuorumConfigArgs, out: Out): Promise<void> {
  if (a.devices.length > 1) throw new UsageError("more than one metadata device argument given");
  if (!a.offline) throw new UsageError("must specify --offline");
  const metaPath = a.devices[0];
  if (metaPath === undefined) throw new UsageError("no metadata device argument given");
  const slots = validateQuorumSlots(a.quorumSlot.map(parseQuorumSlot));
  await offline(metaPath, "change the quorum config", async (meta, sb, copy) => {
    await writeBothSupers(meta, { ...sb, quorumSlots: quorumSlotTable(slots) }, copy);
    out("Successfully changed quorum config for scoutfs filesystem:");
    out(`  meta device path:       ${metaPath}`);
    out(`  fsid:                   ${sb.fsid.toString(16)}`);
    slots.forEach((s, i) => out(`${i === 0 ? "  quorum slots:           " : "                          "}${s.nr}: ${s.addr}:${s.port}`));
  });
}

export interface PrepareEmptyDataDeviceArgs {
  devices: string[];
  check?: boolean;
}

export async function prepareEmptyDataDeviceCommand(a: PrepareEmptyDataDeviceArgs, out: Out, err: Out): Promise<void> {
  if (a.devices.length > 2) throw new UsageError("more than two device arguments given");
  const [metaPath, dataPath] = a.devices;
  if (metaPath === undefined) throw new UsageError("no metadata device argument given");
  if (dataPath === undefined && !a.check) throw new UsageError("no data device argument given");
  await offline(metaPath, "determine if the data device is empty.", async (_meta, sb) => {
    const problems: string[] = [];
    const used = sb.totalDataBlocks - DATA_FIRST_BLKNO - sb.dataAlloc.totalLen;
    if (used > 0) {
      problems.push(`Data block allocator metadata shows ${sizeText(used, DATA_BLOCK_SIZE)} data blocks used by files.  They must be removed, truncated, or released before a new empty data device can be used.`);
    }
    let data: BlockDevice | undefined;
    try {
      if (dataPath !== undefined) {
        data = await openDevice(dataPath, "data", !a.check);
        const have = Math.floor(data.sizeBytes() / DATA_BLOCK_SIZE);
        if (have < sb.totalDataBlocks) {
          problems.push(`new data device ${dataPath} of size ${formatBaseSize(data.sizeBytes())} has ${have} 4KiB blocks, it needs at least ${sizeText(sb.totalDataBlocks, DATA_BLOCK_SIZE)} blocks.`);
        }
      }
      for (const p of problems) err(p);
      if (a.check) {
        out(problems.length === 0 ? "All checks passed." : "Errors were found that must be addressed before a new empty data device could be prepared and used.");
        if (problems.length > 0) throw new FsError("EINVAL", `${problems.length} problem${problems.length > 1 ? "s" : ""} found`);
        return;
      }
      if (problems.length > 0) throw new FsError("EINVAL", "the new data device cannot be used (see above)");
      await writeDataSuper(data!, sb);
      await data!.sync();
      out("Successfully initialized empty data device for scoutfs filesystem:");
      out(`  meta device path:       ${metaPath}`);
      out(`  data device path:       ${dataPath}`);
      out(`  fsid:                   ${sb.fsid.toString(16)}`);
      out(`  format version:         ${sb.formatVersion}`);
      out(`  64KB metadata blocks:   ${sizeText(sb.totalMetaBlocks, BLOCK_LG_SIZE)}`);
      out(`  4KB data blocks:        ${sizeText(sb.totalDataBlocks, DATA_BLOCK_SIZE)}`);
    } finally {
      await data?.close();
    }
  });
}
