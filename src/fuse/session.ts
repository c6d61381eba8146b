/*
 * FuseSession: serves one FUSE connection (an open /dev/fuse fd that a
 * mount has bound) with a FuseOps.
 *
 * Reading.  A read of /dev/fuse returns exactly one request and blocks in
 * the kernel until there is one, so it must never run on the event loop
 * thread.  One worker thread reads (reader_thread.ts): it loops on
 * blocking reads into `reads` slots of a shared buffer, and the event loop
 * takes each request as a view of its slot and dispatches it without
 * waiting for earlier ones: requests run concurrently, each replying when
 * its op settles.  The event loop never issues a read itself, which on a
 * VM saved it a cross-CPU wake-up of a pool thread per request (about 40
 * µs of the event loop per request, measured through mdbench).  Every
 * request's arguments are copied out of its slot, which goes back to the
 * reader at once, except WRITE's data: it is handed to the op as a view
 * of the slot, which returns to the reader only when the op settles, and
 * only while at least MIN_FREE_SLOTS other slots are free (else the data
 * is copied out first), so that WRITEs waiting long (for offline blocks)
 * never leave the reader without a slot.  libuv's threadpool is left to
 * file I/O and notifications.
 *
 * Replying.  One writev() per reply (header + body parts, no copying of a
 * large READ body), done synchronously on the event loop thread: a reply
 * write only hands the result to the waiting request and never blocks.
 * Except a large body (ASYNC_REPLY_BYTES and up, READ of file data): its
 * writev, mostly the kernel copying the data into the reader's pages, is
 * done on the threadpool, so that copy runs on another core while the
 * event loop serves the next request.  The session ends only once such
 * replies are written.  A READ is lent a buffer to fill (read_buffers.ts),
 * which returns to the pool when its reply has been written (or the op
 * failed), never earlier: the kernel may still be copying from it.
 * Notifications (inval inode/entry, delete) are different: the kernel may
 * block them on page locks or the directory's i_rwsem, held by a process
 * that is itself waiting for one of our replies.  So they are written
 * asynchronously on the threadpool, one at a time (a blocked notification
 * holds at most one pool thread, and never the event loop).  Do not await a
 * notification from inside an op on the same inode or directory.
 *
 * Lifecycle.  INIT is negotiated first (see negotiate()).  The session ends
 * when the kernel ends the connection: after unmount (or an abort) the
 * reader's read fails with ENODEV and the reader thread exits; DESTROY
 * (sent for fuseblk mounts) is answered and ends it too.  `ended` resolves
 * once the reader thread has exited, after ops.destroy() ran; only then may
 * the fd be closed (close() refuses earlier: closing an fd a thread is
 * blocked reading would not wake it, and the number could be reused).  A
 * process cannot exit while the reader blocks in its read, so a daemon
 * must unmount before it exits.
 *
 * INTERRUPT (best effort): the request's ctx.signal is aborted; if the
 * request was not read yet (the kernel hands out interrupts first), it is
 * answered EAGAIN and the kernel sends it again later.  FORGET and
 * BATCH_FORGET have no reply.  An errno-less exception from an op replies
 * EIO and is logged.  A reply the kernel no longer wants (the request was
 * interrupted and dropped: write fails with ENOENT) that carried an entry
 * or an open file is undone with forget()/release(), so lookup counts and
 * handles stay balanced.
 */
import fs from "node:fs";
import { Buffer } from "node:buffer";
import { constants as osConstants } from "node:os";
import { errnoOfNumber } from "../util/errors.js";
import { FuseReaderThread, MAX_SLOTS, type ReaderEndCode } from "./reader_thread.js";
import { counters } from "../util/counters.js";
import {
  ATTR_OUT_SIZE,
  Attr,
  AttrOutHead,
  CopyFileRangeOut,
  DirentPacker,
  ENTRY_OUT_SIZE,
  FATTR,
  FOPEN,
  FUSE_FSYNC_FDATASYNC,
  FUSE_GETATTR_FH,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  FUSE_MIN_MINOR_VERSION,
  FUSE_MIN_READ_BUFFER,
  GetxattrOut,
  IN_HEADER_SIZE,
  InitFlag,
  InitFlag2,
  InitOut,
  LseekOut,
  OpenOut,
  Opcode,
  WriteIn,
  WriteOut,
  attrToWire,
  decodeArgs,
  decodeInHeader,
  encodeEntryOut,
  encodeNotifyDelete,
  encodeNotifyInvalEntry,
  encodeNotifyInvalInode,
  encodeOutHeader,
  encodeXattrList,
  initFlagNames,
  isKnownOpcode,
  opcodeName,
  requestBody,
  splitTimeout,
  writeEntryOut,
  zeroedBuffer,
  Kstatfs,
  type EntryOutT,
  type InHeaderT,
  type InitInT,
  type KnownOpcode,
  type ProtoState,
  type RequestArgs,
} from "./protocol.js";
import { ReadBufferPool } from "./read_buffers.js";
import { FuseError, errnoName, type FuseConnInfo, type FuseCtx, type FuseEntry, type FuseOpenReply, type FuseOps, type FuseSetattr } from "./ops.js";

export interface SessionOptions {
  /** largest WRITE the kernel sends (default 1 MiB) */
  maxWrite?: number;
  /**
   * readahead the kernel may do (default 1 MiB).  INIT can only lower the
   * kernel's offer, which is the connection's backing device readahead
   * (128 KiB by default); FuseMount raises that to this value after INIT.
   */
  maxReadahead?: number;
  /** requests read ahead of being served: the reader thread's buffer slots, each max_write and more (default 8, 1..64) */
  reads?: number;
  /** seconds the kernel caches names and attributes unless an op says otherwise (default 1) */
  entryTimeout?: number;
  attrTimeout?: number;
  /** seconds to cache a lookup that returned null (default 0: reply ENOENT, nothing cached) */
  negativeTimeout?: number;
  /** negotiate FUSE_POSIX_ACL (and FUSE_DONT_MASK) (default true) */
  posixAcl?: boolean;
  /** READDIRPLUS: "auto" lets the kernel choose per directory (default), "always", or "off" */
  readdirplus?: "auto" | "always" | "off";
  /**
   * negotiate FUSE_ASYNC_READ (default true): readahead READs are sent in
   * the background.  A background request is never interrupted: a reader
   * killed while one waits leaves it in flight until it is answered.  A
   * filesystem whose READs may wait for long (scoutfs's offline blocks)
   * turns it off, so every READ comes from the reader's own context and an
   * INTERRUPT reaches it when the reader gets a signal.
   */
  asyncRead?: boolean;
  /** background requests the kernel keeps in flight (default 64) and when it counts as congested (48) */
  maxBackground?: number;
  congestionThreshold?: number;
  /** where problems go (default console.error) */
  log?: (msg: string) => void;
  /** log every request and its outcome */
  debug?: boolean;
}

