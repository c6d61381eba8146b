/*
 * Errors at the filesystem boundary are values with an errno name, never
 * thrown strings.  FsError carries the errno name (ENOENT, EIO, ...) and
 * a human message; the FUSE layer maps the name to the negative number
 * the kernel expects, the CLI prints the message.  Programmer errors
 * (TypeError, AssertionError) are never converted into FsError: catch
 * blocks rethrow them.
 */
import { constants as osConstants } from "node:os";

export type Errno = keyof typeof osConstants.errno;

/**
 * Errnos that are ordinary answers, not failures: a lookup of a missing
 * name, a create of an existing one, a missing xattr.  They are thrown on
 * hot paths (every create looks its name up first), and capturing a stack
 * costs several times a cache lookup, so these carry none; every other
 * FsError keeps its stack for the logs.
 */
const ANSWER_ERRNOS: ReadonlySet<Errno> = new Set<Errno>(["ENOENT", "EEXIST", "ENODATA"]);

export class FsError extends Error {
  readonly errno: Errno;
  constructor(errno: Errno, message?: string) {
    const stackLimit = Error.stackTraceLimit;
    if (ANSWER_ERRNOS.has(errno)) Error.stackTraceLimit = 0;
    try {
      super(message ? `${errno}: ${message}` : errno);
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
    this.errno = errno;
    this.name = "FsError";
  }
  /** the positive errno number of this error on this platform */
  get code(): number {
    return osConstants.errno[this.errno];
  }
}

/** the errno name of a positive errno number on this platform, if it has one */
export function errnoOfNumber(num: number): Errno | undefined {
  return (Object.keys(osConstants.errno) as Errno[]).find((k) => osConstants.errno[k] === num);
}

/** Corruption: a metadata block failed verification.  Surfaced as EIO. */
export class CorruptionError extends FsError {
  readonly blkno: number;
  readonly problem: string;
  constructor(blkno: number, problem: string) {
    super("EIO", `corrupt metadata block ${blkno}: ${problem}`);
    this.blkno = blkno;
    this.problem = problem;
    this.name = "CorruptionError";
  }
}

/** A block whose header seq differs from the ref: freed and reused since the ref was read. */
export class StaleBlockError extends CorruptionError {
  constructor(blkno: number, problem: string) {
    super(blkno, problem);
    this.name = "StaleBlockError";
  }
}

export function isFsError(e: unknown, errno?: Errno): e is FsError {
  return e instanceof FsError && (errno === undefined || e.errno === errno);
}

/** Throw an assertion failure: a bug, never an operating error. */
export function assert(cond: unknown, what = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionFailure(what);
}

export class AssertionFailure extends Error {
  constructor(what: string) {
    super(what);
    this.name = "AssertionFailure";
  }
}

/** Rethrow anything that is not an operating error. */
export function rethrowBugs(e: unknown): void {
  if (e instanceof TypeError || e instanceof RangeError || e instanceof AssertionFailure || e instanceof ReferenceError) throw e;
}
