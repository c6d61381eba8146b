/*
 * Helpers for tests of the fs layer: a Filesystem over a fresh
 * MemStorage, errno assertions, and the consistency check.
 */
import assert from "node:assert/strict";
import { Filesystem } from "../../src/fs/filesystem.js";
import type { FsOptions } from "../../src/fs/types.js";
import { MemStorage, type MemStorageOptions } from "./mem_storage.js";
import { fsCheck } from "./fs_check.js";
import { isFsError, type Errno } from "../../src/util/errors.js";
import { nameHash } from "../../src/format/fs_items.js";

export const ROOT = 1;

export interface TestFs {
  fs: Filesystem;
  st: MemStorage;
  hash: (name: Buffer) => number;
}

export function newFs(opts: FsOptions & MemStorageOptions = {}): TestFs {
  const st = new MemStorage(opts);
  const fs = new Filesystem(st, { atime: "noatime", ...opts });
  return { fs, st, hash: opts.nameHash ?? nameHash };
}

export async function expectErrno(p: Promise<unknown>, errno: Errno): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    if (!isFsError(e)) throw e;
    assert.equal(e.errno, errno, `expected ${errno}, got ${e.message}`);
    return true;
  });
}

/** the items are consistent once the changes answered so far are made */
export async function assertConsistent(t: TestFs): Promise<void> {
  await t.fs.settled();
  assert.deepEqual(fsCheck(t.st, t.hash), []);
}

/** names of a directory (without . and ..), read in batches of n */
export async function listNames(fs: Filesystem, dir: number, n = 1000): Promise<string[]> {
  const out: string[] = [];
  let pos = 2;
  for (;;) {
    const ents = await fs.readdir(dir, pos, n);
    if (ents.length === 0) return out;
    for (const e of ents) out.push(e.name);
    pos = ents[ents.length - 1]!.nextPos;
  }
}
