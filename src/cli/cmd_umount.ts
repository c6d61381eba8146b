/*
 * `scoutfs umount MOUNTPOINT`: unmount a filesystem mounted with
 * `scoutfs mount` (or mount -t scoutfs) and wait for its daemon to commit
 * and exit.  The work is in daemon.ts, next to the mount side it pairs with.
 */
export { umountCommand } from "./daemon.js";
