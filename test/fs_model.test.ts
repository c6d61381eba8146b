/*
 * Property test: random sequences of namespace, data and xattr operations
 * at random paths run against the Filesystem and against a plain
 * in-memory model of a tree; every result and errno must agree, and at
 * the end the whole tree (names, types, sizes, link counts, contents,
 * symlink targets, xattrs, hard link identity) must match, open handles
 * of unlinked inodes must still read their contents, and once every
 * handle is released the items must pass the full consistency check
 * (no orphans, no leaked or shared data blocks, one index item each).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ROOT, newFs, type TestFs } from "./support/fs_harness.js";
import { fsCheck } from "./support/fs_check.js";
import { FsError, isFsError, type Errno } from "../src/util/errors.js";
import { isDirMode, isLnkMode } from "../src/format/fs_items.js";
import { RENAME_EXCHANGE, RENAME_NOREPLACE, XATTR_CREATE, XATTR_REPLACE } from "../src/fs/types.js";

/* ------------------------------------------------------------------ */
/* the model                                                           */

interface MBase {
  id: number;
  xattrs: Map<string, Buffer>;
}
interface MFile extends MBase {
  kind: "file";
  data: Buffer;
  nlink: number;
}
interface MSym extends MBase {
  kind: "sym";
  target: string;
  nlink: number;
}
interface MDir extends MBase {
  kind: "dir";
  entries: Map<string, MNode>;
  parent: MDir | null;
}
type MNode = MFile | MSym | MDir;

class MErr extends Error {
  constructor(readonly errno: Errno) {
    super(errno);
  }
}
const fail = (e: Errno): never => {
  throw new MErr(e);
};

class Model {
  nextId = 1;
  root: MDir = { kind: "dir", id: 0, entries: new Map(), parent: null, xattrs: new Map() };

  dir(path: string[]): MDir {
    let cur: MNode = this.root;
    for (const c of path) {
      if (cur.kind !== "dir") fail("ENOTDIR");
      const n: MNode | undefined = (cur as MDir).entries.get(c);
      if (!n) fail("ENOENT");
      cur = n!;
    }
    if (cur.kind !== "dir") fail("ENOTDIR");
    return cur as MDir;
  }

  node(path: string[]): MNode {
    const d = this.dir(path.slice(0, -1));
    return d.entries.get(path[path.length - 1]!) ?? fail("ENOENT");
  }

  make(path: string[], kind: "file" | "dir" | "sym", target = ""): MNode {
    const d = this.dir(path.slice(0, -1));
    const name = path[path.length - 1]!;
    if (d.entries.has(name)) fail("EEXIST");
    const base = { id: this.nextId++, xattrs: new Map<string, Buffer>() };
    const n: MNode =
      kind === "file"
        ? { ...base, kind, data: Buffer.alloc(0), nlink: 1 }
        : kind === "sym"
          ? { ...base, kind, target, nlink: 1 }
          : { ...base, kind, entries: new Map(), parent: d };
    d.entries.set(name, n);
    return n;
  }

  remove(path: string[], rmdir: boolean): void {
    const d = this.dir(path.slice(0, -1));
    const name = path[path.length - 1]!;
    const n = d.entries.get(name) ?? fail("ENOENT");
    if (rmdir) {
      if (n.kind !== "dir") fail("ENOTDIR");
      if ((n as MDir).entries.size > 0) fail("ENOTEMPTY");
    } else if (n.kind === "dir") fail("EISDIR");
    d.entries.delete(name);
    if (n.kind !== "dir") n.nlink--;
  }

  link(from: string[], to: string[]): MNode {
    const n = this.node(from);
    const d = this.dir(to.slice(0, -1));
    const name = to[to.length - 1]!;
    if (d.entries.has(name)) fail("EEXIST");
    if (n.kind === "dir") fail("EPERM");
    d.entries.set(name, n);
    (n as MFile).nlink++;
    return n;
  }

  static ancestorOrSelf(a: MNode, d: MDir): boolean {
    for (let p: MDir | null = d; p; p = p.parent) if (p === a) return true;
    return false;
  }

