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
 */
import net from "node:net";
import { FsError } from "../util/errors.js";
import { locateMount } from "./locate.js";
import {
  CONTROL_PROTOCOL_VERSION,
  encodeLine,
  LineSplitter,
  parseResponse,
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

  async request<K extends ControlOp>(op: K, args: ControlOps[K]["args"]): Promise<ControlOps[K]["result"]> {
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
    return reply.result as ControlOps[K]["result"];
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

/** one request to the mount that path is in (-p / env / cwd resolved by the caller) */
export async function requestMount<K extends ControlOp>(path: string, op: K, args: ControlOps[K]["args"]): Promise<ControlOps[K]["result"]> {
  const m = await locateMount(path);
  const c = await ControlClient.connect(m.socketPath, m.mountPoint ? `scoutfs mount ${m.mountPoint}` : path);
  try {
    return await c.request(op, args);
  } finally {
    c.close();
  }
}
