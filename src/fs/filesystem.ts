/*
 * Filesystem: the fs layer's API, shaped like the Linux VFS / FUSE
 * low-level interface (inodes by number, names within directories).
 *
 * Each method validates its arguments, takes the inode locks it needs
 * (locks.ts: shared to read, exclusive to change, all at once in inode
 * order), does its checks, then makes its changes inside one
 * storage.trans.hold().  The calls that make and remove names (create,
 * mknod, mkdir, symlink, unlink, rmdir, rename) answer first and change
 * after (answer_first.ts): their locks, and a new inode's, are held until
 * the change is made (`applying` tells the reads of an inode that take
 * no lock on it, getattr and a lookup's target, to wait for it).
 * When the inodes to lock are only known after a
 * lookup (unlink, rmdir, rename), the lookup runs under the locks taken
 * so far; if it names inodes not yet locked, they are taken at once when
 * nobody holds or waits for them (no waiting, so the inode order cannot
 * deadlock), else everything is released and taken again with the
 * larger set, and the lookup is repeated.  What the lookup found is
 * handed to the operation, which does not look again.
 * Cross-directory renames also take the rename mutex first (see
 * rename.ts), and nothing takes it while holding inode locks.
 *
 * Offline blocks (released to an archive): read, write and size changes
 * that need them register in `waiters` (data_waiting.ts), drop their
 * locks and wait for staging, then start over; the caller's AbortSignal
 * (a FUSE INTERRUPT) ends the wait with EINTR.  The archive operations
 * themselves (release, stage, punch-offline, move-blocks, setattr-more)
 * live in release_stage.ts, move_blocks.ts and setattr_more.ts; every
 * one that removes offline blocks wakes the inode's waiters.
 *
 * Permission checks (with ACLs), sticky directories, and clearing
 * setuid/setgid are the kernel's and the FUSE layer's; this layer
 * validates names, types, limits and POSIX state (ENOENT, EEXIST,
 * ENOTEMPTY, ...), keeps POSIX ACLs as xattrs in step with the mode and
 * applies default ACLs or the umask to new inodes (acl.ts).  The root
 * directory (inode 1) is written by mkfs (makeRootInodeItems).
 */
import { Quotas, type QuotaInput, type StoredQuotaRule } from "./quota.js";
import { QUOTA_OP, type QuotaRule } from "../format/quota_items.js";
import type { FsStorage } from "./storage.js";
import type { FsCtx } from "./context.js";
import { toBuf } from "./context.js";
import { InodeLocks, excl, shared, type LockRequest } from "./locks.js";
import { AnsweredChange, holdAnswerFirst } from "./answer_first.js";
import { Mutex } from "../util/mutex.js";
import { counters } from "../util/counters.js";
import { OpInodes, checkRetention, readInode, toAttr } from "./inode.js";
import { checkName } from "./names.js";
import { findEntry, parentOf, readEntries } from "./dirent.js";
import { checkSymlinkTarget, readSymlink } from "./symlink.js";
import { deleteInode, listOrphans, OpenCounts } from "./orphan.js";
import {
  SYMLINK_MODE,
  createMode,
  entryIno,
  linkNode,
  makeNode,
  makeTmpfile,
  mkdirMode,
  mknodMode,
  removeName,
  type FsEnv,
} from "./namespace.js";
import { checkRenameFlags, renameInos, renameOp } from "./rename.js";
import { relatimeNeeded, setattrOp, touchAtime } from "./attr.js";
import { fallocateData, readData, seekData, writeData } from "./data.js";
import {
  applyRemoveXattr, applySetXattr, getXattr, listXattrNames, prepareRemoveXattr, prepareSetXattr, readFoundXattr,
  type XattrFound,
} from "./xattr.js";
import {
  readXattrIndex, readXattrTotals, searchXattrs, type IndxEntry, type SrchResult, type XattrTotal,
} from "./xattr_tag_read.js";
import type { TotlName } from "../format/tag_items.js";
import { IAX, IAX_ALL, attrXOf, setAttrXOp, type AttrX, type AttrXSet } from "./attr_x.js";
import { U64_MAX } from "../format/key.js";
import {
  applyTagChange, hasTags, parseXattrTags, prepareTagChange, storedXattrTags, type TagChange, type XattrTags,
} from "./xattr_tags.js";
import { statfs } from "./statfs.js";
import { allocatedInos, inoPath, referringEntries, type InoPath, type ReferringEntry } from "./inode_paths.js";
import { aclKindOfName, applyAclWrite, prepareSetAcl, type AclKind } from "./acl.js";
import { FALLOC_FL_KEEP_SIZE, type Attr, type DirEntry, type FsOptions, type Name, type SetAttrChanges, type StatFs, type XattrCaller } from "./types.js";
import { DT } from "./types.js";
import { isDirMode, isLnkMode, isRegMode, nameHash, orphanKey, type InodeVal } from "../format/fs_items.js";
import { DATA_BLOCK_SIZE, FORMAT_VERSION_FEAT_V2, MAX_FILE_BYTES } from "../format/constants.js";
import { FsError } from "../util/errors.js";
import { DATA_WAIT_OP, DataWaiters, type DataWait, type DataWaitCaller } from "./data_waiting.js";
import { findOffline, listExtents, type Extent } from "./extents.js";
import { punchOfflineOp, releaseOp, stageOp } from "./release_stage.js";
import { moveBlocksOp, type MoveBlocksArgs } from "./move_blocks.js";
import { setattrMoreOp, type SetattrMoreArgs } from "./setattr_more.js";

