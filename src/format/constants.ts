/*
 * Constants of the persistent format: sizes, magic numbers, zones and
 * types of keys, limits.  Every number that is written to a device or
 * that bounds what may be written lives here, and docs/format.md is the
 * prose table of the same.  Each limit carries its reason.
 */

export const FORMAT_VERSION_MIN = 1;
export const FORMAT_VERSION_MAX = 2;
/** the format version that brought retention, project ids, quotas and the indx. xattr tag (as the original's) */
export const FORMAT_VERSION_FEAT_V2 = 2;

/** statfs f_type ("SCOU"); never written to a device (blocks start with their BLOCK_MAGIC) */
export const SUPER_MAGIC = 0x554f4353;

export const BLOCK_MAGIC = {
  super: 0x103c428b,
  btree: 0xe597f96d,
  allocList: 0x8a93ac83,
  quorum: 0xbc310868,
  dataSuper: 0x5d4a7c11,
} as const;

/** small blocks: the super blocks and quorum blocks, written atomically by sector-sized devices */
export const BLOCK_SM_SHIFT = 12;
export const BLOCK_SM_SIZE = 1 << BLOCK_SM_SHIFT;
/** large blocks: every metadata block that holds items or lists */
export const BLOCK_LG_SHIFT = 16;
export const BLOCK_LG_SIZE = 1 << BLOCK_LG_SHIFT;
/** file data is stored in 4 KiB blocks on the data device */
export const DATA_BLOCK_SHIFT = 12;
export const DATA_BLOCK_SIZE = 1 << DATA_BLOCK_SHIFT;

/*
 * Layout of the metadata device, in small block numbers: the first 64
 * KiB are left alone (partition tables, other signatures), then two
 * copies of the super block (written alternately, so a torn write of
 * one leaves the other), then one quorum block per slot.  Large blocks
 * start after that.
 */
export const SUPER_SM_BLKNOS = [16, 17] as const;
export const QUORUM_MAX_SLOTS = 15;
export const QUORUM_SM_BLKNO = 18;
/** first large (64 KiB) block that may hold metadata: byte 192 KiB */
export const META_FIRST_LG_BLKNO = 3;
/** data device: its own super block copy at small block 16, data from byte 192 KiB */
export const DATA_SUPER_SM_BLKNO = 16;
export const DATA_FIRST_BLKNO = 48;

/** the smallest devices mkfs accepts without -A (the original's limits) */
export const META_DEV_MIN_BYTES = 16 * 1024 ** 3;
export const DATA_DEV_MIN_BYTES = 8 * 1024 ** 3;
/** the smallest devices mkfs accepts at all: room for what mkfs writes and a working allocator (16 MiB) */
export const META_DEV_ABS_MIN_BYTES = 256 * BLOCK_LG_SIZE;
export const DATA_DEV_ABS_MIN_BYTES = (DATA_FIRST_BLKNO + 256) * DATA_BLOCK_SIZE;

/** 32 bytes: magic u32, crc u32, fsid u64, blkno u64, seq u64 */
export const BLOCK_HEADER_BYTES = 32;

/** btree limits: a value fits many times in a block so splits always succeed */
export const BTREE_MAX_VAL_LEN = 896;
/** 20 levels of at least ~hundreds of items per block exceed any device */
export const BTREE_MAX_HEIGHT = 20;

/*
 * Zones, in key order.  The fs zone holds the namespace; the zones before
 * it hold indexes that are read across inodes; the server zones are only
 * in the server's btrees.
 */
export const ZONE = {
  inodeIndex: 4,
  orphan: 8,
  quota: 10,
  xattrTotl: 12,
  xattrSrch: 13,
  xattrIndx: 14,
  fs: 16,
  lock: 20,
  logTrees: 24,
  mountedClient: 28,
  srch: 32,
  freeExtentBlkno: 36,
  freeExtentOrder: 40,
  logMergeStatus: 44,
  logMergeRange: 48,
  logMergeRequest: 52,
  logMergeComplete: 56,
  logMergeFreeing: 60,
} as const;

/** types within the inode index zone */
export const INODE_INDEX_TYPE = { metaSeq: 4, dataSeq: 8 } as const;
/** type within the orphan zone */
export const ORPHAN_TYPE = 4;
/** type within the quota zone */
export const QUOTA_RULE_TYPE = 4;
/** types within the fs zone: the items of one inode sort together by type */
export const FS_TYPE = {
  inode: 4,
  xattr: 8,
  dirent: 12,
  readdir: 16,
  linkBackref: 20,
  symlink: 24,
  dataExtent: 28,
} as const;
/** types within the mounted client zone: the client itself, and metadata blocks lent to it mid-transaction */
export const MOUNTED_CLIENT_TYPE = { client: 0, lentMeta: 4 } as const;
/** block numbers per lent-blocks item: 8 bytes each within BTREE_MAX_VAL_LEN */
export const LENT_BLKNOS_PER_ITEM = 100;
/** type within the lock zone */
export const RENAME_TYPE = 4;
/** types within the srch zone */
export const SRCH_TYPE = { log: 4, blocks: 8, pending: 12, busy: 16 } as const;

/** item flags stored beside each item in a btree leaf */
export const ITEM_FLAG_DELETION = 1;

/** filesystem limits */
export const NAME_MAX = 255;
export const SYMLINK_MAX_SIZE = 4096;
export const LINK_MAX = 0x7fff_ffff;
export const XATTR_MAX_NAME_LEN = 255;
export const XATTR_MAX_VAL_LEN = 65535;
export const XATTR_MAX_PART_SIZE = BTREE_MAX_VAL_LEN;
/** readdir positions 0 and 1 are "." and ".."; real entries start at 2 */
export const DIRENT_FIRST_POS = 2;
export const DIRENT_LAST_POS = Number.MAX_SAFE_INTEGER - 1;
export const ROOT_INO = 1;
/** sizes and offsets are kept below 2^53 so they are exact JS numbers */
export const MAX_FILE_BYTES = Number.MAX_SAFE_INTEGER - DATA_BLOCK_SIZE + 1;
