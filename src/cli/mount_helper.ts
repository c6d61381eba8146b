#!/usr/bin/env node
/*
 * mount.scoutfs: what mount(8) runs for `mount -t scoutfs ...`, as
 *
 *   mount.scoutfs SPEC DIR [-sfnvr] [-N NS] [-o OPTIONS] [-t TYPE]
 *
 * (the flags may come before or after the two operands).  Generic mount(8)
 * options (rw, defaults, _netdev, x-*, ...) are dropped; the rest must be
 * scoutfs options.  -f (fake) only validates; -r/ro is refused (scoutfs
 * mounts are read-write); -n/-s/-v are accepted (-v prints progress).
 * Errors are one line on stderr with mount(8)'s status 32 for a failed
 * mount and 1 for bad usage.
 */
import { mountCommand, stripGenericOptions } from "./daemon.js";
import { UsageError } from "./parse.js";
import { rethrowBugs } from "../util/errors.js";

export async function helperMain(argv: string[]): Promise<number> {
  const pos: string[] = [];
  const opts: string[] = [];
  let fake = false;
  let verbose = false;
  let ro = false;
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === "-o" || a === "-t" || a === "-N") {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`option ${a} needs a value`);
        if (a === "-o") opts.push(v);
        continue;
      }
      if (a.startsWith("-o") && a.length > 2) {
        opts.push(a.slice(2));
        continue;
      }
      if (/^-[sfnvrw]+$/.test(a)) {
        if (a.includes("f")) fake = true;
        if (a.includes("v")) verbose = true;
        if (a.includes("r")) ro = true;
        continue;
      }
      if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown flag ${a}`);
      pos.push(a);
    }
    if (pos.length !== 2) throw new UsageError("usage: mount.scoutfs DATA-DEVICE MOUNTPOINT -o metadev_path=META-DEVICE[,OPTIONS]");
    const options = stripGenericOptions(opts.join(","));
    if (ro || options.split(",").includes("ro")) throw new UsageError("read-only mounts are not supported");
    await mountCommand({
      options,
      data: pos[0]!,
      mountpoint: pos[1]!,
      fake,
      verbose: verbose ? (s) => process.stderr.write(s + "\n") : undefined,
    });
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mount.scoutfs: ${e.message}\n`);
      return 1;
    }
    rethrowBugs(e);
    process.stderr.write(`mount.scoutfs: mount failed: ${(e as Error).message}\n`);
    return 32;
  }
}

process.exitCode = await helperMain(process.argv.slice(2));
