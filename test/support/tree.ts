/*
 * Reading a whole filesystem tree into a plain, comparable form, and a
 * simple model of a tree that tests drive alongside the real one.
 */
import { createHash } from "node:crypto";
import type { Filesystem } from "../../src/fs/filesystem.js";

export type TreeSnapshot = Map<string, string>;

/** path -> "dir" | "file <size> <sha1>" | "link <target>" for every entry under the root */
export async function readTree(fs: Filesystem): Promise<TreeSnapshot> {
  const out: TreeSnapshot = new Map();
  const walk = async (dir: number, prefix: string) => {
    let pos = 0;
    for (;;) {
      const batch = await fs.readdir(dir, pos, 128);
      if (batch.length === 0) break;
      pos = batch[batch.length - 1]!.nextPos;
      for (const e of batch) {
        if (e.name === "." || e.name === "..") continue;
        const path = `${prefix}/${e.name}`;
        const a = await fs.getattr(e.ino);
        const type = a.mode & 0o170000;
        if (type === 0o040000) {
          out.set(path, "dir");
          await walk(e.ino, path);
        } else if (type === 0o120000) {
          out.set(path, `link ${(await fs.readlink(e.ino)).toString()}`);
        } else {
          const data = a.size > 0 ? await fs.read(e.ino, 0, a.size) : Buffer.alloc(0);
          out.set(path, `file ${a.size} ${createHash("sha1").update(data).digest("hex")}`);
        }
      }
    }
  };
  await walk(1, "");
  return out;
}

/** the model: path -> content (undefined for a directory) */
export class TreeModel {
  entries = new Map<string, Buffer | undefined>();

  snapshot(): TreeSnapshot {
    const out: TreeSnapshot = new Map();
    for (const [p, c] of [...this.entries.entries()].sort()) {
      out.set(p, c === undefined ? "dir" : `file ${c.length} ${createHash("sha1").update(c).digest("hex")}`);
    }
    return out;
  }
}

export function sortedSnapshot(s: TreeSnapshot): [string, string][] {
  return [...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