const DOT = Buffer.from(".");
const DOTDOT = Buffer.from("..");

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError("EINVAL", `bad offset ${offset}`);
}

/** a regular file: EISDIR for directories, EINVAL for anything else */
function checkRegular(v: InodeVal, what: string): void {
  if (isDirMode(v.mode)) throw new FsError("EISDIR", `${what} of a directory`);
  if (!isRegMode(v.mode)) throw new FsError("EINVAL", `${what} of a non-regular file`);
}

function existingAttr(ino: number, v: InodeVal | undefined): Attr {
  if (!v) throw new FsError("ENOENT", `inode ${ino} does not exist`);
  return toAttr(ino, v);
}

/** a directory entry as readdir lists it: its name decoded to text only when asked for */
class ListedEntry implements DirEntry {
  constructor(
    readonly nameBuf: Buffer,
    readonly ino: number,
    readonly type: number,
    readonly pos: number,
  ) {}
  get name(): string {
    return this.nameBuf.toString();
  }
  get nextPos(): number {
    return this.pos + 1;
  }
}

export class Filesystem {
  readonly ctx: FsCtx;
  readonly locks = new InodeLocks();
  readonly opens = new OpenCounts();
  /** operations waiting for offline blocks to be staged */
  readonly waiters = new DataWaiters();
  private readonly renameMutex = new Mutex();
  private readonly env: FsEnv;
  private readonly relatime: boolean;
  /** POSIX ACLs are kept (FsOptions.acl); the FUSE session must negotiate POSIX_ACL exactly when this is set */
  readonly acl: boolean;
  /** quota rules and checks */
  readonly quotas: Quotas;
  /** rule changes one at a time: each picks a free key for its rule */
  private readonly quotaMutex = new Mutex();
  /** inodes with an answered change still being made (answer_first.ts), and its promise */
  private readonly applying = new Map<number, Promise<void>>();
  private readonly log: (msg: string) => void;

  constructor(readonly storage: FsStorage, opts: FsOptions = {}) {
    this.ctx = { st: storage, items: storage.items, hash: opts.nameHash ?? nameHash };
    this.relatime = (opts.atime ?? "relatime") === "relatime";
    this.acl = opts.acl ?? true;
    this.quotas = new Quotas(this.ctx, storage.committed, () => storage.trans.seq, storage.formatVersion >= FORMAT_VERSION_FEAT_V2);
    this.env = {
      ctx: this.ctx,
      opens: this.opens,
      acl: this.acl,
      quotas: this.quotas,
      now: () => storage.clock.now(),
      hold: (fn) => storage.trans.hold(fn),
      holdAnswerFirst: (answer, apply) => holdAnswerFirst((fn) => storage.trans.hold(fn), answer, apply),
    };
    this.log = opts.log ?? ((msg) => console.error(msg));
  }

  /* ---------------------------------------------------------------- */
  /* locking helpers                                                   */

  /*
   * Lock base exclusively plus whatever resolve() names, which runs under
   * the locks and may only read what the base locks protect (so its
   * answer stays true while they are held).  The inodes it names are
   * taken without waiting if they are free; otherwise retry with the
   * union until resolve names nothing new.  fn gets resolve's answer.
   */
  private async lockResolving<R, T>(
    base: number[], resolve: () => Promise<{ inos: number[]; found: R }>, fn: (found: R) => Promise<AnsweredChange<T>>,
  ): Promise<T> {
    const want = new Set(base);
    for (;;) {
      const reqs = excl(...want);
      // free locks are taken at once, without the turn that acquire() costs
      const release = this.locks.tryAcquire(reqs) ?? (await this.locks.acquire(reqs));
      let releaseMore: (() => void) | undefined;
      let handedOff = false;
      try {
        const r = await resolve();
        const more = r.inos.filter((i) => !want.has(i));
        if (more.length > 0) releaseMore = this.locks.tryAcquire(excl(...more));
        if (more.length === 0 || releaseMore) {
          const answered = await fn(r.found);
          handedOff = true;
          const rm = releaseMore;
          return this.afterAnswer(answered, [...want, ...more], () => {
            rm?.();
            release();
          });
        }
        for (const i of more) want.add(i);
      } finally {
        if (!handedOff) {
          releaseMore?.();
          release();
        }
      }
    }
  }

  /** lock reqs, run fn (which answers first), keep the locks and newIno's until its change is made */
  private async lockedAnswerFirst(reqs: LockRequest[], fn: () => Promise<AnsweredChange<Attr>>): Promise<Attr> {
    const release = this.locks.tryAcquire(reqs) ?? (await this.locks.acquire(reqs));
    let answered: AnsweredChange<Attr>;
    try {
      answered = await fn();
    } catch (e) {
      release();
      throw e;
    }
    return this.afterAnswer(answered, reqs.map((r) => r.ino), release, answered.value.ino);
  }

