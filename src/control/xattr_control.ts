/*
 * A mount's answers to the xattr tag commands.  Permission as the
 * original's ioctls: list-hidden-xattrs needs read access to the file;
 * search-xattrs, read-xattr-totals and read-xattr-index need
 * CAP_SYS_ADMIN.  The readers answer from committed items (see
 * fs/xattr_tag_read.ts), in batches of at most BATCH_MAX.
 */
import type { MountControlContext } from "./mount_control.js";
import type { ControlHandlers } from "./server.js";
import type { IndxEntryWire, TotlNameWire, XattrOps } from "./xattr_protocol.js";
import { MAY_READ, requireAccess, requireSysAdmin } from "./caller.js";
import { argsObject, stringArg, u64Value, uintArg } from "./args.js";
import { compareIndxEntries, type IndxEntry } from "../fs/xattr_tag_read.js";
import { XATTR_MAX_NAME_LEN } from "../format/constants.js";
import { FsError } from "../util/errors.js";

type XattrHandlers = Pick<ControlHandlers, keyof XattrOps>;

const BATCH_MAX = 4096;

function totlNameArg(v: unknown): [bigint, bigint, bigint] | undefined {
  if (v === null || v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== 3) throw new FsError("EINVAL", "readXattrTotals: after must be three u64 strings");
  return [u64Value("readXattrTotals", v[0], "after"), u64Value("readXattrTotals", v[1], "after"), u64Value("readXattrTotals", v[2], "after")];
}

function indxEntryArg(v: unknown, what: string): IndxEntry {
  const o = argsObject(`readXattrIndex ${what}`, v);
  const major = uintArg("readXattrIndex", o, "major");
  if (major > 255) throw new FsError("EINVAL", `readXattrIndex: ${what}.major ${major} is not below 256`);
  return { major, minor: u64Value("readXattrIndex", o.minor, `${what}.minor`), ino: u64Value("readXattrIndex", o.ino, `${what}.ino`) };
}

const indxToWire = (e: IndxEntry): IndxEntryWire => ({ major: e.major, minor: e.minor.toString(), ino: e.ino.toString() });
const totlToWire = (n: readonly [bigint, bigint, bigint]): TotlNameWire => [n[0].toString(), n[1].toString(), n[2].toString()];

export function xattrControlHandlers(ctx: MountControlContext): XattrHandlers {
  const fs = ctx.mount.fs;
  return {
    listHiddenXattrs: async (args, caller) => {
      const ino = uintArg("listHiddenXattrs", argsObject("listHiddenXattrs", args), "ino", 1);
      requireAccess(caller, await fs.getattr(ino), MAY_READ);
      return { namesB64: (await fs.listHiddenXattrs(ino)).map((b) => b.toString("base64")) };
    },
    searchXattrs: async (args, caller) => {
      const o = argsObject("searchXattrs", args);
      requireSysAdmin(caller);
      const name = Buffer.from(stringArg("searchXattrs", o, "nameB64"), "base64");
      if (name.length > XATTR_MAX_NAME_LEN) throw new FsError("EINVAL", `xattr name of ${name.length} bytes, more than ${XATTR_MAX_NAME_LEN}`);
      const next = uintArg("searchXattrs", o, "nextIno");
      const limit = Math.min(uintArg("searchXattrs", o, "limit", 1), BATCH_MAX);
      return fs.searchXattrs(name, next, limit);
    },
    readXattrTotals: async (args, caller) => {
      const o = argsObject("readXattrTotals", args);
      requireSysAdmin(caller);
      const after = totlNameArg(o.after);
      const limit = Math.min(uintArg("readXattrTotals", o, "limit", 1), BATCH_MAX);
      const totals = await fs.xattrTotals(after, limit);
      return { totals: totals.map((t) => ({ name: totlToWire(t.name), total: t.total.toString(), count: t.count.toString() })) };
    },
    readXattrIndex: async (args, caller) => {
      const o = argsObject("readXattrIndex", args);
      requireSysAdmin(caller);
      const first = indxEntryArg(o.first, "first");
      const last = indxEntryArg(o.last, "last");
      if (compareIndxEntries(first, last) > 0) throw new FsError("EINVAL", "readXattrIndex: first is after last");
      const limit = Math.min(uintArg("readXattrIndex", o, "limit", 1), BATCH_MAX);
      return { entries: (await fs.xattrIndex(first, last, limit)).map(indxToWire) };
    },
  };
}
