/*
 * The control client: one connection to a mount daemon's control socket,
 * typed requests from protocol.ts ControlOps.
 *
 * Requests may be sent without waiting; answers come back in order and are
 * matched to their requests by id.  Every failure is an FsError with a
 * message a command can print as one line: a socket that is missing or
 * refuses (no daemon behind it) is ENOTCONN, a daemon that does not answer
 * in time ETIMEDOUT, a daemon that closes the connection or breaks the
 * protocol EPROTO, and an error response carries the daemon's errno and
 * message.
 *
 * Before its first op a connection proves who is asking (authenticate():
 * the challenge name is looked up in a directory of the mount, see
 * auth.ts).  Commands that act on a file open it as the original's did
 * before its ioctl (locateFile), so the kernel checks that the caller may.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { FsError, type Errno } from "../util/errors.js";
import { locateMount, type LocatedMount } from "./locate.js";
import {
  CONTROL_PROTOCOL_VERSION,
  encodeLine,
  LineSplitter,
  parseResponse,
  type AnyOp,
  type AnyOps,
  type ControlOp,
  type ControlOps,
  type ControlResponse,
} from "./protocol.js";

const DEFAULT_TIMEOUT_MS = 30_000;

interface Pending {
  resolve: (r: ControlResponse) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private broken: FsError | null = null;

  private constructor(
    private readonly sock: net.Socket,
    private readonly what: string,
    private readonly timeoutMs: number,
  ) {
    const lines = new LineSplitter();
    sock.on("data", (chunk: Buffer) => {
      try {
        for (const line of lines.push(chunk)) this.deliver(parseResponse(line));
      } catch (e) {
        this.fail(new FsError("EPROTO", `${what}: ${(e as Error).message}`));
      }
    });
    sock.on("error", (e) => this.fail(new FsError("EPROTO", `${what}: ${e.message}`)));
    sock.on("close", () => this.fail(new FsError("EPROTO", `${what}: the mount daemon closed the connection`)));
  }

  /** connect to a socket; `what` names the mount in error messages */
  static connect(socketPath: string, what = socketPath, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath);
      const onError = (e: NodeJS.ErrnoException) => {
        sock.destroy();
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED") {
          reject(new FsError("ENOTCONN", `${what}: no mount daemon answers on ${socketPath}`));
        } else if (e.code === "EACCES") {
          reject(new FsError("EACCES", `${what}: permission denied on ${socketPath}`));
        } else {
          reject(new FsError("EIO", `${what}: cannot connect to ${socketPath}: ${e.message}`));
        }
      };
      sock.once("error", onError);
      sock.once("connect", () => {
        sock.off("error", onError);
        resolve(new ControlClient(sock, what, timeoutMs));
      });
    });
  }

  /** prove who we are by looking the daemon's challenge name up in dir, a directory of the mount */
  async authenticate(dir: string): Promise<void> {
    const c = await this.request("hello", {});
    try {
      await fs.promises.lstat(path.join(dir, c.name));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") throw new FsError("EACCES", `${this.what}: cannot look up a name in ${dir} to authenticate: ${code ?? (e as Error).message}`);
    }
    await this.request("auth", { nonce: c.nonce });
  }

  async request<K extends AnyOp>(op: K, args: AnyOps[K]["args"]): Promise<AnyOps[K]["result"]> {
    if (this.broken) throw this.broken;
    const id = this.nextId++;
    const reply = await new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FsError("ETIMEDOUT", `${this.what}: the mount daemon did not answer ${op} in ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.sock.write(encodeLine({ v: CONTROL_PROTOCOL_VERSION, id, op, args }));
    });
    if (!reply.ok) throw new FsError(reply.errno, reply.message || undefined);
    // the daemon builds results from the same ControlOps types; the version check covers other builds
    return reply.result as AnyOps[K]["result"];
  }

  close(): void {
    this.sock.destroy();
  }

  private deliver(r: ControlResponse): void {
    const p = this.pending.get(r.id);
    if (!p) {
      // id 0: the daemon could not frame or parse what we sent
      if (!r.ok) this.fail(new FsError(r.errno, r.message));
      return;
    }
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    p.resolve(r);
  }

  private fail(e: FsError): void {
    this.broken ??= e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.broken);
    }
    this.pending.clear();
  }
}

/** a directory of the mount p is in, to authenticate through */
async function authDir(m: LocatedMount, p: string): Promise<string> {
  if (m.mountPoint) return m.mountPoint;
  const st = await fs.promises.stat(p);
  return st.isDirectory() ? p : path.dirname(p);
}

/** an authenticated connection to the mount that p is in */
export async function connectMount(p: string): Promise<ControlClient> {
  const m = await locateMount(p);
  const c = await ControlClient.connect(m.socketPath, m.mountPoint ? `scoutfs mount ${m.mountPoint}` : p);
  try {
    await c.authenticate(await authDir(m, p));
  } catch (e) {
    c.close();
    throw e;
  }
  return c;
}

/** run fn with an authenticated connection to the mount that p is in, closed after */
export async function withMount<T>(p: string, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const c = await connectMount(p);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** one request to the mount that p is in (-p / env / cwd resolved by the caller) */
export function requestMount<K extends ControlOp>(p: string, op: K, args: ControlOps[K]["args"]): Promise<ControlOps[K]["result"]> {
  return withMount(p, (c) => c.request(op, args));
}

export interface LocatedFile {
  ino: number;
  mount: LocatedMount;
  /** a path inside the mount to reach its daemon by (the file itself) */
  path: string;
}

/**
 * The scoutfs inode of file, opened for reading or writing first so the
 * kernel checks the caller may (the original's commands open the file and
 * call an ioctl on it).  A file elsewhere is ENOTTY, the errno the
 * original's ioctl gets there.
 */
export async function locateFile(file: string, flags: "r" | "w" = "r"): Promise<LocatedFile> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, flags === "w" ? fs.constants.O_WRONLY : fs.constants.O_RDONLY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FsError((err.code ?? "EIO") as Errno, `${file}: ${osMessage(err)}`);
  }
  try {
    const st = await fh.stat({ bigint: true });
    let mount: LocatedMount;
    try {
      mount = await locateMount(file);
    } catch (e) {
      if (e instanceof FsError && e.errno === "ENOTTY") throw new FsError("ENOTTY", `${file}: Inappropriate ioctl for device (not on a scoutfs mount)`);
      throw e;
    }
    return { ino: Number(st.ino), mount, path: file };
  } finally {
    await fh.close();
  }
}

/** "No such file or directory" from an fs error, without the syscall and path Node adds */
function osMessage(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: (.*?),/.exec(e.message);
  return m?.[1] ?? e.message;
}