  rename(from: string[], to: string[], flags: number): void {
    const od = this.dir(from.slice(0, -1));
    const nd = this.dir(to.slice(0, -1));
    const on = from[from.length - 1]!;
    const nn = to[to.length - 1]!;
    if (flags & ~3 || flags === 3) fail("EINVAL");
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    const src = od.entries.get(on) ?? fail("ENOENT");
    const dst = nd.entries.get(nn);
    if (dst && flags & RENAME_NOREPLACE) fail("EEXIST");
    if (!dst && exchange) fail("ENOENT");
    if (od !== nd) {
      if (Model.ancestorOrSelf(src, nd)) fail("EINVAL");
      if (dst && Model.ancestorOrSelf(dst, od)) fail(exchange ? "EINVAL" : "ENOTEMPTY");
    }
    if (dst === src) return;
    if (!exchange && dst) {
      if (src.kind === "dir" && dst.kind !== "dir") fail("ENOTDIR");
      if (src.kind !== "dir" && dst.kind === "dir") fail("EISDIR");
      if (dst.kind === "dir" && dst.entries.size > 0) fail("ENOTEMPTY");
    }
    od.entries.delete(on);
    if (exchange) {
      nd.entries.set(nn, src);
      od.entries.set(on, dst!);
      if (dst!.kind === "dir") dst!.parent = od;
    } else {
      if (dst && dst.kind !== "dir") dst.nlink--;
      nd.entries.set(nn, src);
    }
    if (src.kind === "dir") src.parent = nd;
  }

  static file(n: MNode): MFile {
    if (n.kind === "dir") fail("EISDIR");
    if (n.kind === "sym") fail("EINVAL");
    return n as MFile;
  }

  static write(n: MNode, off: number, d: Buffer): void {
    const f = Model.file(n);
    if (off + d.length > f.data.length) f.data = Buffer.concat([f.data, Buffer.alloc(off + d.length - f.data.length)]);
    d.copy(f.data, off);
  }

  static truncate(n: MNode, size: number): void {
    const f = Model.file(n);
    f.data = size <= f.data.length ? Buffer.from(f.data.subarray(0, size)) : Buffer.concat([f.data, Buffer.alloc(size - f.data.length)]);
  }

  static setxattr(n: MNode, name: string, value: Buffer, flags: number): void {
    const has = n.xattrs.has(name);
    if (has && flags & XATTR_CREATE) fail("EEXIST");
    if (!has && flags & XATTR_REPLACE) fail("ENODATA");
    n.xattrs.set(name, value);
  }

  static removexattr(n: MNode, name: string): void {
    if (!n.xattrs.delete(name)) fail("ENODATA");
  }
}

/* ------------------------------------------------------------------ */
/* the same operations on the Filesystem, by path                      */

class Real {
  constructor(readonly t: TestFs) {}

  async dir(path: string[]): Promise<number> {
    let ino = ROOT;
    for (const c of path) ino = (await this.t.fs.lookup(ino, c)).ino;
    if (!isDirMode((await this.t.fs.getattr(ino)).mode)) throw new FsError("ENOTDIR");
    return ino;
  }

  async node(path: string[]): Promise<number> {
    const d = await this.dir(path.slice(0, -1));
    return (await this.t.fs.lookup(d, path[path.length - 1]!)).ino;
  }
}

/* ------------------------------------------------------------------ */
/* operations                                                          */

const name = fc.constantFrom("a", "b", "c");
const path = fc.oneof(
  { weight: 3, arbitrary: fc.array(name, { minLength: 1, maxLength: 1 }) },
  { weight: 4, arbitrary: fc.array(name, { minLength: 2, maxLength: 2 }) },
  { weight: 2, arbitrary: fc.array(name, { minLength: 3, maxLength: 3 }) },
);
const xname = fc.constantFrom("user.x", "user.y", "trusted.z");
const xvalue = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => Buffer.from(s)),
  fc.integer({ min: 800, max: 3000 }).map((n) => Buffer.alloc(n, n & 0xff)),
);

const opArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("create" as const), p: path }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("mkdir" as const), p: path }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("symlink" as const), p: path, target: fc.string({ minLength: 1, maxLength: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("unlink" as const), p: path }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("rmdir" as const), p: path }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("rename" as const), p: path, q: path, flags: fc.constantFrom(0, 0, 1, 2, 3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("link" as const), p: path, q: path }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant("write" as const), p: path, off: fc.integer({ min: 0, max: 20_000 }), len: fc.integer({ min: 1, max: 9000 }), seed: fc.nat(250) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), p: path, size: fc.integer({ min: 0, max: 25_000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("setxattr" as const), p: path, name: xname, value: xvalue, flags: fc.constantFrom(0, 0, 1, 2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("removexattr" as const), p: path, name: xname }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("open" as const), p: path }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("release" as const), i: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("hwrite" as const), i: fc.nat(), off: fc.integer({ min: 0, max: 20_000 }), len: fc.integer({ min: 1, max: 5000 }), seed: fc.nat(250) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("sync" as const) }) },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i + seed * 7) & 0xff;
  return b;
}

const stats: Map<string, number> | undefined = process.env.FS_MODEL_STATS ? new Map() : undefined;

interface Handle {
  ino: number;
  node: MNode;
}

async function outcome(f: () => unknown): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    if (e instanceof MErr || isFsError(e)) return e.errno;
    throw e;
  }
}

async function runOp(m: Model, r: Real, handles: Handle[], op: Op): Promise<void> {
  const fs = r.t.fs;
  const both = async (model: () => unknown, real: () => Promise<unknown>) => {
    const want = await outcome(model);
    const got = await outcome(real);
    if (stats) stats.set(`${op.op}:${got}`, (stats.get(`${op.op}:${got}`) ?? 0) + 1);
    assert.equal(got, want, `${JSON.stringify(op)}`);
  };
  const last = (p: string[]) => p[p.length - 1]!;
  const parent = (p: string[]) => p.slice(0, -1);
  switch (op.op) {
    case "create":
      return both(() => m.make(op.p, "file"), async () => fs.create(await r.dir(parent(op.p)), last(op.p), 0o644, 0, 0));
    case "mkdir":
      return both(() => m.make(op.p, "dir"), async () => fs.mkdir(await r.dir(parent(op.p)), last(op.p), 0o755, 0, 0));
    case "symlink":
      return both(() => m.make(op.p, "sym", op.target), async () => fs.symlink(await r.dir(parent(op.p)), last(op.p), op.target, 0, 0));
    case "unlink":
      return both(() => m.remove(op.p, false), async () => fs.unlink(await r.dir(parent(op.p)), last(op.p)));
    case "rmdir":
      return both(() => m.remove(op.p, true), async () => fs.rmdir(await r.dir(parent(op.p)), last(op.p)));
    case "link":
      return both(
        () => m.link(op.p, op.q),
        async () => {
          const ino = await r.node(op.p);
          return fs.link(ino, await r.dir(parent(op.q)), last(op.q));
        },
      );
    case "rename":
      return both(
        () => m.rename(op.p, op.q, op.flags),
        async () => {
          const od = await r.dir(parent(op.p));
          const nd = await r.dir(parent(op.q));
          return fs.rename(od, last(op.p), nd, last(op.q), op.flags);
        },
      );
    case "write": {
      const d = pattern(op.len, op.seed);
      return both(
        () => Model.write(m.node(op.p), op.off, d),
        async () => assert.equal(await fs.write(await r.node(op.p), op.off, d), op.len),
      );
    }
    case "truncate":
      return both(() => Model.truncate(m.node(op.p), op.size), async () => fs.setattr(await r.node(op.p), { size: op.size }));
    case "setxattr":
      return both(
        () => Model.setxattr(m.node(op.p), op.name, op.value, op.flags),
        async () => fs.setxattr(await r.node(op.p), op.name, op.value, op.flags),
      );
    case "removexattr":
      return both(() => Model.removexattr(m.node(op.p), op.name), async () => fs.removexattr(await r.node(op.p), op.name));
    case "open": {
      let node: MNode | undefined;
      let ino = 0;
      await both(
        () => (node = m.node(op.p)),
        async () => {
          ino = await r.node(op.p);
          await fs.open(ino);
        },
      );
      if (node) handles.push({ ino, node });
      return;
    }
    case "release": {
      if (handles.length === 0) return;
      const [h] = handles.splice(op.i % handles.length, 1);
      return fs.release(h!.ino);
    }
    case "hwrite": {
      if (handles.length === 0) return;
      const h = handles[op.i % handles.length]!;
      const d = pattern(op.len, op.seed);
      return both(() => Model.write(h.node, op.off, d), () => fs.write(h.ino, op.off, d));
    }
    case "sync":
      return fs.fsync(ROOT);
  }
}

