/*
 * The fuse layer's public surface: the FuseOps interface a filesystem
 * implements (ops.ts), the session that serves it over /dev/fuse
 * (session.ts), mounting and unmounting (mount.ts), the threadpool helper
 * for daemons (threadpool.ts), and the wire format (protocol.ts, as a
 * namespace: most users never need it).  This layer imports nothing above
 * util/; the fs layer knows nothing of it.
 */
export * from "./ops.js";
export { FuseSession, DEFAULT_READ_SLOTS, type SessionOptions } from "./session.js";
export { FuseMount, FuseMountError, forceUnmount, isMounted, umount, type MountOptions } from "./mount.js";
export { reexecWithThreadpool, threadpoolSize, DAEMON_THREADPOOL_SIZE } from "./threadpool.js";
export * as protocol from "./protocol.js";