/** the reader thread's slots by default: requests read ahead of being served */
export const DEFAULT_READ_SLOTS = 8;

/** a WRITE keeps its slot while its op runs unless fewer than this many slots are free (then its data is copied out) */
const MIN_FREE_SLOTS = 2;

const PAGE_SIZE = 4096;
const DEFAULT_MAX_WRITE = 1 << 20;
/** replies this large are written on the threadpool (see the file comment) */
export const ASYNC_REPLY_BYTES = 128 << 10;
/** free READ buffers kept once no READ came for READ_BUFFERS_IDLE_MS */
const READ_BUFFERS_IDLE = 4;
const READ_BUFFERS_IDLE_MS = 10_000;
/** a timer that does not keep the process alive; returns its cancel */
function unrefTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
}
/** the kernel's default fs.fuse.max_pages_limit */
const KERNEL_MAX_PAGES = 256;
/** the longest symlink target the kernel takes in a READLINK reply */
const READLINK_MAX = PAGE_SIZE - 1;

const errnoNum = osConstants.errno as Record<string, number | undefined>;
const EIO = osConstants.errno.EIO;
const ENOSYS = osConstants.errno.ENOSYS;
const EAGAIN = osConstants.errno.EAGAIN;
const EPROTO = osConstants.errno.EPROTO;

type Body = Buffer[];
/** a successful reply, and what to undo if the kernel no longer takes it */
interface Reply {
  body: Body;
  undo?: () => void;
  /** called once the body was written or dropped: nothing reads it any more */
  written?: () => void;
}

class Request {
  private ac: AbortController | null = null;
  interrupted = false;
  constructor(readonly unique: bigint) {}
  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.interrupted) this.ac.abort(new FuseError("EINTR", "interrupted"));
    }
    return this.ac.signal;
  }
  interrupt(): void {
    this.interrupted = true;
    this.ac?.abort(new FuseError("EINTR", "interrupted"));
  }
}

const DOT = Buffer.from(".");
const DOTDOT = Buffer.from("..");

export class FuseSession {
  readonly reads: number;
  readonly maxWrite: number;
  /** the settled INIT; rejects if INIT failed */
  readonly initialized: Promise<FuseConnInfo>;
  /** resolves when the kernel has ended the connection and the reader thread has exited */
  readonly ended: Promise<void>;
  conn: FuseConnInfo | null = null;
  /** the readahead asked for (SessionOptions.maxReadahead) */
  readonly wantReadahead: number;

  private readonly opts: Required<Omit<SessionOptions, "log" | "reads" | "maxWrite">>;
  private readonly log: (msg: string) => void;
  private readonly bufSize: number;
  private reader: FuseReaderThread | undefined;
  /** what READs are served into (read_buffers.ts) */
  private readonly readBufs: ReadBufferPool;
  /** the reader thread has been started and has not ended */
  private readerRunning = false;
  private started = false;
  private ending = false;
  private endedFlag = false;
  /** replies being written on the threadpool */
  private asyncReplies = 0;
  private closed = false;
  private maxUnique = 0n;
  private readonly inflight = new Map<bigint, Request>();
  private proto: ProtoState = { setxattrExt: false };
  private notifyChain: Promise<unknown> = Promise.resolve();
  private resolveInit!: (c: FuseConnInfo) => void;
  private rejectInit!: (e: Error) => void;
  private resolveEnded!: () => void;
  private destroyed = false;

  constructor(
    readonly fd: number,
    private readonly ops: FuseOps,
    opts: SessionOptions = {},
  ) {
    this.maxWrite = opts.maxWrite ?? DEFAULT_MAX_WRITE;
    if (!Number.isInteger(this.maxWrite) || this.maxWrite < PAGE_SIZE || this.maxWrite > KERNEL_MAX_PAGES * PAGE_SIZE)
      throw new RangeError(`maxWrite ${this.maxWrite} not in [${PAGE_SIZE}, ${KERNEL_MAX_PAGES * PAGE_SIZE}]`);
    this.log = opts.log ?? ((m) => console.error(m));
    const reads = opts.reads ?? DEFAULT_READ_SLOTS;
    if (!Number.isInteger(reads) || reads < 1 || reads > MAX_SLOTS) throw new RangeError(`reads ${reads} is not an integer in [1, ${MAX_SLOTS}]`);
    this.reads = reads;
    this.opts = {
      maxReadahead: opts.maxReadahead ?? 1 << 20,
      entryTimeout: opts.entryTimeout ?? 1,
      attrTimeout: opts.attrTimeout ?? 1,
      negativeTimeout: opts.negativeTimeout ?? 0,
      posixAcl: opts.posixAcl ?? true,
      readdirplus: opts.readdirplus ?? "auto",
      asyncRead: opts.asyncRead ?? true,
      maxBackground: opts.maxBackground ?? 64,
      congestionThreshold: opts.congestionThreshold ?? 48,
      debug: opts.debug ?? false,
    };
    this.wantReadahead = this.opts.maxReadahead;
    this.bufSize = Math.max(FUSE_MIN_READ_BUFFER, IN_HEADER_SIZE + WriteIn.size + this.maxWrite + PAGE_SIZE);
    // a READ asks for at most max_pages pages (negotiate()); a page more lets an op read whole
    // blocks of an unaligned range into the same buffer
    // as many free buffers as the kernel may have readahead READs in flight (max_background): it
    // overlaps two readahead windows, so with 16 kept about 230 of the 1,024 READs of a cold 1 GiB
    // read still got fresh memory to fault in, and the read ran about a fifth slower than with 64
    // (40 fresh); 10-20 s after the last READ all but READ_BUFFERS_IDLE of them are dropped
    this.readBufs = new ReadBufferPool(
      Math.min(KERNEL_MAX_PAGES, Math.ceil(this.maxWrite / PAGE_SIZE)) * PAGE_SIZE + PAGE_SIZE,
      this.opts.maxBackground,
      { keep: READ_BUFFERS_IDLE, ms: READ_BUFFERS_IDLE_MS, schedule: unrefTimer },
    );
    this.initialized = new Promise((res, rej) => {
      this.resolveInit = res;
      this.rejectInit = rej;
    });
    this.initialized.catch(() => {}); // callers that never await INIT must not see an unhandled rejection
    this.ended = new Promise((res) => (this.resolveEnded = res));
  }

