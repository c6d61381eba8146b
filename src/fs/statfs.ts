/*
 * statfs: sizes in 4 KiB units over both devices (metadata blocks are
 * counted in 4 KiB units too, as the original does), and a files count
 * derived from metadata space (one inode per 2 KiB of metadata), since
 * scoutfs has no fixed inode table.
 */
import type { FsStorage } from "./storage.js";
import type { StatFs } from "./types.js";
import { BLOCK_LG_SIZE, DATA_BLOCK_SIZE, NAME_MAX, SUPER_MAGIC } from "../format/constants.js";

const BYTES_PER_FILE = 2048;

export function statfs(st: FsStorage): StatFs {
  const meta = st.metaBlocks();
  const metaToData = BLOCK_LG_SIZE / DATA_BLOCK_SIZE;
  const bfree = meta.free * metaToData + st.data.freeBlocks();
  return {
    type: SUPER_MAGIC,
    bsize: DATA_BLOCK_SIZE,
    frsize: DATA_BLOCK_SIZE,
    blocks: meta.total * metaToData + st.data.totalBlocks(),
    bfree,
    bavail: bfree,
    files: Math.floor((meta.total * BLOCK_LG_SIZE) / BYTES_PER_FILE),
    ffree: Math.floor((meta.free * BLOCK_LG_SIZE) / BYTES_PER_FILE),
    namelen: NAME_MAX,
    fsid: st.fsid,
  };
}
