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
 * startMountControl() runs once FUSE is mounted: it looks the mount point
 * up in mountinfo to learn the device number that names the socket
 * (locate.ts).
 */
import type { Mount } from "../client/mount.js";
import { counters } from "../util/counters.js";
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
  };
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