  /** start reading requests (the fd must already be mounted) */
  start(): void {
    if (this.started) throw new Error("FuseSession already started");
    this.started = true;
    this.reader = new FuseReaderThread(
      this.fd,
      this.reads,
      this.bufSize,
      (buf, n) => this.dispatch(buf, n),
      (code, error) => this.readerEnded(code, error),
    );
    this.readerRunning = true;
    this.reader.start();
  }

  /** requests being served now */
  get inflightCount(): number {
    return this.inflight.size;
  }

  get isEnded(): boolean {
    return this.endedFlag;
  }

  /** close the fd; only once the session has ended (see the file comment) */
  close(): void {
    if (this.closed) return;
    if (this.started && !this.endedFlag) throw new Error("FuseSession.close() before the connection ended (unmount first)");
    this.closed = true;
    this.readBufs.stop();
    fs.closeSync(this.fd);
  }

  /* ---------------------------------------------------------------- */
  /* notifications                                                     */

  /**
   * Drop the kernel's cached attributes of ino, and its cached pages in
   * [off, off+len) (len 0: to the end; off < 0: attributes only).  Resolves
   * true if the kernel had the inode, false if it did not (or the
   * connection is gone).
   */
  notifyInvalInode(ino: number, off = 0, len = 0): Promise<boolean> {
    counters.inc("fuse_notify_inval_inode");
    return this.notify(() => encodeNotifyInvalInode(ino, off, len));
  }

  /** drop the kernel's cached dentry of name in parent (and its negative entry) */
  notifyInvalEntry(parent: number, name: Buffer | string): Promise<boolean> {
    counters.inc("fuse_notify_inval_entry");
    return this.notify(() => encodeNotifyInvalEntry(parent, typeof name === "string" ? Buffer.from(name) : name));
  }

  /** tell the kernel that name in parent, naming child, is gone (also detaches it from cwd users) */
  notifyDelete(parent: number, child: number, name: Buffer | string): Promise<boolean> {
    counters.inc("fuse_notify_delete");
    return this.notify(() => encodeNotifyDelete(parent, child, typeof name === "string" ? Buffer.from(name) : name));
  }

