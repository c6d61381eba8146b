/*
 * A whole filesystem tree in a plain, comparable form (path -> what is
 * there, in the format of fsSnapshot), and a simple model of a tree of
 * files and directories for tests that drive one alongside the real fs.
 */
import { createHash } from "node:crypto";
import type { Filesystem } from "../../src/fs/filesystem.js";
import { fsSnapshot } from "./workload.js";

export type TreeSnapshot = Map<string, string>;

/** path -> "dir []" | "file <size> <sha1> [xattrs]" | "link <target>" for every entry under the root */
export async function readTree(fs: Filesystem): Promise<TreeSnapshot> {
  return new Map(await fsSnapshot(fs));
}

/** the model: path -> content (undefined for a directory); no xattrs */
export class TreeModel {
  entries = new Map<string, Buffer | undefined>();

  snapshot(): TreeSnapshot {
    const out: TreeSnapshot = new Map();
    for (const [p, c] of [...this.entries.entries()].sort()) {
      out.set(p, c === undefined ? "dir []" : `file ${c.length} ${createHash("sha1").update(c).digest("hex")} []`);
    }
    return out;
  }
}

export function sortedSnapshot(s: TreeSnapshot): [string, string][] {
  return [...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
