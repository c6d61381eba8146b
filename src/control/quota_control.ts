/*
 * A mount's answers to the quota commands.  Every op needs
 * CAP_SYS_ADMIN, as the original's ioctls.  Rules from the wire are
 * checked field by field here and as rules by the fs layer (EINVAL).
 */
import type { MountControlContext } from "./mount_control.js";
import type { ControlHandlers } from "./server.js";
import { quotaRuleToWire, type QuotaOps } from "./quota_protocol.js";
import { requireSysAdmin } from "./caller.js";
import { argsObject, boolArg, u64Arg, uintArg } from "./args.js";
import { afterQuotaRule } from "../fs/quota.js";
import type { QuotaRule, QuotaRuleName } from "../format/quota_items.js";
import { FsError } from "../util/errors.js";

type QuotaHandlers = Pick<ControlHandlers, keyof QuotaOps>;

const BATCH_MAX = 4096;

function ruleArg(v: unknown): QuotaRule {
  const op = "quotaMod";
  const o = argsObject(`${op} rule`, v);
  if (!Array.isArray(o.names) || o.names.length !== 3) throw new FsError("EINVAL", `${op}: a rule has three names`);
  const names = o.names.map((n: unknown): QuotaRuleName => {
    const x = argsObject(`${op} name`, n);
    return { val: u64Arg(op, x, "val"), source: uintArg(op, x, "source"), flags: uintArg(op, x, "flags") };
  }) as [QuotaRuleName, QuotaRuleName, QuotaRuleName];
  return { prio: uintArg(op, o, "prio"), names, op: uintArg(op, o, "op"), limit: u64Arg(op, o, "limit"), flags: uintArg(op, o, "flags") };
}

export function quotaControlHandlers(ctx: MountControlContext): QuotaHandlers {
  const fs = ctx.mount.fs;
  return {
    quotaMod: async (args, caller) => {
      const o = argsObject("quotaMod", args);
      const add = boolArg("quotaMod", o, "add");
      const rule = ruleArg(o.rule);
      requireSysAdmin(caller);
      await fs.modQuotaRule(add, rule);
      return {};
    },
    quotaList: async (args, caller) => {
      const o = argsObject("quotaList", args);
      const hash = uintArg("quotaList", o, "hash");
      const coll = uintArg("quotaList", o, "coll");
      const limit = Math.min(uintArg("quotaList", o, "limit", 1), BATCH_MAX);
      requireSysAdmin(caller);
      const got = await fs.listQuotaRules(hash, coll, limit);
      const last = got[got.length - 1];
      return { rules: got.map((s) => quotaRuleToWire(s.rule)), next: got.length === limit && last ? afterQuotaRule(last) : null };
    },
  };
}
