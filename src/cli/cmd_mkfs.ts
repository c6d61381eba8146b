/*
 * `scoutfs mkfs`: argument checks, device opening and size limits, then
 * writeNewFilesystem.  Every check happens before the first write, so a
 * refused mkfs leaves the devices as they were (and removes an image
 * file it created itself).
 */
import { rm } from "node:fs/promises";
import {
  BLOCK_LG_SIZE, DATA_BLOCK_SIZE, DATA_DEV_ABS_MIN_BYTES, DATA_DEV_MIN_BYTES, FORMAT_VERSION_MAX, FORMAT_VERSION_MIN,
  META_DEV_ABS_MIN_BYTES, META_DEV_MIN_BYTES,
} from "../format/constants.js";
import { FileBlockDevice } from "../block/device.js";
import { writeNewFilesystem } from "./mkfs_core.js";
import { formatBaseSize, openDeviceForMkfs, type MkfsDevice } from "./devices.js";
import { UsageError, parseQuorumSlot, parseSize, parseU64Number, quorumSlotTable, validateQuorumSlots, type QuorumSlotSpec } from "./parse.js";

export interface MkfsCliArgs {
  metaPath: string;
  dataPath: string;
  quorumSlot: string[];
  maxMetaSize?: string;
  maxDataSize?: string;
  dataAllocZoneBlocks?: string;
  force?: boolean;
  allowSmallSize?: boolean;
  formatVersion?: string;
}

function sizeFmt(nr: number, blockSize: number): string {
  const h = formatBaseSize(nr * blockSize);
  const m = /^([\d.]+)(\D+)$/.exec(h)!;
  return `${nr} (${m[1]} ${m[2]})`;
}

export async function mkfsCommand(a: MkfsCliArgs, out: (s: string) => void, warn: (s: string) => void): Promise<void> {
  const slots: QuorumSlotSpec[] = validateQuorumSlots(a.quorumSlot.map(parseQuorumSlot));
  const metaLimit = a.maxMetaSize !== undefined ? parseSize(a.maxMetaSize) : undefined;
  const dataLimit = a.maxDataSize !== undefined ? parseSize(a.maxDataSize) : undefined;
  let fmt = FORMAT_VERSION_MAX;
  if (a.formatVersion !== undefined) {
    fmt = parseU64Number(a.formatVersion);
    if (fmt < FORMAT_VERSION_MIN || fmt > FORMAT_VERSION_MAX) {
      throw new UsageError(`format-version ${fmt} is outside supported range of ${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}`);
    }
  }
  let zone: number | undefined;
  if (a.dataAllocZoneBlocks !== undefined) {
    zone = parseU64Number(a.dataAllocZoneBlocks);
    if (zone === 0) throw new UsageError("must provide non-zero data-alloc-zone-blocks");
  }

  const opened: MkfsDevice[] = [];
  let ok = false;
  try {
    const meta = await openDeviceForMkfs(a.metaPath, metaLimit, { which: "meta", force: a.force });
    opened.push(meta);
    const data = await openDeviceForMkfs(a.dataPath, dataLimit, { which: "data", force: a.force });
    opened.push(data);
    checkSize(meta.sizeBytes, META_DEV_MIN_BYTES, META_DEV_ABS_MIN_BYTES, "meta", !!a.allowSmallSize, warn);
    checkSize(data.sizeBytes, DATA_DEV_MIN_BYTES, DATA_DEV_ABS_MIN_BYTES, "data", !!a.allowSmallSize, warn);
    const totalData = Math.floor(data.sizeBytes / DATA_BLOCK_SIZE);
    if (zone !== undefined && zone > totalData) {
      throw new UsageError(`setting data_alloc_zone_blocks to '${zone}' failed, must be at most ${totalData} total data device blocks`);
    }
    const metaDev = FileBlockDevice.fromHandle(meta.path, meta.fh, meta.sizeBytes);
    const dataDev = FileBlockDevice.fromHandle(data.path, data.fh, data.sizeBytes);
    const sb = await writeNewFilesystem({
      meta: metaDev, data: dataDev, quorumSlots: quorumSlotTable(slots), formatVersion: fmt, dataAllocZoneBlocks: zone,
    });
    for (const n of [...meta.notes, ...data.notes]) out(n);
    out("Created scoutfs filesystem:");
    out(`  meta device path:       ${a.metaPath}`);
    out(`  data device path:       ${a.dataPath}`);
    out(`  fsid:                   ${sb.fsid.toString(16)}`);
    out(`  format version:         ${sb.formatVersion}`);
    out(`  64KB metadata blocks:   ${sizeFmt(sb.totalMetaBlocks, BLOCK_LG_SIZE)}`);
    out(`  4KB data blocks:        ${sizeFmt(sb.totalDataBlocks, DATA_BLOCK_SIZE)}`);
    slots.forEach((s, i) => out(`${i === 0 ? "  quorum slots:           " : "                          "}${s.nr}: ${s.addr}:${s.port}`));
    ok = true;
  } finally {
    for (const d of opened) {
      await d.fh.close().catch(() => undefined);
      if (!ok && d.created) await rm(d.path, { force: true });
    }
  }
}

function checkSize(size: number, min: number, absMin: number, which: string, allow: boolean, warn: (s: string) => void): void {
  if (size < min) {
    const msg = `${formatBaseSize(size)} too small for min ${formatBaseSize(min)} ${which} device${allow ? ", allowing with -A" : ""}`;
    if (!allow) throw new UsageError(msg);
    warn(msg);
  }
  if (size < absMin) throw new UsageError(`${formatBaseSize(size)} ${which} device is smaller than the ${formatBaseSize(absMin)} scoutfs needs at the least`);
}
