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

export function mountControlHandlers(m: Mount): ControlHandlers {
  return {
    statfs: async () => {
      const s = await m.server.statfs();
      return {
        fsid: m.server.fsid.toString(),
        rid: m.rid.toString(),
        committedSeq: s.committedSeq,
        totalMetaBlocks: s.totalMetaBlocks,
        totalDataBlocks: s.totalDataBlocks,
        freeMetaBlocks: s.freeMetaBlocks,
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

/** serve m's control socket, named by the device number of mountpoint; null (logged) if it cannot start */
export async function startMountControl(m: Mount, mountpoint: string, log: (msg: string) => void): Promise<ControlServer | null> {
  try {
    const socketPath = controlSocketPathForDaemon(devOfScoutfsMountPoint(mountpoint));
    const server = await ControlServer.listen(socketPath, mountControlHandlers(m), log);
    log(`scoutfs: control socket ${socketPath}`);
    return server;
  } catch (e) {
    log(`scoutfs: no control socket for ${mountpoint} (scoutfs statfs and counters will not reach it): ${(e as Error).message}`);
    return null;
  }
}

