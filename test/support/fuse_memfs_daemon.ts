/*
 * A MemFs FUSE daemon run as a child process (node's fork, with an IPC
 * channel) by the end-to-end tests.
 *
 * Why a separate process: the test drives the mount with synchronous
 * node:fs calls and external tools.  A synchronous call on the daemon's own
 * event loop, or async calls filling the daemon's threadpool, would wait
 * on requests that the same process must serve: a deadlock.  The parent
 * starts this with UV_THREADPOOL_SIZE in its environment (see
 * src/fuse/threadpool.ts for why it cannot be set from here).
 *
 * Protocol: argv = [mountpoint, JSON options].  Sends {type:"ready"} once
 * mounted (or {type:"error", message} and exits 1), then answers
 * {id, cmd, ...} messages with {id, ok, result} or {id, ok:false, error}.
 * Commands: resolve(path), setData(path, base64), renameBehind(dir, from,
 * to), notifyInvalInode(ino, off, len), notifyInvalEntry(parent, name),
 * counts(), counters(), unmount(lazy).  When the parent goes away (IPC
 * disconnect, SIGTERM), it unmounts lazily and exits: it never leaves a
 * mount behind while it can help it.
 */
import { FuseMount, forceUnmount, type MountOptions } from "../../src/fuse/mount.js";
import { counters } from "../../src/util/counters.js";
import { MemFs, type MemFsOptions } from "./fuse_memfs.js";

interface Msg {
  id: number;
  cmd: string;
  path?: string;
  data?: string;
  dir?: string;
  from?: string;
  to?: string;
  ino?: number;
  off?: number;
  len?: number;
  parent?: number;
  name?: string;
  lazy?: boolean;
}

const mountpoint = process.argv[2];
const opts = JSON.parse(process.argv[3] ?? "{}") as { memfs?: MemFsOptions; mount?: Partial<MountOptions> };
if (!mountpoint || !process.send) {
  console.error("usage: fork fuse_memfs_daemon.js <mountpoint> [options-json] (with an IPC channel)");
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);

const fs = new MemFs(opts.memfs ?? {});
let m: FuseMount | null = null;
let leaving = false;

async function leave(code: number): Promise<void> {
  if (leaving) return;
  leaving = true;
  try {
    if (m) await m.unmount({ lazy: true });
    else await forceUnmount(mountpoint!);
  } catch (e) {
    console.error(`fuse_memfs_daemon: unmount: ${(e as Error).message}`);
  }
  process.disconnect?.();
  process.exitCode = code;
}

process.on("disconnect", () => void leave(0));
process.on("SIGTERM", () => void leave(0));
process.on("SIGINT", () => void leave(0));

async function handle(msg: Msg): Promise<unknown> {
  switch (msg.cmd) {
    case "resolve":
      return fs.resolve(msg.path!);
    case "setData":
      fs.setDataBehind(fs.resolve(msg.path!), Buffer.from(msg.data!, "base64"));
      return null;
    case "renameBehind":
      fs.renameBehind(fs.resolve(msg.dir!), msg.from!, msg.to!);
      return null;
    case "notifyInvalInode":
      return m!.session.notifyInvalInode(msg.ino!, msg.off ?? 0, msg.len ?? 0);
    case "notifyInvalEntry":
      return m!.session.notifyInvalEntry(msg.parent!, msg.name!);
    case "counts":
      return fs.counts();
    case "counters":
      return counters.snapshot();
    case "unmount":
      await m!.unmount({ lazy: msg.lazy ?? false });
      return null;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

process.on("message", (raw) => {
  const msg = raw as Msg;
  handle(msg).then(
    (result) => {
      send({ id: msg.id, ok: true, result });
      if (msg.cmd === "unmount") void leave(0);
    },
    (e: unknown) => send({ id: msg.id, ok: false, error: e instanceof Error ? `${(e as { errno?: string }).errno ?? ""} ${e.message}` : String(e) }),
  );
});

try {
  m = await FuseMount.mount(mountpoint!, fs, { subtype: "memfs", source: "memfs", ...opts.mount });
  send({ type: "ready", pid: process.pid });
} catch (e) {
  send({ type: "error", message: (e as Error).message, errno: (e as { errno?: string }).errno });
  process.disconnect?.();
  process.exitCode = 1;
}
