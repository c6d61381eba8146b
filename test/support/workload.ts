/*
 * A random workload applied to a mount and to a plain model side by side.
 * The model knows paths, inodes (so hard links share contents), file
 * contents, symlink targets and user xattrs; every operation's outcome
 * (success or errno) must match the model's.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Mount } from "../../src/client/mount.js";
import type { Filesystem } from "../../src/fs/filesystem.js";
import { FsError, isFsError } from "../../src/util/errors.js";

interface MNode {
  kind: "file" | "dir" | "link";
  data: Buffer;
  target: string;
  xattrs: Map<string, Buffer>;
}

export class FsModel {
  paths = new Map<string, MNode>();
  nextId = 0;

  children(dir: string): string[] {
    const pre = dir === "" ? "/" : `${dir}/`;
    return [...this.paths.keys()].filter((p) => p.startsWith(pre) && !p.slice(pre.length).includes("/"));
  }

  dirs(): string[] {
    return ["", ...[...this.paths.entries()].filter(([, n]) => n.kind === "dir").map(([p]) => p)];
  }

  snapshot(): [string, string][] {
    const out: [string, string][] = [];
    for (const [p, n] of this.paths) out.push([p, describe(n.kind, n.data, n.target, n.xattrs)]);
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

function describe(kind: string, data: Buffer, target: string, xattrs: Map<string, Buffer>): string {
  const xs = [...xattrs.entries()].sort().map(([k, v]) => `${k}=${v.toString("hex")}`).join(",");
  if (kind === "dir") return `dir [${xs}]`;
  if (kind === "link") return `link ${target}`;
  return `file ${data.length} ${createHash("sha1").update(data).digest("hex")} [${xs}]`;
}

export async function fsSnapshot(fs: Filesystem): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const walk = async (dir: number, prefix: string) => {
    let pos = 0;
    for (;;) {
      const batch = await fs.readdir(dir, pos, 100);
      if (batch.length === 0) break;
      pos = batch[batch.length - 1]!.nextPos;
      for (const e of batch) {
        if (e.name === "." || e.name === "..") continue;
        const path = `${prefix}/${e.name}`;
        const a = await fs.getattr(e.ino);
        const type = a.mode & 0o170000;
        const xattrs = new Map<string, Buffer>();
        if (type !== 0o120000) {
          for (const n of (await fs.listxattr(e.ino)) as string[]) xattrs.set(n, (await fs.getxattr(e.ino, n)) as Buffer);
        }
        if (type === 0o040000) {
          out.push([path, describe("dir", Buffer.alloc(0), "", xattrs)]);
          await walk(e.ino, path);
        } else if (type === 0o120000) {
          out.push([path, describe("link", Buffer.alloc(0), (await fs.readlink(e.ino)).toString(), xattrs)]);
        } else {
          const data = a.size ? await fs.read(e.ino, 0, a.size) : Buffer.alloc(0);
          out.push([path, describe("file", data, "", xattrs)]);
        }
      }
    }
  };
  await walk(1, "");
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function lookupPath(fs: Filesystem, path: string): Promise<number> {
  let ino = 1;
  for (const part of path.split("/").filter(Boolean)) ino = (await fs.lookup(ino, part)).ino;
  return ino;
}

const split = (p: string): [string, string] => {
  const i = p.lastIndexOf("/");
  return [p.slice(0, i), p.slice(i + 1)];
};

export interface Op {
  kind: number;
  a: number;
  b: number;
  c: number;
}

/** expect fn to fail with errno, or to succeed when errno is undefined */
async function expectOutcome(errno: string | undefined, fn: () => Promise<unknown>, what: string): Promise<boolean> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof FsError)) throw e;
    assert.equal(e.errno, errno, `${what}: got ${e.errno}, model expected ${errno ?? "success"}`);
    return false;
  }
  assert.equal(undefined, errno, `${what}: succeeded, model expected ${errno}`);
  return true;
}