  /**
   * An operation answered (answer_first.ts): hold its locks (release) and
   * newIno's until its change is made, have getattr of those inodes wait
   * for it, and pass the answer on.  A change that fails after its answer
   * is logged and counted.
   */
  private afterAnswer<T>(answered: AnsweredChange<T>, inos: number[], release: () => void, newIno?: number): Promise<T> | T {
    let releaseNew: (() => void) | undefined;
    if (newIno !== undefined) {
      releaseNew = this.locks.tryAcquire(excl(newIno));
      // a request about a number never answered yet holds its lock: answer once the change is made
      if (!releaseNew) return this.waitApplied(answered, release);
      inos = [...inos, newIno];
    }
    const done = answered.applied.then(
      () => undefined,
      (e: unknown) => this.applyFailed(e),
    );
    for (const ino of inos) this.applying.set(ino, done);
    void done.finally(() => {
      for (const ino of inos) if (this.applying.get(ino) === done) this.applying.delete(ino);
      releaseNew?.();
      release();
    });
    return answered.value;
  }

  /**
   * Once every change answered so far is made (answer_first.ts): for what
   * reads items without locks, and for tests that look at items directly.
   */
  async settled(): Promise<void> {
    if (this.applying.size > 0) await Promise.all(new Set(this.applying.values()));
  }

  private async waitApplied<T>(answered: AnsweredChange<T>, release: () => void): Promise<T> {
    try {
      await answered.applied;
    } finally {
      release();
    }
    return answered.value;
  }