/** every run starts from this tree, so that random paths often exist */
const SETUP: Op[] = [
  { op: "mkdir", p: ["a"] },
  { op: "mkdir", p: ["a", "a"] },
  { op: "mkdir", p: ["c"] },
  { op: "create", p: ["b"] },
  { op: "create", p: ["a", "b"] },
  { op: "create", p: ["a", "a", "b"] },
  { op: "create", p: ["c", "b"] },
  { op: "mkdir", p: ["c", "a"] },
  { op: "write", p: ["b"], off: 100, len: 5000, seed: 1 },
  { op: "symlink", p: ["a", "c"], target: "../b" },
];

/** compare the whole tree; ids maps model ids to inode numbers (hard links share one) */
async function compareTree(m: Model, r: Real, ids: Map<number, number>): Promise<void> {
  const fs = r.t.fs;
  const sameIno = (n: MNode, ino: number) => {
    const known = ids.get(n.id);
    if (known === undefined) ids.set(n.id, ino);
    else assert.equal(ino, known, "hard links are one inode");
  };
  const walk = async (ino: number, d: MDir): Promise<void> => {
    const names: string[] = [];
    for (let pos = 2; ; ) {
      const ents = await fs.readdir(ino, pos, 2);
      if (ents.length === 0) break;
      names.push(...ents.map((e) => e.name));
      pos = ents[ents.length - 1]!.nextPos;
    }
    assert.deepEqual(names.sort(), [...d.entries.keys()].sort());
    const a = await fs.getattr(ino);
    assert.equal(a.nlink, 2 + [...d.entries.values()].filter((n) => n.kind === "dir").length);
    await compareXattrs(ino, d);
    for (const [nm, n] of d.entries) {
      const c = await fs.lookup(ino, nm);
      sameIno(n, c.ino);
      if (n.kind === "dir") {
        assert.ok(isDirMode(c.mode));
        await walk(c.ino, n);
      } else if (n.kind === "sym") {
        assert.ok(isLnkMode(c.mode));
        assert.equal((await fs.readlink(c.ino)).toString(), n.target);
        assert.equal(c.nlink, n.nlink);
        await compareXattrs(c.ino, n);
      } else {
        assert.equal(c.size, n.data.length);
        assert.equal(c.nlink, n.nlink);
        assert.deepEqual(await fs.read(c.ino, 0, n.data.length + 100), n.data);
        await compareXattrs(c.ino, n);
      }
    }
  };
  const compareXattrs = async (ino: number, n: MNode) => {
    assert.deepEqual((await fs.listxattr(ino)).sort(), [...n.xattrs.keys()].sort());
    for (const [k, v] of n.xattrs) assert.deepEqual(await fs.getxattr(ino, k), v);
  };
  await walk(ROOT, m.root);
}

test("random operations agree with a model of the tree", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 150, size: "medium" }), async (ops) => {
      const t = newFs();
      const m = new Model();
      const r = new Real(t);
      const handles: Handle[] = [];
      for (const op of [...SETUP, ...ops]) await runOp(m, r, handles, op);
      await compareTree(m, r, new Map());
      for (const h of handles) {
        if (h.node.kind === "file") assert.deepEqual(await t.fs.read(h.ino, 0, h.node.data.length + 10), h.node.data);
        else await t.fs.getattr(h.ino);
      }
      assert.deepEqual(fsCheck(t.st), [], "consistent with handles open");
      for (const h of handles) await t.fs.release(h.ino);
      assert.deepEqual(fsCheck(t.st), []);
      const orphans = t.st.items.all().filter((kv) => kv.key[0] === 8);
      assert.equal(orphans.length, 0, "no orphans once everything is released");
    }),
    { numRuns: 300 },
  );
  if (stats) console.log([...stats.entries()].sort().map(([k, v]) => `${k} ${v}`).join("\n"));
});