/** apply one op to the mount and the model */
export async function applyOp(m: Mount, model: FsModel, op: Op, n: number): Promise<void> {
  const fs = m.fs;
  const all = [...model.paths.keys()];
  const dirs = model.dirs();
  const pickAny = (x: number) => (all.length ? all[x % all.length]! : "/none");
  const pickDir = (x: number) => dirs[x % dirs.length]!;
  const name = (x: number) => `n${x % 23}`;
  switch (op.kind % 10) {
    case 0: case 1: {
      // create a file (EEXIST when the name exists)
      const dir = pickDir(op.a);
      const path = `${dir}/${name(op.b)}`;
      const errno = model.paths.has(path) ? "EEXIST" : undefined;
      if (await expectOutcome(errno, async () => fs.create(await lookupPath(fs, dir), name(op.b), 0o100644, 0, 0), `create ${path}`)) {
        model.paths.set(path, { kind: "file", data: Buffer.alloc(0), target: "", xattrs: new Map() });
      }
      return;
    }
    case 2: {
      const dir = pickDir(op.a);
      const path = `${dir}/${name(op.b)}`;
      const errno = model.paths.has(path) ? "EEXIST" : undefined;
      if (await expectOutcome(errno, async () => fs.mkdir(await lookupPath(fs, dir), name(op.b), 0o40755, 0, 0), `mkdir ${path}`)) {
        model.paths.set(path, { kind: "dir", data: Buffer.alloc(0), target: "", xattrs: new Map() });
      }
      return;
    }
    case 3: {
      // write at an offset into an existing file
      const path = pickAny(op.a);
      const node = model.paths.get(path);
      if (!node || node.kind !== "file") return;
      const off = op.b % 70000;
      const data = Buffer.alloc(1 + (op.c % 20000), n & 0xff);
      await fs.write(await lookupPath(fs, path), off, data);
      const next = Buffer.alloc(Math.max(node.data.length, off + data.length));
      node.data.copy(next);
      data.copy(next, off);
      node.data = next;
      return;
    }
    case 4: {
      const path = pickAny(op.a);
      const node = model.paths.get(path);
      if (!node || node.kind !== "file") return;
      const size = op.b % 80000;
      await fs.setattr(await lookupPath(fs, path), { size });
      const next = Buffer.alloc(size);
      node.data.copy(next, 0, 0, Math.min(size, node.data.length));
      node.data = next;
      return;
    }
    case 5: {
      // unlink or rmdir
      const path = pickAny(op.a);
      const node = model.paths.get(path);
      if (!node) return;
      const [dir, nm] = split(path);
      if (node.kind === "dir") {
        const errno = model.children(path).length ? "ENOTEMPTY" : undefined;
        if (await expectOutcome(errno, async () => fs.rmdir(await lookupPath(fs, dir), nm), `rmdir ${path}`)) model.paths.delete(path);
      } else {
        await fs.unlink(await lookupPath(fs, dir), nm);
        model.paths.delete(path);
      }
      return;
    }
    case 6: {
      // rename a file or symlink onto a name in some directory (replacing a file there)
      const path = pickAny(op.a);
      const node = model.paths.get(path);
      if (!node || node.kind === "dir") return;
      const to = `${pickDir(op.b)}/${name(op.c)}`;
      const existing = model.paths.get(to);
      // Linux checks "target is an ancestor of the source" (ENOTEMPTY) before the type mismatch (EISDIR)
      const errno = existing?.kind === "dir" ? (path.startsWith(`${to}/`) ? "ENOTEMPTY" : "EISDIR") : undefined;
      const [fd, fn] = split(path);
      const [td, tn] = split(to);
      if (await expectOutcome(errno, async () => fs.rename(await lookupPath(fs, fd), fn, await lookupPath(fs, td), tn), `rename ${path} ${to}`)) {
        if (path !== to) {
          model.paths.set(to, node);
          model.paths.delete(path);
        }
      }
      return;
    }
    case 7: {
      // hard link a file
      const path = pickAny(op.a);
      const node = model.paths.get(path);
      if (!node || node.kind !== "file") return;
      const to = `${pickDir(op.b)}/${name(op.c)}`;
      const errno = model.paths.has(to) ? "EEXIST" : undefined;
      const [td, tn] = split(to);
      if (await expectOutcome(errno, async () => fs.link(await lookupPath(fs, path), await lookupPath(fs, td), tn), `link ${path} ${to}`)) {
        model.paths.set(to, node);
      }
      return;
    }
    case 8: {
      const to = `${pickDir(op.a)}/${name(op.b)}`;
      const target = `t${op.c}`.repeat(1 + (op.c % 300));
      const errno = model.paths.has(to) ? "EEXIST" : undefined;
      const [td, tn] = split(to);
      if (await expectOutcome(errno, async () => fs.symlink(await lookupPath(fs, td), tn, target, 0, 0), `symlink ${to}`)) {
        model.paths.set(to, { kind: "link", data: Buffer.alloc(0), target, xattrs: new Map() });
      }
      return;
    }
    case 9: {
      // set or remove a user xattr
      const path = pickAny(op.a);
      const node = model.paths.get(path);
      if (!node || node.kind === "link") return;
      const xname = `user.x${op.b % 5}`;
      const ino = await lookupPath(fs, path);
      if (op.c % 3 === 0) {
        const errno = node.xattrs.has(xname) ? undefined : "ENODATA";
        if (await expectOutcome(errno, () => fs.removexattr(ino, xname), `removexattr ${path}`)) node.xattrs.delete(xname);
      } else {
        const value = Buffer.alloc(op.c % 3000, op.b & 0xff);
        await fs.setxattr(ino, xname, value);
        node.xattrs.set(xname, value);
      }
      return;
    }
  }
}

export { isFsError };