  private applyFailed(e: unknown): void {
    counters.inc("fs_apply_after_answer_errors");
    this.log(`scoutfs: a change failed after its answer was given: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }

  /*
   * Run attempt (which takes its own locks) until it finds nothing
   * offline to wait for: an attempt that found an offline block returns
   * the wait it registered while still locked, and runs again once the
   * inode's offline blocks have changed.
   */
  private async untilOnline<T>(caller: DataWaitCaller | undefined, attempt: () => Promise<{ wait: DataWait } | { done: T }>): Promise<T> {
    for (;;) {
      const r = await attempt();
      if ("done" in r) return r.done;
      await this.waiters.wait(r.wait, caller?.signal);
    }
  }

  /** a wait registered for the first offline block of bytes [start, end) of ino, if any; ino locked */
  private async offlineWait(ino: number, v: InodeVal, start: number, end: number, op: number, caller: DataWaitCaller | undefined): Promise<DataWait | undefined> {
    if (v.offlineBlocks === 0 || end <= start) return undefined;
    const blk = await findOffline(this.ctx, ino, Math.floor(start / DATA_BLOCK_SIZE), Math.floor((end - 1) / DATA_BLOCK_SIZE));
    if (blk === undefined) return undefined;
    const failed = this.waiters.takeFailure(ino, blk, op, caller?.pid);
    if (failed) throw new FsError(failed, `wait for offline block ${blk} of inode ${ino} failed (data-wait-err)`);
    return this.waiters.add(ino, blk, op, caller?.pid);
  }

  private async maybeTouchAtime(ino: number, v: InodeVal): Promise<void> {
    if (!this.relatime || !relatimeNeeded(v, this.env.now())) return;
    await this.locks.with(excl(ino), () => touchAtime(this.env, ino));
  }

  /* ---------------------------------------------------------------- */
  /* attributes                                                        */

  /** after the inode's answered change is made (answer_first.ts); without an async frame when its item is in memory */
  getattr(ino: number): Promise<Attr> {
    const changing = this.applying.get(ino);
    return changing ? changing.then(() => this.attrNow(ino)) : this.attrNow(ino);
  }

  /**
   * getattr answered at once from memory: undefined when it would wait
   * (the inode's item needs a read, or an answered change of it is still
   * being made); a missing inode throws ENOENT as getattr rejects
   */
  getattrNow(ino: number): Attr | undefined {
    if (this.applying.has(ino)) return undefined;
    const v = readInode(this.ctx, ino);
    return v instanceof Promise ? undefined : existingAttr(ino, v);
  }

  private attrNow(ino: number): Promise<Attr> {
    try {
      const v = readInode(this.ctx, ino);
      return v instanceof Promise ? v.then((read) => existingAttr(ino, read)) : Promise.resolve(existingAttr(ino, v));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /* ---------------------------------------------------------------- */
  /* from inode numbers to names (inode_paths.ts): unlocked, batched,   */
  /* after the answered changes are made                                */

  async referringEntries(ino: number, fromDir: number, fromPos: number, max: number): Promise<ReferringEntry[]> {
    await this.settled();
    return referringEntries(this.ctx, ino, fromDir, fromPos, max);
  }

  async inoPath(ino: number, fromDir: number, fromPos: number): Promise<InoPath | undefined> {
    await this.settled();
    return inoPath(this.ctx, ino, fromDir, fromPos);
  }

  async allocatedInos(start: number, max: number): Promise<number[]> {
    await this.settled();
    return allocatedInos(this.ctx, start, max);
  }

  /** a size change waits until the blocks below the new size are online (a truncate to 0 does not wait) */
  async setattr(ino: number, changes: SetAttrChanges, caller?: DataWaitCaller): Promise<Attr> {
    const a = await this.untilOnline<Attr>(caller, () =>
      this.locks.with(excl(ino), async () => {
        const size = changes.size;
        if (size !== undefined && Number.isSafeInteger(size) && size > 0) {
          const v = await readInode(this.ctx, ino);
          if (v && isRegMode(v.mode) && size !== v.size) {
            const wait = await this.offlineWait(ino, v, 0, size, DATA_WAIT_OP.changeSize, caller);
            if (wait) return { wait };
          }
        }
        return { done: await setattrOp(this.env, ino, changes) };
      }),
    );
    if (changes.size !== undefined) this.waiters.changed(ino);
    return a;
  }

  /* ---------------------------------------------------------------- */
  /* names                                                             */

  /** the attributes of name in dir ("." and ".." resolve to the dir and its parent) */
  async lookup(dir: number, name: Name): Promise<Attr> {
    const a = await this.lookupEntry(dir, name);
    if (!a) throw new FsError("ENOENT", `${toBuf(name).toString()} does not exist`);
    return a;
  }

  /** lookup(), with undefined for a name that does not exist (the usual answer of a FUSE lookup: no error made) */
  async lookupEntry(dir: number, name: Name): Promise<Attr | undefined> {
    const b = toBuf(name);
    return this.locks.with(shared(dir), async () => {
      const c = new OpInodes(this.ctx);
      await c.getLiveDir(dir);
      let ino: number;
      if (b.equals(DOT)) ino = dir;
      else if (b.equals(DOTDOT)) ino = await parentOf(this.ctx, dir);
      else {
        const d = await findEntry(this.ctx, dir, checkName(b));
        if (!d) return undefined;
        ino = d.ino;
      }
      // the inode itself is not locked here: an answered change of it (through another name) must be made first
      const changing = this.applying.get(ino);
      if (changing) await changing;
      return toAttr(ino, await c.get(ino));
    });
  }

  /*
   * The calls that make inodes take the caller's umask: it is applied
   * unless the directory has a default ACL, which decides instead (acl.ts).
   */

  async create(dir: number, name: Name, mode: number, uid: number, gid: number, rdev = 0, umask = 0): Promise<Attr> {
    return this.makeFile(dir, name, mode, uid, gid, rdev, umask, false);
  }

  /**
   * create() and open() of the new inode as one step (open(O_CREAT)): the
   * handle is counted before the directory's lock is let go, so an unlink
   * racing in between finds the inode open and leaves it an orphan rather
   * than deleting it under the caller; release() drops the handle.
   */
  async createOpen(dir: number, name: Name, mode: number, uid: number, gid: number, umask = 0): Promise<Attr> {
    return this.makeFile(dir, name, mode, uid, gid, 0, umask, true);
  }

  private makeFile(dir: number, name: Name, mode: number, uid: number, gid: number, rdev: number, umask: number, open: boolean): Promise<Attr> {
    const n = checkName(name);
    const m = createMode(mode);
    return this.lockedAnswerFirst(excl(dir), () => makeNode(this.env, dir, n, { mode: m, uid, gid, rdev, umask, open }));
  }

  async mknod(dir: number, name: Name, mode: number, uid: number, gid: number, rdev = 0, umask = 0): Promise<Attr> {
    const n = checkName(name);
    const m = mknodMode(mode);
    return this.lockedAnswerFirst(excl(dir), () => makeNode(this.env, dir, n, { mode: m, uid, gid, rdev, umask }));
  }

  async mkdir(dir: number, name: Name, mode: number, uid: number, gid: number, umask = 0): Promise<Attr> {
    const n = checkName(name);
    return this.lockedAnswerFirst(excl(dir), () => makeNode(this.env, dir, n, { mode: mkdirMode(mode), uid, gid, rdev: 0, umask }));
  }

  async symlink(dir: number, name: Name, target: Name, uid: number, gid: number): Promise<Attr> {
    const n = checkName(name);
    const t = toBuf(target);
    checkSymlinkTarget(t);
    return this.lockedAnswerFirst(excl(dir), () => makeNode(this.env, dir, n, { mode: SYMLINK_MODE, uid, gid, rdev: 0, umask: 0, symlink: t }));
  }

  /** an unnamed regular file (O_TMPFILE): an open orphan until link() names it or release() deletes it */
  async tmpfile(dir: number, mode: number, uid: number, gid: number, umask = 0): Promise<Attr> {
    const m = createMode(mode);
    return this.locks.with(shared(dir), () => makeTmpfile(this.env, dir, { mode: m, uid, gid, rdev: 0, umask }));
  }

  async readlink(ino: number): Promise<Buffer> {
    return this.locks.with(shared(ino), async () => {
      const v = await new OpInodes(this.ctx).get(ino);
      if (!isLnkMode(v.mode)) throw new FsError("EINVAL", `inode ${ino} is not a symlink`);
      return readSymlink(this.ctx, ino, v.size);
    });
  }

  /** a new name newName in newDir for the inode ino */
  async link(ino: number, newDir: number, newName: Name): Promise<Attr> {
    const n = checkName(newName);
    return this.locks.with(excl(ino, newDir), () => linkNode(this.env, ino, newDir, n));
  }

  async unlink(dir: number, name: Name): Promise<void> {
    const n = checkName(name);
    return this.lockResolving([dir], () => entryIno(this.ctx, dir, n), (ent) => removeName(this.env, dir, n, false, ent));
  }

  async rmdir(dir: number, name: Name): Promise<void> {
    const n = checkName(name);
    return this.lockResolving([dir], () => entryIno(this.ctx, dir, n), (ent) => removeName(this.env, dir, n, true, ent));
  }

  async rename(oldDir: number, oldName: Name, newDir: number, newName: Name, flags = 0): Promise<void> {
    checkRenameFlags(flags);
    const on = checkName(oldName);
    const nn = checkName(newName);
    const go = () =>
      this.lockResolving(
        [oldDir, newDir],
        () => renameInos(this.ctx, oldDir, on, newDir, nn),
        (found) => renameOp(this.env, oldDir, on, newDir, nn, flags, found),
      );
    return oldDir === newDir ? go() : this.renameMutex.run(go);
  }

  /**
   * Up to max entries from position pos: "." at 0, ".." at 1, then the
   * stored entries in position order; continue from the last nextPos.
   */
  async readdir(dir: number, pos: number, max: number): Promise<DirEntry[]> {
    checkOffset(pos);
    const out: DirEntry[] = [];
    let v: InodeVal | undefined;
    await this.locks.with(shared(dir), async () => {
      v = await new OpInodes(this.ctx).get(dir);
      if (!isDirMode(v.mode)) throw new FsError("ENOTDIR", `inode ${dir} is not a directory`);
      if (v.nlink === 0) throw new FsError("ENOENT", `directory ${dir} was removed`);
      if (pos === 0 && out.length < max) out.push(new ListedEntry(Buffer.from("."), dir, DT.DIR, 0));
      if (pos <= 1 && out.length < max) out.push(new ListedEntry(Buffer.from(".."), await parentOf(this.ctx, dir), DT.DIR, 1));
      for (const d of await readEntries(this.ctx, dir, Math.max(pos, 2), max - out.length)) {
        out.push(new ListedEntry(d.name, d.ino, d.type, d.pos));
      }
    });
    if (v) await this.maybeTouchAtime(dir, v);
    return out;
  }

  /* ---------------------------------------------------------------- */
  /* open handles and orphans                                          */

  /** count a handle (or any reference that must keep an unlinked inode) */
  /** take a handle on ino; returns its attributes as of the open */
  async open(ino: number): Promise<Attr> {
    return this.locks.with(shared(ino), async () => {
      const v = await new OpInodes(this.ctx).get(ino);
      this.opens.open(ino);
      return toAttr(ino, v);
    });
  }

  /** drop a handle; the last one of an inode with no names deletes it */
  async release(ino: number): Promise<void> {
    await this.locks.with(excl(ino), async () => {
      const left = this.opens.release(ino);
      if (left === false) throw new FsError("EBADF", `inode ${ino} is not open`);
      if (left > 0) return;
      const c = new OpInodes(this.ctx);
      const v = await c.find(ino);
      if (!v || v.nlink > 0) return;
      await this.storage.trans.hold(async () => {
        await deleteInode(this.ctx, c, ino, true);
        c.flush();
      });
      this.opens.tmpfiles.delete(ino);
    });
  }

  /** delete every orphaned inode not open here (at mount); returns how many */
  async deleteOrphans(): Promise<number> {
    await this.settled();
    let n = 0;
    for (const ino of await listOrphans(this.ctx)) {
      await this.locks.with(excl(ino), async () => {
        if (this.opens.count(ino) > 0) return;
        const c = new OpInodes(this.ctx);
        const v = await c.find(ino);
        await this.storage.trans.hold(async () => {
          if (v && v.nlink === 0) {
            await deleteInode(this.ctx, c, ino, true);
            n++;
          } else {
            this.ctx.items.delete(orphanKey(ino));
          }
          c.flush();
        });
      });
    }
    return n;
  }

  /* ---------------------------------------------------------------- */
  /* file data                                                         */

  /** waits until the blocks read are online; into: a buffer lent for the bytes (readData) */
  async read(ino: number, offset: number, length: number, caller?: DataWaitCaller, into?: Buffer): Promise<Buffer> {
    checkOffset(offset);
    if (!Number.isSafeInteger(length) || length < 0) throw new FsError("EINVAL", `bad length ${length}`);
    let v: InodeVal | undefined;
    const buf = await this.untilOnline<Buffer>(caller, () =>
      this.locks.with(shared(ino), async () => {
        const iv = await new OpInodes(this.ctx).get(ino);
        v = iv;
        checkRegular(iv, "read");
        const wait = await this.offlineWait(ino, iv, offset, Math.min(iv.size, offset + length), DATA_WAIT_OP.read, caller);
        return wait ? { wait } : { done: await readData(this.ctx, ino, iv, offset, length, into) };
      }),
    );
    if (v) await this.maybeTouchAtime(ino, v);
    return buf;
  }

  /**
   * write at offset; returns the bytes written (short at the size limit or
   * when space ran out).  Waits until the whole file is online: a write
   * makes a new data_version, after which nothing offline can be staged.
   */
  async write(ino: number, offset: number, data: Buffer, caller?: DataWaitCaller): Promise<number> {
    checkOffset(offset);
    return this.untilOnline<number>(caller, () =>
      this.locks.with(excl(ino), async () => {
        const c = new OpInodes(this.ctx);
        const v = await c.get(ino);
        checkRegular(v, "write");
        if (data.length === 0) return { done: 0 };
        checkRetention(v, ino);
        await this.quotas.check(dataQuotaInput(v));
        if (offset >= MAX_FILE_BYTES) throw new FsError("EFBIG", `write at ${offset} beyond the size limit`);
        const wait = await this.offlineWait(ino, v, 0, v.size, DATA_WAIT_OP.write, caller);
        if (wait) return { wait };
        const d = offset + data.length > MAX_FILE_BYTES ? data.subarray(0, MAX_FILE_BYTES - offset) : data;
        const n = await this.storage.trans.hold(async () => {
          const n = await writeData(this.ctx, ino, v, offset, d);
          const now = this.env.now();
          v.mtime = now;
          v.ctime = now;
          v.dataVersion++;
          c.dirty(ino, true);
          c.flush();
          return n;
        });
        return { done: n };
      }),
    );
  }

  /** mode 0 or FALLOC_FL_KEEP_SIZE: allocate (unwritten, reading as zeros) the holes of a range */
  async fallocate(ino: number, mode: number, offset: number, length: number): Promise<void> {
    if (mode & ~FALLOC_FL_KEEP_SIZE) throw new FsError("EOPNOTSUPP", `fallocate mode ${mode}`);
    checkOffset(offset);
    if (!Number.isSafeInteger(length) || length <= 0) throw new FsError("EINVAL", `bad length ${length}`);
    if (offset + length > MAX_FILE_BYTES) throw new FsError("EFBIG", "fallocate beyond the size limit");
    await this.locks.with(excl(ino), async () => {
      const c = new OpInodes(this.ctx);
      const v = await c.get(ino);
      if (isDirMode(v.mode)) throw new FsError("EISDIR", "fallocate of a directory");
      if (!isRegMode(v.mode)) throw new FsError("ENODEV", "fallocate of a non-regular file");
      checkRetention(v, ino);
      await this.quotas.check(dataQuotaInput(v));
      const err = await this.storage.trans.hold(async () => {
        const oldSize = v.size;
        const e = await fallocateData(this.ctx, ino, v, (mode & FALLOC_FL_KEEP_SIZE) !== 0, offset, length);
        const now = this.env.now();
        v.ctime = now;
        if (v.size !== oldSize) {
          v.mtime = now;
          v.dataVersion++;
        }
        c.dirty(ino, true);
        c.flush();
        return e;
      });
      if (err) throw err;
    });
  }

  /** SEEK_DATA or SEEK_HOLE (the others are the kernel's) */
  async lseek(ino: number, offset: number, whence: number): Promise<number> {
    return this.locks.with(shared(ino), async () => {
      const v = await new OpInodes(this.ctx).get(ino);
      checkRegular(v, "lseek");
      return seekData(this.ctx, ino, v, offset, whence);
    });
  }

  async fsync(_ino?: number): Promise<void> {
    await this.storage.trans.sync();
  }

  /* ---------------------------------------------------------------- */
  /* xattrs                                                            */

  /** EOPNOTSUPP for the ACL names when ACLs are off; which ACL the name is otherwise */
  private aclName(name: Buffer): AclKind | undefined {
    const kind = aclKindOfName(name);
    if (kind && !this.acl) throw new FsError("EOPNOTSUPP", "POSIX ACLs are off (noacl)");
    return kind;
  }

  /**
   * Setting system.posix_acl_access also sets the mode (acl.ts); flags do
   * not apply to ACLs, as on Linux.  aclKillSgid: the caller may not keep
   * the setgid bit (not in the file's group, no CAP_FSETID), so setting
   * an access ACL clears it, as Linux posix_acl_update_mode does.
   * sysAdmin: the caller has CAP_SYS_ADMIN, which scoutfs. tags need.
   */
  async setxattr(ino: number, name: Name, value: Buffer | string, flags = 0, caller: XattrCaller = {}): Promise<void> {
    const n = toBuf(name);
    const val = toBuf(value);
    const acl = this.aclName(n);
    const tags = this.checkTags(n, caller);
    await this.locks.with(excl(ino), async () => {
      const c = new OpInodes(this.ctx);
      const v = await c.get(ino);
      if (isUserXattr(n)) checkRetention(v, ino);
      const aclWrite = acl ? await prepareSetAcl(this.ctx, ino, v, acl, val, caller.aclKillSgid ?? false) : undefined;
      const found = aclWrite ? undefined : await prepareSetXattr(this.ctx, ino, n, val, flags);
      const tagChange = tags && (await this.prepareTags(ino, n, tags, found, val));
      if (tagChange?.noop) return;
      await this.storage.trans.hold(async () => {
        if (aclWrite) applyAclWrite(this.ctx, ino, v, aclWrite);
        else {
          const xid = applySetXattr(this.ctx, ino, v, n, val, found);
          if (tagChange) applyTagChange(this.ctx, ino, xid, tagChange);
        }
        v.ctime = this.env.now();
        c.dirty(ino);
        c.flush();
      });
    });
  }

  /** the tags of a name if it has any, after checking the caller may use them */
  private checkTags(name: Buffer, caller: XattrCaller): XattrTags | undefined {
    const tags = parseXattrTags(name);
    if (!hasTags(tags)) return undefined;
    if (!caller.sysAdmin) throw new FsError("EPERM", `xattr tags of ${name.toString()} need CAP_SYS_ADMIN`);
    if (tags.indx) this.requireV2("the indx. xattr tag");
    return tags;
  }

  private checkAttrXMask(mask: number): void {
    if (mask & IAX.retention) this.requireV2("retention");
    if (mask & IAX.projectId) this.requireV2("project ids");
  }

  /** EOPNOTSUPP on a filesystem whose format version predates what is asked for */
  private requireV2(what: string): void {
    if (this.storage.formatVersion < FORMAT_VERSION_FEAT_V2) {
      throw new FsError("EOPNOTSUPP", `${what} needs format version ${FORMAT_VERSION_FEAT_V2}, this filesystem has ${this.storage.formatVersion}`);
    }
  }

  private async prepareTags(
    ino: number, name: Buffer, tags: XattrTags, found: XattrFound | undefined, value: Buffer | undefined,
  ): Promise<TagChange> {
    const old = found && (await readFoundXattr(this.ctx, ino, found));
    return prepareTagChange(this.ctx, name, tags, old, value);
  }

  /** the value; with size, as getxattr(2): size 0 gives the value's length, a smaller size ERANGE */
  getxattr(ino: number, name: Name): Promise<Buffer>;
  getxattr(ino: number, name: Name, size: number): Promise<Buffer | number>;
  async getxattr(ino: number, name: Name, size?: number): Promise<Buffer | number> {
    const n = toBuf(name);
    this.aclName(n);
    const val = await this.locks.with(shared(ino), async () => {
      await new OpInodes(this.ctx).get(ino);
      return getXattr(this.ctx, ino, n);
    });
    if (size === undefined) return val;
    if (size === 0) return val.length;
    if (val.length > size) throw new FsError("ERANGE", `xattr value of ${val.length} bytes, buffer of ${size}`);
    return val;
  }

  /** the names; with size, as listxattr(2): NUL-terminated names, size 0 gives their length, a smaller size ERANGE */
  listxattr(ino: number): Promise<string[]>;
  listxattr(ino: number, size: number): Promise<Buffer | number>;
  async listxattr(ino: number, size?: number): Promise<string[] | Buffer | number> {
    const names = await this.locks.with(shared(ino), async () => {
      await new OpInodes(this.ctx).get(ino);
      const all = (await listXattrNames(this.ctx, ino)).filter((b) => !storedXattrTags(b).hide);
      return this.acl ? all : all.filter((b) => !aclKindOfName(b));
    });
    if (size === undefined) return names.map((b) => b.toString());
    const buf = Buffer.concat(names.flatMap((b) => [b, Buffer.alloc(1)]));
    if (size === 0) return buf.length;
    if (buf.length > size) throw new FsError("ERANGE", `xattr names of ${buf.length} bytes, buffer of ${size}`);
    return buf;
  }

  /** removing system.posix_acl_access leaves the mode as it is */
  async removexattr(ino: number, name: Name, caller: XattrCaller = {}): Promise<void> {
    const n = toBuf(name);
    this.aclName(n);
    const tags = this.checkTags(n, caller);
    await this.locks.with(excl(ino), async () => {
      const c = new OpInodes(this.ctx);
      const v = await c.get(ino);
      if (isUserXattr(n)) checkRetention(v, ino);
      const found = await prepareRemoveXattr(this.ctx, ino, n);
      const tagChange = tags && (await this.prepareTags(ino, n, tags, found, undefined));
      await this.storage.trans.hold(async () => {
        applyRemoveXattr(this.ctx, ino, found);
        if (tagChange) applyTagChange(this.ctx, ino, found.id, tagChange);
        v.ctime = this.env.now();
        c.dirty(ino);
        c.flush();
      });
    });
  }

  /** the names of the xattrs tagged scoutfs.hide., which listxattr leaves out (list-hidden-xattrs) */
  async listHiddenXattrs(ino: number): Promise<Buffer[]> {
    return this.locks.with(shared(ino), async () => {
      await new OpInodes(this.ctx).get(ino);
      return (await listXattrNames(this.ctx, ino)).filter((b) => storedXattrTags(b).hide);
    });
  }

  /** committed .totl. totals after `after` (from the first when undefined), up to limit */
  async xattrTotals(after: TotlName | undefined, limit: number): Promise<XattrTotal[]> {
    await this.settled();
    return readXattrTotals(this.storage.committed, after, limit);
  }

  /** committed .indx. entries from first to last, up to limit */
  async xattrIndex(first: IndxEntry, last: IndxEntry, limit: number): Promise<IndxEntry[]> {
    await this.settled();
    return readXattrIndex(this.storage.committed, first, last, limit);
  }

  /** inodes from nextIno on that may have the .srch. xattr name (committed), up to limit */
  async searchXattrs(name: Buffer, nextIno: number, limit: number): Promise<SrchResult> {
    if (!parseXattrTags(name).srch) throw new FsError("EINVAL", `xattr ${name.toString()} has no srch. tag`);
    await this.settled();
    return searchXattrs(this.storage.committed, this.ctx.hash(name), nextIno, U64_MAX, limit);
  }

  /* ---------------------------------------------------------------- */
  /* archive: offline blocks and the operations on them               */

  /** free the blocks of a block-aligned range and leave them offline (the original's release) */
  async releaseBlocks(ino: number, offset: number, length: number, dataVersion: number): Promise<void> {
    await this.locks.with(excl(ino), () => releaseOp(this.env, ino, offset, length, dataVersion));
  }

  /** write archived contents back without changing the inode's fields; returns the bytes written */
  async stage(ino: number, offset: number, data: Buffer, dataVersion: number): Promise<number> {
    try {
      return await this.locks.with(excl(ino), () => stageOp(this.env, ino, offset, data, dataVersion));
    } finally {
      this.waiters.changed(ino);
    }
  }

  /** turn the offline extents of a block-aligned range into holes */
  async punchOffline(ino: number, offset: number, length: number, dataVersion: number): Promise<void> {
    try {
      await this.locks.with(excl(ino), () => punchOfflineOp(this.env, ino, offset, length, dataVersion));
    } finally {
      this.waiters.changed(ino);
    }
  }

  /** move the extents of a range of from to a range of to (move_blocks.ts) */
  async moveBlocks(from: number, to: number, args: MoveBlocksArgs): Promise<void> {
    try {
      await this.locks.with(excl(from, to), () => moveBlocksOp(this.env, from, to, args));
    } finally {
      this.waiters.changed(to);
    }
  }

  /** data_version, size, offline contents and times of a file with no contents yet (setattr_more.ts) */
  async setattrMore(ino: number, args: SetattrMoreArgs): Promise<Attr> {
    return this.locks.with(excl(ino), () => setattrMoreOp(this.env, ino, args));
  }

  /** add (EEXIST if present) or delete (ENOENT if absent) a quota rule */
  async modQuotaRule(add: boolean, rule: QuotaRule): Promise<void> {
    this.requireV2("quotas");
    await this.quotaMutex.run(async () => {
      const apply = await this.quotas.prepareMod(add, rule);
      await this.storage.trans.hold(async () => apply());
    });
  }

  /** up to limit quota rules in storage order from position (hash, coll) */
  async listQuotaRules(hash: number, coll: number, limit: number): Promise<StoredQuotaRule[]> {
    this.requireV2("quotas");
    return this.quotas.list(hash, coll, limit);
  }

  /** the extensible attributes of an inode (get-attr-x); mask: the IAX bits asked for, checked against the format version */
  async getAttrX(ino: number, mask = IAX_ALL): Promise<AttrX> {
    this.checkAttrXMask(mask);
    return this.locks.with(shared(ino), async () => attrXOf(await new OpInodes(this.ctx).get(ino)));
  }

  /** set what the mask names of data_version, size, times, retention and project id (attr_x.ts) */
  async setAttrX(ino: number, a: AttrXSet): Promise<void> {
    this.checkAttrXMask(a.mask);
    await this.locks.with(excl(ino), () => setAttrXOp(this.env, ino, a));
  }

  /** the extents of a regular file from block fromBlock on, in order, at most max (fiemap) */
  async fiemap(ino: number, fromBlock = 0, max = Infinity): Promise<Extent[]> {
    checkOffset(fromBlock);
    return this.locks.with(shared(ino), async () => {
      const v = await new OpInodes(this.ctx).get(ino);
      if (!isRegMode(v.mode)) return [];
      return listExtents(this.ctx, ino, fromBlock, max);
    });
  }

  /* ---------------------------------------------------------------- */

  async statfs(): Promise<StatFs> {
    return statfs(this.storage);
  }
}

/** retention blocks changes of user. xattrs only (the others stay with the archive's tools) */
const isUserXattr = (name: Buffer): boolean => name.subarray(0, 5).toString("latin1") === "user.";

/** what writes to a file are checked against: its own project, owner and group */
const dataQuotaInput = (v: InodeVal): QuotaInput => ({ op: QUOTA_OP.data, proj: v.proj, uid: v.uid, gid: v.gid });
