/*
 * A mount's answers to control requests, and starting its control server.
 *
 * statfs: what the original's statfs_more ioctl reported.  fsid and sizes
 * come from the server's last committed super block; committed_seq is the
 * committed seq the server reports (the greatest transaction seq whose
 * items a commit has made durable).  With one mount that is exactly "every
 * seq up to it is committed"; once several mounts commit, the server must
 * answer with the seq below the oldest transaction still open anywhere,
 * as the original's get_last_seq does.
 *
 * counters: the process's counter registry, which in a daemon is this
 * mount's.
 *
 * walkInodes: one batch of an inode index walk from committed items
 * (client/walk_inodes.ts); the command asks again from after the last
 * entry until a batch comes back empty.
 *
 * stat, inoPath, referringEntries, allocatedInos: an inode's scoutfs
 * fields, and from an inode number to its names (fs/inode_paths.ts), with
 * the original's permission checks (stat needs what opening the file for
 * reading needs; the others CAP_DAC_READ_SEARCH or CAP_SYS_ADMIN).
 *
 * The archive commands' ops are archive_control.ts's, the xattr tag
 * commands' xattr_control.ts's, get/set-attr-x attr_x_control.ts's, the quota commands'
 * quota_control.ts's.
 *
 * Handlers get a MountControlContext: the mount, and a way to drop what
 * the kernel caches of an inode when an op changes it behind the kernel's
 * back (FUSE notify inval inode; a no-op without FUSE).
 *
 * startMountControl() runs once FUSE is mounted: it looks the mount point
 * up in mountinfo to learn the device number that names the socket
 * (locate.ts).
 */
import type { Mount } from "../client/mount.js";
import { counters } from "../util/counters.js";
import { FsError } from "../util/errors.js";
import { U64_MAX } from "../format/key.js";
import { walkInodes, type WalkEntry } from "../client/walk_inodes.js";
import { indexPosToWire, type IndexPos, type WalkInodesArgs } from "./protocol.js";
import { controlSocketPathForDaemon, devOfScoutfsMountPoint } from "./locate.js";
import { ControlServer, type ControlHandlers } from "./server.js";
import type { ControlAuthenticator } from "./auth.js";
import { MAY_READ, requireAccess, requireDacReadSearch, requireSysAdmin } from "./caller.js";
import { argsObject, u64Arg, uintArg } from "./args.js";
import { archiveControlHandlers } from "./archive_control.js";
import { xattrControlHandlers } from "./xattr_control.js";
import { attrXControlHandlers } from "./attr_x_control.js";
import { quotaControlHandlers } from "./quota_control.js";

export interface MountControlContext {
  mount: Mount;
  /** drop the kernel's cached attributes and pages [off, off+len) of ino (len 0: all); a no-op without FUSE */
  invalidateInode(ino: number, off?: number, len?: number): Promise<void>;
}

/** a context for a mount not served by FUSE (tests, in-process use) */
export function unservedMountContext(m: Mount): MountControlContext {
  return { mount: m, invalidateInode: async () => {} };
}

/** most entries one referringEntries or allocatedInos answer carries */
const BATCH_MAX = 4096;

