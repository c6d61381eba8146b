/*
 * Giving a FUSE daemon a big enough libuv threadpool.
 *
 * A daemon's file I/O (block reads of the metadata device, commit and
 * data writes, syncs) and its FUSE notifications run on libuv's
 * threadpool, and reads of many blocks at once want more than libuv's
 * default 4 threads.  (Reads of /dev/fuse have a thread of their own:
 * reader_thread.ts.)
 * libuv reads UV_THREADPOOL_SIZE once, when the pool starts, and in an ESM
 * program the module loader has started it (reading module files with
 * async fs calls) before the main module's first line runs: assigning
 * process.env.UV_THREADPOOL_SIZE from JavaScript then changes nothing.  So
 * the size has to be in the environment the process starts with.  A daemon
 * entry point calls reexecWithThreadpool() first thing: if the environment
 * already has a big enough size it returns false and the daemon runs; if
 * not, it starts the same program again (same node, flags and arguments)
 * with the size set, relays SIGINT/SIGTERM/SIGHUP to it, exits with its
 * status, and returns true, telling the caller to do nothing else.
 *
 * Invariants: a process re-executes at most once (a marker variable stops
 * loops); the relay has no /dev/fuse reads of its own and exits as soon as
 * the child does.
 */
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";

const MARKER = "SCOUTFS_FUSE_REEXEC";
const RELAYED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** libuv's threadpool size as this process started it (UV_THREADPOOL_SIZE, default 4, max 1024) */
export function threadpoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** threads a daemon should ask for: room for parallel device I/O and notifications */
export const DAEMON_THREADPOOL_SIZE = 16;

/**
 * Make sure this process runs with UV_THREADPOOL_SIZE >= size.  Returns
 * false when it already does (go on); true when this process has become a
 * relay for a re-executed child (do nothing else; the process exits with
 * the child's status).
 */
export function reexecWithThreadpool(size = DAEMON_THREADPOOL_SIZE): boolean {
  if (threadpoolSize() >= size || process.env[MARKER] === "1") return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: String(size), [MARKER]: "1" },
  });
  const relay = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const s of RELAYED) process.on(s, relay);
  child.on("exit", (code, signal) => {
    for (const s of RELAYED) process.off(s, relay);
    process.exitCode = code ?? (signal ? 128 + signalNumber(signal) : 1);
  });
  child.on("error", (e) => {
    console.error(`could not re-execute with UV_THREADPOOL_SIZE=${size}: ${e.message}`);
    process.exitCode = 1;
  });
  return true;
}

function signalNumber(s: NodeJS.Signals): number {
  return osConstants.signals[s] ?? 0;
}
