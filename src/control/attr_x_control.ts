/*
 * A mount's answers to get-attr-x and set-attr-x.  Permission as the
 * original's ioctls: get needs read access to the file (the command has
 * it open for reading), set needs CAP_SYS_ADMIN.  Values beyond what the
 * filesystem keeps are refused here: a data_version beyond 2^53-1
 * (EOVERFLOW) and a size beyond the largest file (EFBIG).
 */
import type { MountControlContext } from "./mount_control.js";
import type { ControlHandlers } from "./server.js";
import type { AttrXOps } from "./attr_x_protocol.js";
import { MAY_READ, requireAccess, requireSysAdmin } from "./caller.js";
import { argsObject, boolArg, timeArg, u64Arg, uintArg } from "./args.js";
import { IAX } from "../fs/attr_x.js";
import { MAX_FILE_BYTES } from "../format/constants.js";
import { FsError } from "../util/errors.js";

type AttrXHandlers = Pick<ControlHandlers, keyof AttrXOps>;

export function attrXControlHandlers(ctx: MountControlContext): AttrXHandlers {
  const fs = ctx.mount.fs;
  return {
    getAttrX: async (args, caller) => {
      const o = argsObject("getAttrX", args);
      const ino = uintArg("getAttrX", o, "ino", 1);
      const mask = uintArg("getAttrX", o, "mask");
      requireAccess(caller, await fs.getattr(ino), MAY_READ);
      const a = await fs.getAttrX(ino, mask);
      return { ...a, projectId: a.projectId.toString() };
    },
    setAttrX: async (args, caller) => {
      const op = "setAttrX";
      const o = argsObject(op, args);
      const ino = uintArg(op, o, "ino", 1);
      const mask = uintArg(op, o, "mask");
      const dv = u64Arg(op, o, "dataVersion");
      const size = u64Arg(op, o, "size");
      const projectId = u64Arg(op, o, "projectId");
      const retention = boolArg(op, o, "retention");
      const ctime = timeArg(op, o, "ctime");
      const crtime = timeArg(op, o, "crtime");
      requireSysAdmin(caller);
      if (mask & IAX.dataVersion && dv > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError("EOVERFLOW", `set-attr-x: data_version ${dv} is beyond what this filesystem keeps (2^53-1)`);
      if (mask & IAX.size && size > BigInt(MAX_FILE_BYTES)) throw new FsError("EFBIG", `set-attr-x: size ${size} is beyond the largest file (${MAX_FILE_BYTES} bytes)`);
      if (mask & IAX.ctime && !ctime) throw new FsError("EINVAL", "set-attr-x: ctime named in the mask but not given");
      if (mask & IAX.crtime && !crtime) throw new FsError("EINVAL", "set-attr-x: crtime named in the mask but not given");
      await fs.setAttrX(ino, { mask, dataVersion: Number(dv), size: Number(size), ctime, crtime, retention, projectId });
      await ctx.invalidateInode(ino, -1);
      return {};
    },
  };
}