export function mountControlHandlers(ctx: MountControlContext): ControlHandlers {
  const m = ctx.mount;
  return {
    ...archiveControlHandlers(ctx),
    ...xattrControlHandlers(ctx),
    ...attrXControlHandlers(ctx),
    ...quotaControlHandlers(ctx),
    statfs: async () => {
      const s = await m.server.statfs();
      return {
        fsid: m.server.fsid.toString(),
        rid: m.rid.toString(),
        committedSeq: s.committedSeq,
        totalMetaBlocks: s.totalMetaBlocks,
        totalDataBlocks: s.totalDataBlocks,
        freeMetaBlocks: s.freeMetaBlocks,
        reservedMetaBlocks: s.reservedMetaBlocks,
        freeDataBlocks: s.freeDataBlocks,
      };
    },
    counters: async () => ({ counters: counters.snapshot() }),
    walkInodes: async (args) => {
      // the arguments come from any local process: check every field
      const a = args as Partial<WalkInodesArgs> | null;
      if (!a || (a.index !== "meta_seq" && a.index !== "data_seq")) throw new FsError("EINVAL", "walkInodes: index must be meta_seq or data_seq");
      const limit = typeof a.limit === "number" && Number.isSafeInteger(a.limit) ? Math.min(Math.max(a.limit, 0), WALK_LIMIT_MAX) : 0;
      const entries = await walkInodes(m.forest, a.index, toPos(a.first), toPos(a.last), limit);
      return { entries: entries.map(indexPosToWire) };
    },
    stat: async (args, caller) => {
      const ino = uintArg("stat", argsObject("stat", args), "ino", 1);
      const a = await m.fs.getattr(ino);
      requireAccess(caller, a, MAY_READ);
      return {
        metaSeq: a.metaSeq,
        dataSeq: a.dataSeq,
        dataVersion: a.dataVersion,
        onlineBlocks: a.onlineBlocks,
        offlineBlocks: a.offlineBlocks,
        crtime: a.crtime,
      };
    },
    inoPath: async (args, caller) => {
      requireDacReadSearch(caller);
      const o = argsObject("inoPath", args);
      const p = await m.fs.inoPath(uintArg("inoPath", o, "ino"), uintArg("inoPath", o, "dirIno"), uintArg("inoPath", o, "dirPos"));
      return p ? { dirIno: p.dir, dirPos: p.pos, pathB64: p.path.toString("base64") } : null;
    },
    referringEntries: async (args, caller) => {
      requireDacReadSearch(caller);
      const o = argsObject("referringEntries", args);
      const op = "referringEntries";
      const limit = Math.min(uintArg(op, o, "limit", 1), BATCH_MAX);
      const entries = await m.fs.referringEntries(uintArg(op, o, "ino"), uintArg(op, o, "dirIno"), uintArg(op, o, "dirPos"), limit);
      return { entries: entries.map((e) => ({ dirIno: e.dir, dirPos: e.pos, type: e.type, nameB64: e.name.toString("base64") })) };
    },
    allocatedInos: async (args, caller) => {
      requireSysAdmin(caller);
      const o = argsObject("allocatedInos", args);
      const limit = Math.min(uintArg("allocatedInos", o, "limit", 1), BATCH_MAX);
      return { inos: await m.fs.allocatedInos(uintArg("allocatedInos", o, "start"), limit) };
    },
    resizeDevices: async (args, caller) => {
      const o = argsObject("resizeDevices", args);
      const meta = u64Arg("resizeDevices", o, "metaBlocks");
      const data = u64Arg("resizeDevices", o, "dataBlocks");
      requireSysAdmin(caller);
      const max = BigInt(Number.MAX_SAFE_INTEGER);
      if (meta > max || data > max) throw new FsError("EINVAL", "resize: a size beyond any device");
      await m.resizeDevices(Number(meta), Number(data));
      return {};
    },
  };
}

/** most entries one walkInodes answer carries */
const WALK_LIMIT_MAX = 4096;

function toPos(p: unknown): WalkEntry {
  const u64 = (v: unknown): bigint => {
    if (typeof v !== "string" || !/^[0-9]{1,20}$/.test(v) || BigInt(v) > U64_MAX) throw new FsError("EINVAL", "walkInodes: positions are decimal u64 strings");
    return BigInt(v);
  };
  const o = p as Partial<IndexPos> | null;
  if (!o || typeof o.minor !== "number" || !Number.isInteger(o.minor) || o.minor < 0 || o.minor > 0xffffffff) {
    throw new FsError("EINVAL", "walkInodes: a position needs major, minor and ino");
  }
  return { major: u64(o.major), minor: o.minor, ino: u64(o.ino) };
}

/** serve a mount's control socket, named by the device number of mountpoint; null (logged) if it cannot start */
export async function startMountControl(
  ctx: MountControlContext,
  auth: ControlAuthenticator,
  mountpoint: string,
  log: (msg: string) => void,
): Promise<ControlServer | null> {
  try {
    const socketPath = controlSocketPathForDaemon(devOfScoutfsMountPoint(mountpoint));
    const server = await ControlServer.listen(socketPath, mountControlHandlers(ctx), auth, log);
    log(`scoutfs: control socket ${socketPath}`);
    return server;
  } catch (e) {
    log(`scoutfs: no control socket for ${mountpoint} (scoutfs statfs and counters will not reach it): ${(e as Error).message}`);
    return null;
  }
}