  private notify(make: () => Buffer[]): Promise<boolean> {
    let parts: Buffer[];
    try {
      parts = make();
    } catch (e) {
      return Promise.reject(e);
    }
    const run = async (): Promise<boolean> => {
      await this.initialized;
      if (this.endedFlag || this.closed) return false;
      return new Promise<boolean>((res, rej) => {
        fs.writev(this.fd, parts, (err) => {
          if (!err) return res(true);
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "ENODEV" || code === "ENOTCONN" || code === "EBADF") return res(false);
          rej(err);
        });
      });
    };
    const p = this.notifyChain.then(run, run);
    this.notifyChain = p.catch(() => {});
    return p;
  }

  /* ---------------------------------------------------------------- */
  /* reading                                                           */

  /** a request's buffer is done with: its reader slot (if it is one) may be filled again */
  private putBuf(b: Buffer): void {
    this.reader?.release(b);
  }

  /** the reader thread stopped: the kernel ended the connection (or reading kept failing) */
  private readerEnded(code: ReaderEndCode, error: Error | undefined): void {
    if (error) this.log(`fuse: the /dev/fuse reader thread failed: ${describe(error)}`);
    else if (code === "EIO") this.log("fuse: reading /dev/fuse keeps failing; ending the session");
    this.readerRunning = false;
    this.beginEnd();
    this.maybeEnded();
  }

  private beginEnd(): void {
    if (!this.ending) {
      this.ending = true;
      if (!this.conn) this.rejectInit(new Error("FUSE connection ended before INIT"));
    }
  }

  private maybeEnded(): void {
    if (!this.ending || this.readerRunning || this.asyncReplies > 0 || this.endedFlag) return;
    this.endedFlag = true;
    void this.runDestroy().finally(() => this.resolveEnded());
  }

  private async runDestroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await this.ops.destroy?.();
    } catch (e) {
      this.log(`fuse: destroy failed: ${describe(e)}`);
    }
  }

  /* ---------------------------------------------------------------- */
  /* dispatch                                                          */

  private dispatch(buf: Buffer, n: number): void {
    let h: InHeaderT;
    try {
      h = decodeInHeader(buf, n);
    } catch (e) {
      // without a header there is no unique to reply to
      this.log(`fuse: dropping a malformed request of ${n} bytes: ${describe(e)}`);
      this.putBuf(buf);
      return;
    }
    const op = h.opcode;
    counters.inc("fuse_requests");
    counters.inc(opCounter(op));
    // an INTERRUPT's own id is its target's id | 1, not a new one: it must not count as read
    if (op !== Opcode.INTERRUPT && h.unique > this.maxUnique) this.maxUnique = h.unique;

    if (op === Opcode.INIT) {
      void this.handleInit(buf, h).finally(() => this.putBuf(buf));
      return;
    }
    if (op === Opcode.FORGET || op === Opcode.BATCH_FORGET) {
      this.handleForget(buf, h);
      this.putBuf(buf);
      return;
    }
    if (op === Opcode.INTERRUPT) {
      this.handleInterrupt(buf, h);
      this.putBuf(buf);
      return;
    }
    if (op === Opcode.NOTIFY_REPLY) {
      this.putBuf(buf);
      return;
    }
    if (!isKnownOpcode(op)) {
      if (this.opts.debug) this.log(`fuse: ${opcodeName(op)} unique ${h.unique}: ENOSYS`);
      this.putBuf(buf);
      this.replyError(h.unique, ENOSYS);
      return;
    }

    // only WRITE keeps a view of the read buffer (its data), and keeps the reader's slot only while
    // others are free: a WRITE that waits long (offline blocks) must not leave the reader without slots
    if (op === Opcode.WRITE && this.reader && this.reader.freeSlots() < MIN_FREE_SLOTS) {
      const own = Buffer.allocUnsafe(n);
      buf.copy(own, 0, 0, n);
      this.putBuf(buf);
      buf = own;
    }
    let args: RequestArgs[KnownOpcode];
    try {
      args = decodeArgs(op, requestBody(buf, h), this.proto);
    } catch (e) {
      this.putBuf(buf);
      this.replyError(h.unique, this.errnoOf(e, `${opcodeName(op)} arguments`));
      return;
    }
    const holdsBuf = op === Opcode.WRITE;
    if (!holdsBuf) this.putBuf(buf);

    const req = new Request(h.unique);
    this.inflight.set(h.unique, req);
    const ctx: FuseCtx = {
      uid: h.uid,
      gid: h.gid,
      pid: h.pid,
      unique: h.unique,
      get signal() {
        return req.signal;
      },
    };
    const t0 = this.opts.debug ? performance.now() : 0;
    let nodeid: number;
    try {
      nodeid = toNodeid(h.nodeid);
    } catch (e) {
      this.inflight.delete(h.unique);
      if (holdsBuf) this.putBuf(buf);
      this.replyError(h.unique, this.errnoOf(e, "nodeid"));
      return;
    }
    this.run(op, ctx, nodeid, args).then(
      (r) => {
        this.inflight.delete(h.unique);
        if (holdsBuf) this.putBuf(buf);
        if (this.opts.debug) this.log(`fuse: ${opcodeName(op)} ino ${nodeid} unique ${h.unique}: ok (${(performance.now() - t0).toFixed(2)} ms)`);
        this.replyOk(h.unique, r);
        // after DESTROY the kernel ends the connection: no more reads
        if (op === Opcode.DESTROY) this.beginEnd();
      },
      (e: unknown) => {
        this.inflight.delete(h.unique);
        if (holdsBuf) this.putBuf(buf);
        const errno = this.errnoOf(e, `${opcodeName(op)} ino ${nodeid}`);
        if (this.opts.debug) this.log(`fuse: ${opcodeName(op)} ino ${nodeid} unique ${h.unique}: ${errnoNameOf(errno)}`);
        this.replyError(h.unique, errno);
      },
    );
  }

  /** the errno to reply for e: its errno name mapped to the number, else EIO (logged) */
  private errnoOf(e: unknown, what: string): number {
    let name = errnoName(e);
    if (name === undefined) {
      // node's own system errors: code "ENOENT", errno -2
      const c = typeof e === "object" && e !== null && "code" in e ? (e as { code: unknown }).code : undefined;
      if (typeof c === "string" && errnoNum[c] !== undefined) name = c;
    }
    const num = name !== undefined ? errnoNum[name] : undefined;
    if (num !== undefined && num > 0) {
      if (num === EIO) counters.inc("fuse_reply_eio");
      return num;
    }
    counters.inc("fuse_reply_eio_unexpected");
    this.log(`fuse: ${what} failed, replying EIO: ${describe(e)}`);
    return EIO;
  }

  /* ---------------------------------------------------------------- */
  /* replies                                                           */

  /** write one reply; false if the kernel no longer waits for it */
  private write(parts: Buffer[]): boolean {
    try {
      fs.writevSync(this.fd, parts);
      return true;
    } catch (e) {
      if (this.replyUnwanted(e)) return false;
      throw e;
    }
  }

  /**
   * a reply write's error that only says the kernel no longer waits for it
   * (the request was interrupted and dropped, or the connection is gone);
   * any other is a real failure
   */
  private replyUnwanted(e: unknown): boolean {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      counters.inc("fuse_reply_dropped");
      return true;
    }
    return code === "ENODEV" || code === "EBADF" || code === "ENOTCONN";
  }

  /** a reply the kernel refused (EINVAL: wrong size): fail the request rather than leave it hanging */
  private replyRefused(unique: bigint, len: number, e: unknown): void {
    this.log(`fuse: the kernel refused reply for ${unique} (${len} bytes): ${describe(e)}`);
    this.replyError(unique, EIO);
  }

  private replyError(unique: bigint, errno: number): void {
    counters.inc("fuse_reply_errors");
    try {
      this.write([encodeOutHeader(unique, errno, 0)]);
    } catch (e) {
      this.log(`fuse: writing error reply ${errno} for ${unique}: ${describe(e)}`);
    }
  }

  /** a large reply with nothing to undo, written on the threadpool (see the file comment) */
  private replyAsync(unique: bigint, parts: Buffer[], len: number, written: (() => void) | undefined): void {
    this.asyncReplies++;
    counters.inc("fuse_reply_async");
    fs.writev(this.fd, parts, (err) => {
      this.asyncReplies--;
      written?.();
      if (err && !this.replyUnwanted(err)) this.replyRefused(unique, len, err);
      this.maybeEnded();
    });
  }

  private replyOk(unique: bigint, r: Reply): void {
    let len = 0;
    for (const b of r.body) len += b.length;
    const parts = [encodeOutHeader(unique, 0, len), ...r.body];
    if (len >= ASYNC_REPLY_BYTES && !r.undo && !this.closed) return this.replyAsync(unique, parts, len, r.written);
    try {
      this.replySync(unique, r, parts, len);
    } finally {
      r.written?.();
    }
  }

  private replySync(unique: bigint, r: Reply, parts: Buffer[], len: number): void {
    let delivered: boolean;
    try {
      delivered = this.write(parts);
    } catch (e) {
      this.replyRefused(unique, len, e);
      delivered = false;
    }
    if (!delivered && r.undo) {
      try {
        r.undo();
      } catch (e) {
        this.log(`fuse: undoing an undelivered reply: ${describe(e)}`);
      }
    }
  }

  /* ---------------------------------------------------------------- */
  /* INIT, FORGET, INTERRUPT                                           */

  private async handleInit(buf: Buffer, h: InHeaderT): Promise<void> {
    let a: InitInT;
    try {
      a = decodeArgs(Opcode.INIT, requestBody(buf, h));
    } catch (e) {
      this.replyError(h.unique, EPROTO);
      this.rejectInit(new Error(`fuse: bad INIT: ${describe(e)}`));
      return;
    }
    if (this.conn) {
      this.log("fuse: a second INIT; refusing it");
      this.replyError(h.unique, EPROTO);
      return;
    }
    if (a.major > FUSE_KERNEL_VERSION) {
      // the kernel will send INIT again with our major
      const b = Buffer.alloc(InitOut.size);
      InitOut.write(zeroInitOut(FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION), b, 0);
      this.write([encodeOutHeader(h.unique, 0, b.length), b]);
      return;
    }
    if (a.major < FUSE_KERNEL_VERSION || a.minor < FUSE_MIN_MINOR_VERSION) {
      this.replyError(h.unique, EPROTO);
      this.rejectInit(new Error(`fuse: kernel protocol ${a.major}.${a.minor} is older than the ${FUSE_KERNEL_VERSION}.${FUSE_MIN_MINOR_VERSION} we need`));
      return;
    }
    const { info, out } = this.negotiate(a);
    try {
      await this.ops.init?.(info);
    } catch (e) {
      this.replyError(h.unique, this.errnoOf(e, "init"));
      this.rejectInit(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.conn = info;
    this.proto = { setxattrExt: (info.flags & InitFlag.SETXATTR_EXT) !== 0 };
    const b = Buffer.alloc(InitOut.size);
    InitOut.write(out, b, 0);
    if (this.opts.debug) this.log(`fuse: INIT ${info.major}.${info.minor} flags ${initFlagNames(info.flags, info.flags2).join(",")}`);
    if (!this.write([encodeOutHeader(h.unique, 0, b.length), b])) {
      this.rejectInit(new Error("fuse: the kernel dropped our INIT reply"));
      return;
    }
    this.resolveInit(info);
  }

  /**
   * What we ask for, intersected with what the kernel offers:
   * ASYNC_READ (unless asyncRead is false), BIG_WRITES, MAX_PAGES (so max_write can be 1 MiB),
   * ATOMIC_O_TRUNC (open gets O_TRUNC), EXPORT_SUPPORT (lookups of "." and
   * ".."), PARALLEL_DIROPS (concurrent lookups/readdirs in a directory),
   * DO_READDIRPLUS (+ READDIRPLUS_AUTO) when the ops have readdirplus,
   * DIRECT_IO_ALLOW_MMAP (flags2: FOPEN_DIRECT_IO files can be mmapped),
   * POSIX_ACL + DONT_MASK + SETXATTR_EXT (so setxattr of an ACL says when
   * to clear setgid) when posixAcl, and INIT_EXT when offered.  Never
   * WRITEBACK_CACHE: writes go straight to the filesystem, whose cluster
   * locks decide what other mounts see.
   */
  negotiate(a: InitInT): { info: FuseConnInfo; out: ReturnType<typeof zeroInitOut> } {
    const kflags = a.flags >>> 0;
    const kflags2 = (kflags & InitFlag.INIT_EXT) !== 0 ? a.flags2 >>> 0 : 0;
    let want =
      (this.opts.asyncRead ? InitFlag.ASYNC_READ : 0) |
      InitFlag.BIG_WRITES |
      InitFlag.MAX_PAGES |
      InitFlag.ATOMIC_O_TRUNC |
      InitFlag.EXPORT_SUPPORT |
      InitFlag.PARALLEL_DIROPS |
      InitFlag.INIT_EXT;
    if (this.ops.readdirplus && this.opts.readdirplus !== "off") {
      want |= InitFlag.DO_READDIRPLUS;
      if (this.opts.readdirplus === "auto") want |= InitFlag.READDIRPLUS_AUTO;
    }
    if (this.opts.posixAcl) want |= InitFlag.POSIX_ACL | InitFlag.DONT_MASK | InitFlag.SETXATTR_EXT;
    const flags = (want & kflags) >>> 0;
    // mmap of files opened with FOPEN_DIRECT_IO (through the page cache), where the kernel has it
    const flags2 = (InitFlag2.DIRECT_IO_ALLOW_MMAP & kflags2) >>> 0;
    const maxPages = Math.min(KERNEL_MAX_PAGES, Math.ceil(this.maxWrite / PAGE_SIZE));
    const maxReadahead = Math.min(a.maxReadahead, this.opts.maxReadahead);
    const minor = Math.min(a.minor, FUSE_KERNEL_MINOR_VERSION);
    const out = {
      ...zeroInitOut(FUSE_KERNEL_VERSION, minor),
      maxReadahead,
      flags,
      flags2,
      maxBackground: this.opts.maxBackground,
      congestionThreshold: this.opts.congestionThreshold,
      maxWrite: this.maxWrite,
      timeGran: 1,
      maxPages,
    };
    const info: FuseConnInfo = {
      major: FUSE_KERNEL_VERSION,
      minor,
      kernelFlags: kflags,
      kernelFlags2: kflags2,
      flags,
      flags2,
      maxWrite: this.maxWrite,
      maxReadahead,
      maxPages,
      dontMask: (flags & InitFlag.DONT_MASK) !== 0,
      posixAcl: (flags & InitFlag.POSIX_ACL) !== 0,
    };
    return { info, out };
  }

  private handleForget(buf: Buffer, h: InHeaderT): void {
    try {
      if (h.opcode === Opcode.FORGET) {
        const { nlookup } = decodeArgs(Opcode.FORGET, requestBody(buf, h));
        this.forget(toNodeid(h.nodeid), nlookup);
      } else {
        const { forgets } = decodeArgs(Opcode.BATCH_FORGET, requestBody(buf, h));
        for (const f of forgets) this.forget(f.nodeid, f.nlookup);
      }
    } catch (e) {
      this.log(`fuse: bad ${opcodeName(h.opcode)}: ${describe(e)}`);
    }
  }

  private forget(ino: number, nlookup: number): void {
    counters.inc("fuse_forgets");
    if (!this.ops.forget) return;
    try {
      const r = this.ops.forget(ino, nlookup);
      if (r) r.catch((e: unknown) => this.log(`fuse: forget ${ino}: ${describe(e)}`));
    } catch (e) {
      this.log(`fuse: forget ${ino}: ${describe(e)}`);
    }
  }

  private handleInterrupt(buf: Buffer, h: InHeaderT): void {
    counters.inc("fuse_interrupts");
    let target: bigint;
    try {
      target = decodeArgs(Opcode.INTERRUPT, requestBody(buf, h)).unique;
    } catch (e) {
      this.log(`fuse: bad INTERRUPT: ${describe(e)}`);
      return;
    }
    const req = this.inflight.get(target);
    if (req) req.interrupt();
    else if (target > this.maxUnique) this.replyError(h.unique, EAGAIN); // not read yet: the kernel resends
    // else: already answered; nothing to do
  }

  /* ---------------------------------------------------------------- */
  /* the requests                                                      */

  private need<K extends keyof FuseOps>(name: K): NonNullable<FuseOps[K]> {
    const f = this.ops[name];
    if (!f) throw new FuseError("ENOSYS");
    return f as NonNullable<FuseOps[K]>;
  }

  private entryOut(e: FuseEntry): EntryOutT {
    const ev = splitTimeout(e.entryTimeout ?? this.opts.entryTimeout);
    const av = splitTimeout(e.attrTimeout ?? this.opts.attrTimeout);
    return {
      nodeid: e.attr.ino,
      generation: e.generation ?? 0,
      entryValid: ev.sec,
      entryValidNsec: ev.nsec,
      attrValid: av.sec,
      attrValidNsec: av.nsec,
      attr: attrToWire(e.attr),
    };
  }

  private entryReply(e: FuseEntry): Reply {
    const ino = e.attr.ino;
    return { body: [encodeEntryOut(this.entryOut(e))], undo: () => this.forget(ino, 1) };
  }

  private attrReply(attr: { attr: FuseEntry["attr"]; attrTimeout?: number }): Reply {
    const av = splitTimeout(attr.attrTimeout ?? this.opts.attrTimeout);
    const b = zeroedBuffer(ATTR_OUT_SIZE);
    Attr.write(attrToWire(attr.attr), b, AttrOutHead.write({ attrValid: av.sec, attrValidNsec: av.nsec }, b, 0));
    return { body: [b] };
  }

  private openOut(o: FuseOpenReply): Buffer {
    let f = 0;
    if (o.directIo) f |= FOPEN.DIRECT_IO;
    if (o.keepCache) f |= FOPEN.KEEP_CACHE;
    if (o.nonSeekable) f |= FOPEN.NONSEEKABLE;
    if (o.cacheDir) f |= FOPEN.CACHE_DIR;
    if (o.noFlush) f |= FOPEN.NOFLUSH;
    if (o.parallelDirectWrites) f |= FOPEN.PARALLEL_DIRECT_WRITES;
    return OpenOut.encode({ fh: o.fh, openFlags: f, backingId: 0 });
  }

  private static empty: Reply = { body: [] };

  private async run(op: KnownOpcode, ctx: FuseCtx, ino: number, a: RequestArgs[KnownOpcode]): Promise<Reply> {
    const ops = this.ops;
    // each case narrows `a` by asserting the args type that decodeArgs(op) produced for this opcode
    switch (op) {
      case Opcode.DESTROY:
        await this.runDestroy();
        return FuseSession.empty;
      case Opcode.LOOKUP: {
        const { name } = a as RequestArgs[typeof Opcode.LOOKUP];
        const e = await this.need("lookup").call(ops, ctx, ino, name);
        if (e) return this.entryReply(e);
        if (!(this.opts.negativeTimeout > 0)) throw new FuseError("ENOENT");
        const ev = splitTimeout(this.opts.negativeTimeout);
        const b = zeroedBuffer(ENTRY_OUT_SIZE);
        writeEntryOut({ nodeid: 0, generation: 0, entryValid: ev.sec, entryValidNsec: ev.nsec, attrValid: 0, attrValidNsec: 0, attr: attrToWire(ZERO_ATTR) }, b, 0);
        return { body: [b] };
      }
      case Opcode.GETATTR: {
        const g = a as RequestArgs[typeof Opcode.GETATTR];
        const fh = (g.getattrFlags & FUSE_GETATTR_FH) !== 0 ? g.fh : null;
        return this.attrReply(await this.need("getattr").call(ops, ctx, ino, fh));
      }
      case Opcode.SETATTR: {
        const s = a as RequestArgs[typeof Opcode.SETATTR];
        return this.attrReply(await this.need("setattr").call(ops, ctx, ino, setattrChanges(s)));
      }
      case Opcode.READLINK: {
        const t = await this.need("readlink").call(ops, ctx, ino);
        const b = typeof t === "string" ? Buffer.from(t) : t;
        if (b.length > READLINK_MAX) throw new FuseError("ENAMETOOLONG", `symlink target of ${b.length} bytes`);
        return { body: [b] };
      }
      case Opcode.SYMLINK: {
        const s = a as RequestArgs[typeof Opcode.SYMLINK];
        return this.entryReply(await this.need("symlink").call(ops, ctx, ino, s.name, s.target));
      }
      case Opcode.MKNOD: {
        const m = a as RequestArgs[typeof Opcode.MKNOD];
        return this.entryReply(await this.need("mknod").call(ops, ctx, ino, m.name, m.mode, m.rdev, m.umask));
      }
      case Opcode.MKDIR: {
        const m = a as RequestArgs[typeof Opcode.MKDIR];
        return this.entryReply(await this.need("mkdir").call(ops, ctx, ino, m.name, m.mode, m.umask));
      }
      case Opcode.UNLINK:
        await this.need("unlink").call(ops, ctx, ino, (a as RequestArgs[typeof Opcode.UNLINK]).name);
        return FuseSession.empty;
      case Opcode.RMDIR:
        await this.need("rmdir").call(ops, ctx, ino, (a as RequestArgs[typeof Opcode.RMDIR]).name);
        return FuseSession.empty;
      case Opcode.RENAME: {
        const r = a as RequestArgs[typeof Opcode.RENAME];
        await this.need("rename").call(ops, ctx, ino, r.name, r.newdir, r.newname, 0);
        return FuseSession.empty;
      }
      case Opcode.RENAME2: {
        const r = a as RequestArgs[typeof Opcode.RENAME2];
        await this.need("rename").call(ops, ctx, ino, r.name, r.newdir, r.newname, r.flags);
        return FuseSession.empty;
      }
      case Opcode.LINK: {
        const l = a as RequestArgs[typeof Opcode.LINK];
        return this.entryReply(await this.need("link").call(ops, ctx, l.oldnodeid, ino, l.name));
      }
      case Opcode.OPEN: {
        const o = a as RequestArgs[typeof Opcode.OPEN];
        const r = ops.open ? await ops.open(ctx, ino, o.flags) : { fh: 0 };
        const fh = r.fh;
        return { body: [this.openOut(r)], undo: () => void this.quietly(ops.release?.(ctx, ino, fh, o.flags, 0, 0n)) };
      }
      case Opcode.OPENDIR: {
        const o = a as RequestArgs[typeof Opcode.OPENDIR];
        const r = ops.opendir ? await ops.opendir(ctx, ino, o.flags) : { fh: 0 };
        const fh = r.fh;
        return { body: [this.openOut(r)], undo: () => void this.quietly(ops.releasedir?.(ctx, ino, fh, o.flags)) };
      }
      case Opcode.READ: {
        const r = a as RequestArgs[typeof Opcode.READ];
        const read = this.need("read");
        // lent to the op, back to the pool once the reply holding it is written (or the op failed)
        const into = this.readBufs.take(r.size);
        let data: Buffer;
        try {
          data = await read.call(ops, ctx, ino, r.fh, r.offset, r.size, into);
        } catch (e) {
          this.readBufs.give(into);
          throw e;
        }
        return { body: [data.length > r.size ? data.subarray(0, r.size) : data], written: () => this.readBufs.give(into) };
      }
      case Opcode.WRITE: {
        const w = a as RequestArgs[typeof Opcode.WRITE];
        const n = await this.need("write").call(ops, ctx, ino, w.fh, w.offset, w.data, w.writeFlags, w.flags);
        if (!Number.isInteger(n) || n < 0 || n > w.size) throw new TypeError(`write returned ${n} for ${w.size} bytes`);
        return { body: [WriteOut.encode({ size: n })] };
      }
      case Opcode.STATFS: {
        const s = ops.statfs
          ? await ops.statfs(ctx, ino)
          : { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: PAGE_SIZE, namelen: 255, frsize: PAGE_SIZE };
        return { body: [Kstatfs.encode(s)] };
      }
      case Opcode.RELEASE: {
        const r = a as RequestArgs[typeof Opcode.RELEASE];
        if (ops.release) await ops.release(ctx, ino, r.fh, r.flags, r.releaseFlags, r.lockOwner);
        return FuseSession.empty;
      }
      case Opcode.RELEASEDIR: {
        const r = a as RequestArgs[typeof Opcode.RELEASEDIR];
        if (ops.releasedir) await ops.releasedir(ctx, ino, r.fh, r.flags);
        return FuseSession.empty;
      }
      case Opcode.FSYNC: {
        const f = a as RequestArgs[typeof Opcode.FSYNC];
        await this.need("fsync").call(ops, ctx, ino, f.fh, (f.fsyncFlags & FUSE_FSYNC_FDATASYNC) !== 0);
        return FuseSession.empty;
      }
      case Opcode.FSYNCDIR: {
        const f = a as RequestArgs[typeof Opcode.FSYNCDIR];
        await this.need("fsyncdir").call(ops, ctx, ino, f.fh, (f.fsyncFlags & FUSE_FSYNC_FDATASYNC) !== 0);
        return FuseSession.empty;
      }
      case Opcode.SETXATTR: {
        const s = a as RequestArgs[typeof Opcode.SETXATTR];
        await this.need("setxattr").call(ops, ctx, ino, s.name, s.value, s.flags, s.setxattrFlags);
        return FuseSession.empty;
      }
      case Opcode.GETXATTR: {
        const g = a as RequestArgs[typeof Opcode.GETXATTR];
        return sized(await this.need("getxattr").call(ops, ctx, ino, g.name), g.size);
      }
      case Opcode.LISTXATTR: {
        const g = a as RequestArgs[typeof Opcode.LISTXATTR];
        return sized(encodeXattrList(await this.need("listxattr").call(ops, ctx, ino)), g.size);
      }
      case Opcode.REMOVEXATTR:
        await this.need("removexattr").call(ops, ctx, ino, (a as RequestArgs[typeof Opcode.REMOVEXATTR]).name);
        return FuseSession.empty;
      case Opcode.FLUSH: {
        const f = a as RequestArgs[typeof Opcode.FLUSH];
        await this.need("flush").call(ops, ctx, ino, f.fh, f.lockOwner);
        return FuseSession.empty;
      }
      case Opcode.READDIR: {
        const r = a as RequestArgs[typeof Opcode.READDIR];
        const ents = await this.need("readdir").call(ops, ctx, ino, r.fh, r.offset, r.size);
        const p = new DirentPacker(r.size);
        for (const d of ents) {
          if (!p.add({ ino: d.ino, off: d.nextOffset, type: d.type, name: nameBuf(d.name) })) break;
        }
        return { body: [p.result()] };
      }
      case Opcode.READDIRPLUS: {
        const r = a as RequestArgs[typeof Opcode.READDIRPLUS];
        const ents = await this.need("readdirplus").call(ops, ctx, ino, r.fh, r.offset, r.size);
        const p = new DirentPacker(r.size);
        const sent: number[] = [];
        let i = 0;
        for (; i < ents.length; i++) {
          const d = ents[i]!;
          const name = nameBuf(d.name);
          const e = d.entry;
          const entry: EntryOutT = e ? this.entryOut(e) : NO_ENTRY;
          const dino = e ? e.attr.ino : (d.ino ?? 0);
          const type = e ? (e.attr.mode >>> 12) & 15 : (d.type ?? 0);
          if (!p.addPlus({ entry, dirent: { ino: dino, off: d.nextOffset, type, name } })) break;
          if (e && counted(name)) sent.push(e.attr.ino);
        }
        // entries that did not fit were counted by the fs but never reach the kernel
        for (; i < ents.length; i++) {
          const d = ents[i]!;
          if (d.entry && counted(nameBuf(d.name))) this.forget(d.entry.attr.ino, 1);
        }
        return { body: [p.result()], undo: () => sent.forEach((x) => this.forget(x, 1)) };
      }
      case Opcode.ACCESS:
        await this.need("access").call(ops, ctx, ino, (a as RequestArgs[typeof Opcode.ACCESS]).mask);
        return FuseSession.empty;
      case Opcode.CREATE:
      case Opcode.TMPFILE: {
        const c = a as RequestArgs[typeof Opcode.CREATE];
        const r =
          op === Opcode.CREATE
            ? await this.need("create").call(ops, ctx, ino, c.name, c.mode, c.umask, c.flags)
            : await this.need("tmpfile").call(ops, ctx, ino, c.mode, c.umask, c.flags);
        const newIno = r.attr.ino;
        const fh = r.fh;
        return {
          body: [encodeEntryOut(this.entryOut(r)), this.openOut(r)],
          undo: () => {
            this.forget(newIno, 1);
            void this.quietly(ops.release?.(ctx, newIno, fh, c.flags, 0, 0n));
          },
        };
      }
      case Opcode.FALLOCATE: {
        const f = a as RequestArgs[typeof Opcode.FALLOCATE];
        await this.need("fallocate").call(ops, ctx, ino, f.fh, f.offset, f.length, f.mode);
        return FuseSession.empty;
      }
      case Opcode.LSEEK: {
        const l = a as RequestArgs[typeof Opcode.LSEEK];
        const off = await this.need("lseek").call(ops, ctx, ino, l.fh, l.offset, l.whence);
        return { body: [LseekOut.encode({ offset: off })] };
      }
      case Opcode.COPY_FILE_RANGE:
      case Opcode.COPY_FILE_RANGE_64: {
        const c = a as RequestArgs[typeof Opcode.COPY_FILE_RANGE];
        // the 32-bit reply cannot say more than 4 GiB - 1 (the kernel asks for no more)
        const len = op === Opcode.COPY_FILE_RANGE ? Math.min(c.len, 0xffffffff) : c.len;
        const n = await this.need("copyFileRange").call(ops, ctx, ino, c.fhIn, c.offIn, c.nodeidOut, c.fhOut, c.offOut, len, Number(c.flags));
        if (!Number.isInteger(n) || n < 0 || n > len) throw new TypeError(`copyFileRange returned ${n} for ${len} bytes`);
        return { body: [op === Opcode.COPY_FILE_RANGE ? WriteOut.encode({ size: n }) : CopyFileRangeOut.encode({ bytesCopied: n })] };
      }
      case Opcode.SYNCFS:
        await this.need("syncfs").call(ops, ctx, ino);
        return FuseSession.empty;
      default:
        // INIT, FORGET, BATCH_FORGET and INTERRUPT are handled before run()
        throw new FuseError("ENOSYS");
    }
  }

  private quietly(p: Promise<void> | undefined): void {
    p?.catch((e: unknown) => this.log(`fuse: releasing an undelivered open: ${describe(e)}`));
  }
}

const ZERO_ATTR = {
  ino: 0,
  size: 0,
  blocks: 0,
  atime: { sec: 0, nsec: 0 },
  mtime: { sec: 0, nsec: 0 },
  ctime: { sec: 0, nsec: 0 },
  mode: 0,
  nlink: 0,
  uid: 0,
  gid: 0,
  rdev: 0,
  blksize: 0,
};

const NO_ENTRY: EntryOutT = {
  nodeid: 0,
  generation: 0,
  entryValid: 0,
  attrValid: 0,
  entryValidNsec: 0,
  attrValidNsec: 0,
  attr: attrToWire(ZERO_ATTR),
};

function zeroInitOut(major: number, minor: number) {
  return {
    major,
    minor,
    maxReadahead: 0,
    flags: 0,
    maxBackground: 0,
    congestionThreshold: 0,
    maxWrite: 0,
    timeGran: 0,
    maxPages: 0,
    mapAlignment: 0,
    flags2: 0,
    maxStackDepth: 0,
    requestTimeout: 0,
  };
}

const OP_COUNTERS = new Map<number, string>();
/** the counter of an opcode: fuse_op_lookup, fuse_op_read, ... */
function opCounter(op: number): string {
  let c = OP_COUNTERS.get(op);
  if (c === undefined) {
    c = `fuse_op_${opcodeName(op).toLowerCase()}`;
    OP_COUNTERS.set(op, c);
  }
  return c;
}

function toNodeid(n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new FuseError("EOVERFLOW", `nodeid ${n}`);
  return Number(n);
}

function nameBuf(n: Buffer | string): Buffer {
  return typeof n === "string" ? Buffer.from(n) : n;
}

/** readdirplus entries the kernel counts as lookups: all but "." and ".." */
function counted(name: Buffer): boolean {
  return !(name.equals(DOT) || name.equals(DOTDOT));
}

/** GETXATTR/LISTXATTR: size 0 asks for the length; a smaller buffer is ERANGE */
function sized(value: Buffer, size: number): Reply {
  if (size === 0) return { body: [GetxattrOut.encode({ size: value.length })] };
  if (value.length > size) throw new FuseError("ERANGE");
  return { body: [value] };
}

export function setattrChanges(s: RequestArgs[typeof Opcode.SETATTR]): FuseSetattr {
  const v = s.valid;
  const c: FuseSetattr = {};
  if (v & FATTR.MODE) c.mode = s.mode;
  if (v & FATTR.UID) c.uid = s.uid;
  if (v & FATTR.GID) c.gid = s.gid;
  if (v & FATTR.SIZE) c.size = s.size;
  if (v & FATTR.ATIME) c.atime = v & FATTR.ATIME_NOW ? "now" : { sec: s.atime, nsec: s.atimensec };
  else if (v & FATTR.ATIME_NOW) c.atime = "now";
  if (v & FATTR.MTIME) c.mtime = v & FATTR.MTIME_NOW ? "now" : { sec: s.mtime, nsec: s.mtimensec };
  else if (v & FATTR.MTIME_NOW) c.mtime = "now";
  if (v & FATTR.CTIME) c.ctime = { sec: s.ctime, nsec: s.ctimensec };
  if (v & FATTR.FH) c.fh = s.fh;
  if (v & FATTR.LOCKOWNER) c.lockOwner = s.lockOwner;
  if (v & FATTR.KILL_SUIDGID) c.killSuidgid = true;
  return c;
}

function errnoNameOf(num: number): string {
  return errnoOfNumber(num) ?? String(num);
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}
