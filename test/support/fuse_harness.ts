/*
 * Test harness for real FUSE mounts: decides whether they can run here,
 * and starts/stops a MemFs daemon child process (fuse_memfs_daemon.ts)
 * mounted on a fresh temporary directory.
 *
 * Invariants: stop() never leaves a mount behind: it asks the daemon to
 * unmount, and if that fails or takes too long, detaches the mount with
 * `umount -l` and kills the daemon.  A daemon whose parent dies unmounts
 * by itself (it watches its IPC channel).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { forceUnmount, isMounted, type MountOptions } from "../../src/fuse/mount.js";
import type { MemFsOptions } from "./fuse_memfs.js";

/** why real mounts cannot run here, or null if they can */
export function fuseSkipReason(): string | null {
  if (process.platform !== "linux") return "FUSE mounts need Linux";
  if (!process.getuid || process.getuid() !== 0) return "FUSE mounts without fusermount need root";
  if (!fs.existsSync("/dev/fuse")) return "no /dev/fuse";
  return null;
}

export interface DaemonOptions {
  memfs?: MemFsOptions;
  mount?: Partial<Omit<MountOptions, "log">>;
  threadpool?: number;
}

export class MemfsDaemon {
  private nextId = 1;
  private readonly waiting = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  readonly exited: Promise<number | null>;

  private constructor(
    readonly mnt: string,
    readonly tmp: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((res) => child.once("exit", (code) => res(code)));
    child.on("message", (raw) => {
      const m = raw as { id?: number; ok?: boolean; result?: unknown; error?: string };
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.res(m.result);
      else w.rej(new Error(m.error));
    });
    void this.exited.then(() => {
      for (const w of this.waiting.values()) w.rej(new Error("daemon exited"));
      this.waiting.clear();
    });
  }

  static async start(opts: DaemonOptions = {}): Promise<MemfsDaemon> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fuse-test-"));
    // other users must reach the mount (permission tests run commands as nobody)
    fs.chmodSync(tmp, 0o755);
    const mnt = path.join(tmp, "mnt");
    fs.mkdirSync(mnt);
    const script = fileURLToPath(new URL("./fuse_memfs_daemon.js", import.meta.url));
    const child = fork(script, [mnt, JSON.stringify({ memfs: opts.memfs, mount: opts.mount })], {
      execArgv: [],
      env: { ...process.env, UV_THREADPOOL_SIZE: String(opts.threadpool ?? 16) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const d = new MemfsDaemon(mnt, tmp, child);
    const ready = await new Promise<{ type: string; message?: string }>((res, rej) => {
      const t = setTimeout(() => rej(new Error("daemon did not mount in 30 s")), 30_000);
      child.on("message", (raw) => {
        const m = raw as { type?: string; message?: string };
        if (m.type === "ready" || m.type === "error") {
          clearTimeout(t);
          res(m as { type: string; message?: string });
        }
      });
      child.once("exit", (code) => {
        clearTimeout(t);
        rej(new Error(`daemon exited with ${code} before mounting`));
      });
    }).catch(async (e: unknown) => {
      await d.stop();
      throw e;
    });
    if (ready.type === "error") {
      await d.stop();
      throw new Error(`daemon could not mount: ${ready.message}`);
    }
    return d;
  }

  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      this.waiting.set(id, { res: res as (v: unknown) => void, rej });
      this.child.send({ id, cmd, ...args });
    });
  }

  /** unmount and stop; always leaves no mount behind; removes the temp dir when it can */
  async stop(): Promise<void> {
    const alive = this.child.exitCode === null && this.child.signalCode === null;
    if (alive && this.child.connected) {
      try {
        await withTimeout(this.call("unmount"), 15_000);
      } catch {
        // busy or stuck: detach below
      }
    }
    if (isMounted(this.mnt)) await forceUnmount(this.mnt).catch(() => {});
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.disconnect?.();
      const code = await withTimeout(this.exited, 10_000).catch(() => undefined);
      if (code === undefined) {
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    if (isMounted(this.mnt)) await forceUnmount(this.mnt).catch(() => {});
    if (!isMounted(this.mnt)) fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
