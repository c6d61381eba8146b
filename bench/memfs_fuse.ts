/*
 * memfs_fuse: mounts the in-memory MemFs (test/support/fuse_memfs.ts)
 * through the FUSE layer at a given path and serves it until SIGINT or
 * SIGTERM, then unmounts.  The transport floor: whatever a tool measures
 * against this mount is the cost of FUSE and the session, with a backend
 * that does next to nothing.
 *
 *   npx tsc -p tsconfig.json
 *   node dist/bench/memfs_fuse.js MOUNTPOINT [--reads N] [--threads N]
 *        [--entry-timeout S] [--attr-timeout S] [--negative-timeout S]
 *        [--no-keep-cache] [--no-flush] [--readdirplus auto|always|off]
 *        [--no-acl] [--debug]
 *
 * --negative-timeout S > 0 caches missing names (the backend answers
 * them with a negative entry) and --no-flush replies FOPEN_NOFLUSH, as
 * ScoutfsFuseOps does; bench/mdbench.ts passes scoutfs's settings so the
 * floor makes the same round trips.
 *
 * The process first re-executes itself with UV_THREADPOOL_SIZE set
 * (--threads, default 16; see src/fuse/threadpool.ts) unless the
 * environment already has one that large.  On the first signal it unmounts
 * (lazily if the mount is busy, so it keeps serving open files until they
 * close) and exits when the kernel ends the connection; a second signal
 * (a second or more later) detaches the mount and exits at once.
 */
import { parseArgs } from "node:util";
import { reexecWithThreadpool } from "../src/fuse/threadpool.js";
import { FuseMount, FuseMountError, forceUnmount } from "../src/fuse/mount.js";
import { MemFs } from "../test/support/fuse_memfs.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reads: { type: "string" },
    threads: { type: "string", default: "16" },
    "entry-timeout": { type: "string", default: "1" },
    "attr-timeout": { type: "string", default: "1" },
    "negative-timeout": { type: "string", default: "0" },
    "no-keep-cache": { type: "boolean", default: false },
    "no-flush": { type: "boolean", default: false },
    readdirplus: { type: "string", default: "auto" },
    "no-acl": { type: "boolean", default: false },
    debug: { type: "boolean", default: false },
  },
});

async function main(): Promise<void> {
  const mountpoint = positionals[0];
  if (!mountpoint) {
    console.error("usage: node dist/bench/memfs_fuse.js MOUNTPOINT [--reads N] [--threads N] [--entry-timeout S] [--attr-timeout S] [--negative-timeout S] [--no-keep-cache] [--no-flush] [--readdirplus auto|always|off] [--no-acl] [--debug]");
    process.exitCode = 2;
    return;
  }
  if (reexecWithThreadpool(Number(values.threads))) return;

  const rdp = values.readdirplus;
  if (rdp !== "auto" && rdp !== "always" && rdp !== "off") throw new Error(`--readdirplus ${rdp}?`);
  const negativeTimeout = Number(values["negative-timeout"]);
  const fs = new MemFs({ keepCache: !values["no-keep-cache"], noFlush: values["no-flush"], negativeEntries: negativeTimeout > 0 });
  const m = await FuseMount.mount(mountpoint, fs, {
    subtype: "memfs",
    source: "memfs",
    reads: values.reads ? Number(values.reads) : undefined,
    entryTimeout: Number(values["entry-timeout"]),
    attrTimeout: Number(values["attr-timeout"]),
    negativeTimeout,
    readdirplus: rdp,
    posixAcl: !values["no-acl"],
    debug: values.debug,
  });
  const info = await m.session.initialized;
  console.error(
    `memfs mounted at ${mountpoint} (pid ${process.pid}, FUSE ${info.major}.${info.minor}, ${m.session.reads} request slots, ` +
      `threadpool ${process.env.UV_THREADPOOL_SIZE ?? 4}, max_write ${info.maxWrite})`,
  );

  // a terminal's Ctrl-C reaches both this process and the re-exec relay, which passes it on:
  // signals within a second of the first count as the same one
  let firstSignal = 0;
  const stop = async (sig: string) => {
    const t = Date.now();
    if (firstSignal && t - firstSignal < 1000) return;
    if (firstSignal) {
      console.error(`${sig} again: detaching ${mountpoint} and exiting`);
      await forceUnmount(mountpoint).catch(() => {});
      // a reader thread still blocked in its read would keep a normal exit waiting
      process.kill(process.pid, "SIGKILL");
      return;
    }
    firstSignal = t;
    console.error(`${sig}: unmounting ${mountpoint}`);
    try {
      await m.unmount();
    } catch (e) {
      if (e instanceof FuseMountError && e.errno === "EBUSY") {
        console.error(`${mountpoint} is busy: detaching it; serving open files until they close`);
        await m.unmount({ lazy: true });
      } else throw e;
    }
    console.error("unmounted");
  };
  process.on("SIGINT", (s) => void stop(s).catch((e: unknown) => console.error(e)));
  process.on("SIGTERM", (s) => void stop(s).catch((e: unknown) => console.error(e)));
  await m.ended;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
