/*
 * The control server: listens on a mount's control socket and answers
 * protocol.ts requests with the handlers it was given.
 *
 * Each connection is served one request at a time, in order (a client that
 * pipelines gets its answers in the order it asked).  A handler's FsError
 * becomes an error response with its errno; any other error is reported as
 * EIO with its message and logged, since it is a bug or an unexpected
 * failure, and the daemon keeps running: a control request must never take
 * a mount down.
 *
 * The socket file: a stale one (a daemon that died) is replaced at listen
 * (atomically, by rename); close() removes the file only if it is still the
 * one this server created (same inode), so a daemon that exits late never
 * removes the socket of the daemon that replaced it.  The socket is 0666:
 * anyone may connect, but nothing but the handshake (hello, auth; see
 * auth.ts) is answered before the connection knows its caller, and each
 * handler checks that caller's permission for what it does.
 */
import fs from "node:fs";
import type { ControlCaller } from "./caller.js";
import type { ControlAuthenticator } from "./auth.js";
import net from "node:net";
import { FsError } from "../util/errors.js";
import {
  CONTROL_PROTOCOL_VERSION,
  encodeLine,
  LineSplitter,
  LineTooLong,
  parseRequest,
  type ControlOp,
  type ControlOps,
  type ControlResponse,
} from "./protocol.js";

export type ControlHandlers = {
  [K in ControlOp]: (args: ControlOps[K]["args"], caller: ControlCaller) => Promise<ControlOps[K]["result"]>;
};

/** one connection's state */
interface Conn {
  caller: ControlCaller | null;
  /** the nonce hello issued on this connection */
  nonce: string | null;
}

export class ControlServer {
  private readonly sockets = new Set<net.Socket>();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
    private readonly ino: number,
  ) {}

  static async listen(
    socketPath: string,
    handlers: ControlHandlers,
    auth: ControlAuthenticator,
    log: (msg: string) => void = () => {},
  ): Promise<ControlServer> {
    // bound under a name of our own, then renamed over the real one: libuv
    // unlinks the bound name when the server closes, which must never be a
    // name another daemon may have taken over since
    const boundPath = `${socketPath}.${process.pid}`;
    fs.rmSync(boundPath, { force: true });
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(boundPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
    try {
      fs.chmodSync(boundPath, 0o666);
      fs.renameSync(boundPath, socketPath);
    } catch (e) {
      server.close();
      throw e;
    }
    const cs = new ControlServer(socketPath, server, fs.statSync(socketPath).ino);
    server.on("connection", (sock) => cs.serve(sock, handlers, auth, log));
    server.on("error", (e) => log(`scoutfs: control socket ${socketPath}: ${e.message}`));
    return cs;
  }

  private serve(sock: net.Socket, handlers: ControlHandlers, auth: ControlAuthenticator, log: (msg: string) => void): void {
    const conn: Conn = { caller: null, nonce: null };
    this.sockets.add(sock);
    sock.on("close", () => this.sockets.delete(sock));
    sock.on("error", () => {}); // a client that went away: nothing to tell anyone
    const lines = new LineSplitter();
    let queue = Promise.resolve();
    sock.on("data", (chunk: Buffer) => {
      let got: string[];
      try {
        got = lines.push(chunk);
      } catch (e) {
        if (!(e instanceof LineTooLong)) throw e;
        sock.end(encodeLine({ id: 0, ok: false, errno: "EMSGSIZE", message: e.message }));
        sock.removeAllListeners("data");
        return;
      }
      for (const line of got) {
        queue = queue.then(async () => {
          const reply = await answer(line, handlers, auth, conn, log);
          if (!sock.destroyed) sock.write(encodeLine(reply));
        });
      }
    });
  }

  /** stop listening, drop connections, remove the socket file if it is still ours */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
        for (const s of this.sockets) s.destroy();
        await closed;
        try {
          if (fs.statSync(this.socketPath).ino === this.ino) fs.unlinkSync(this.socketPath);
        } catch {
          // removed already
        }
      })();
    }
    return this.closing;
  }
}

/** the handshake's answers: a challenge, then the caller it proved */
function answerAuth(op: "hello" | "auth", args: unknown, auth: ControlAuthenticator, conn: Conn): unknown {
  if (op === "hello") {
    const c = auth.issue();
    conn.nonce = c.nonce;
    return c;
  }
  const nonce = (args as { nonce?: unknown } | null)?.nonce;
  if (typeof nonce !== "string" || nonce !== conn.nonce) throw new FsError("EINVAL", "auth: not the nonce hello gave this connection");
  conn.nonce = null;
  const caller = auth.claim(nonce);
  if (!caller) throw new FsError("EACCES", "auth: the mount saw no lookup of the challenge name from a live process");
  conn.caller = caller;
  return { uid: caller.uid, gid: caller.gid };
}

async function answer(line: string, handlers: ControlHandlers, auth: ControlAuthenticator, conn: Conn, log: (msg: string) => void): Promise<ControlResponse> {
  const req = parseRequest(line);
  if ("error" in req) return { id: req.id, ok: false, errno: "EINVAL", message: req.error };
  const { id } = req;
  if (req.v !== CONTROL_PROTOCOL_VERSION) {
    return { id, ok: false, errno: "EPROTO", message: `control protocol version ${req.v} requested, the mount daemon speaks ${CONTROL_PROTOCOL_VERSION}` };
  }
  const isAuth = req.op === "hello" || req.op === "auth";
  if (!isAuth && !Object.hasOwn(handlers, req.op)) return { id, ok: false, errno: "EOPNOTSUPP", message: `unknown control op '${req.op}'` };
  if (!isAuth && !conn.caller) return { id, ok: false, errno: "EACCES", message: `${req.op}: the connection has not authenticated` };
  try {
    if (isAuth) return { id, ok: true, result: answerAuth(req.op as "hello" | "auth", req.args, auth, conn) };
    // arguments are checked by each handler: they come from any local process
    const handler = handlers[req.op as ControlOp] as (args: unknown, caller: ControlCaller) => Promise<unknown>;
    return { id, ok: true, result: await handler(req.args ?? {}, conn.caller!) };
  } catch (e) {
    // the client rebuilds the FsError, which puts the errno name back in front
    if (e instanceof FsError) return { id, ok: false, errno: e.errno, message: e.message === e.errno ? "" : e.message.replace(`${e.errno}: `, "") };
    log(`scoutfs: control op ${req.op} failed: ${(e as Error).stack ?? String(e)}`);
    return { id, ok: false, errno: "EIO", message: `${req.op} failed in the mount daemon: ${(e as Error).message}` };
  }
}
