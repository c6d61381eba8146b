/*
 * The model behind the multi-process stress test (fuse_stress.test.ts).
 *
 * Each worker owns the names it creates (w<id>-<n> in the shared
 * directories) and the race names it wins (race-<k> in d0, taken with
 * link(2) so exactly one worker gets each, and never removed).  Every op is
 * one system call that changes the filesystem, so after a crash each
 * worker's files must look like the model after some prefix of its ops:
 * at least up to its last fsync (a commit covers everything before it).
 * One system call may reach the daemon as several requests (the kernel
 * ends a write request at a partly written page), so the op where the
 * prefix ends may be a write cut at a page boundary.
 *
 * The model is plain data (JSON-able) so a worker can hand it to the test:
 * paths map to inode keys (hard links share one), inode keys to contents.
 * Write data is made from a per-op seed, so op logs stay small.
 */
import { createHash } from "node:crypto";

export const STRESS_DIRS = ["d0", "d1", "d2", "d3"];

export type StressOp =
  | { op: "create"; path: string }
  | { op: "write"; path: string; offset: number; len: number; seed: number }
  | { op: "truncate"; path: string; size: number }
  | { op: "rename"; from: string; to: string }
  | { op: "link"; from: string; to: string }
  | { op: "unlink"; path: string }
  | { op: "fsync"; path: string };

export interface StressState {
  /** path (relative to the mount) -> inode key */
  paths: Record<string, number>;
  /** inode key -> contents, base64 */
  contents: Record<string, string>;
  nextInode: number;
}

export function emptyState(): StressState {
  return { paths: {}, contents: {}, nextInode: 1 };
}

/** a xorshift32 generator from seed: each call gives the next u32 */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** the bytes a write op writes */
export function opData(seed: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const next = xorshift32(seed);
  for (let i = 0; i < len; i += 4) {
    const x = next();
    if (i + 4 <= len) b.writeUInt32LE(x, i);
    else for (let j = i; j < len; j++) b[j] = (x >>> (8 * (j - i))) & 0xff;
  }
  return b;
}

function content(s: StressState, path: string): Buffer {
  const ino = s.paths[path];
  if (ino === undefined) throw new Error(`model: no ${path}`);
  return Buffer.from(s.contents[ino] ?? "", "base64");
}

function setContent(s: StressState, path: string, b: Buffer): void {
  s.contents[s.paths[path]!] = b.toString("base64");
}

function dropIfUnreferenced(s: StressState, ino: number): void {
  if (!Object.values(s.paths).includes(ino)) delete s.contents[ino];
}

/** apply one op that succeeded on the filesystem (mutates s) */
export function applyStressOp(s: StressState, o: StressOp): void {
  switch (o.op) {
    case "create": {
      const ino = s.nextInode++;
      s.paths[o.path] = ino;
      s.contents[ino] = "";
      return;
    }
    case "write": {
      const old = content(s, o.path);
      const end = o.offset + o.len;
      const b = Buffer.alloc(Math.max(old.length, end));
      old.copy(b);
      opData(o.seed, o.len).copy(b, o.offset);
      setContent(s, o.path, b);
      return;
    }
    case "truncate": {
      const old = content(s, o.path);
      const b = Buffer.alloc(o.size);
      old.copy(b, 0, 0, Math.min(old.length, o.size));
      setContent(s, o.path, b);
      return;
    }
    case "rename": {
      const ino = s.paths[o.from]!;
      const replaced = s.paths[o.to];
      if (replaced === ino) return; // two links to one inode: POSIX says rename does nothing
      delete s.paths[o.from];
      s.paths[o.to] = ino;
      if (replaced !== undefined && replaced !== ino) dropIfUnreferenced(s, replaced);
      return;
    }
    case "link":
      s.paths[o.to] = s.paths[o.from]!;
      return;
    case "unlink": {
      const ino = s.paths[o.path]!;
      delete s.paths[o.path];
      dropIfUnreferenced(s, ino);
      return;
    }
    case "fsync":
      return;
  }
}

export function cloneState(s: StressState): StressState {
  return { paths: { ...s.paths }, contents: { ...s.contents }, nextInode: s.nextInode };
}

/** path -> sha256 of contents: what a tree listing is compared with */
export function stateDigest(s: StressState): Map<string, string> {
  const m = new Map<string, string>();
  for (const [p, ino] of Object.entries(s.paths)) {
    m.set(p, createHash("sha256").update(Buffer.from(s.contents[ino] ?? "", "base64")).digest("hex"));
  }
  return m;
}

/** what one worker tells the test when it stops */
export interface StressReport {
  id: number;
  /** the state it started from */
  initial: StressState;
  /** ops that succeeded, in order */
  ops: StressOp[];
  /** ops[0..durableOps) were followed by a successful fsync */
  durableOps: number;
  /** the op that failed when the filesystem went away, if any */
  inFlight: StressOp | null;
  /** why it stopped: "deadline" or the error */
  stopped: string;
  /** link(2) attempts on race names that found them taken */
  raceLosses: number;
}
