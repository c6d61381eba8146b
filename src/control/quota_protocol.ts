/*
 * The control ops of the quota commands (quota-add, quota-del,
 * quota-list, quota-wipe, quota-restore), part of protocol.ts ControlOps.
 * A rule travels with its u64s (name values, limit) as decimal strings.
 */
import type { QuotaRule, QuotaRuleName } from "../format/quota_items.js";

export interface QuotaRuleWire {
  prio: number;
  names: { val: string; source: number; flags: number }[];
  op: number;
  limit: string;
  flags: number;
}

export interface QuotaOps {
  /** add (EEXIST if present) or delete (ENOENT if absent) one rule */
  quotaMod: { args: { add: boolean; rule: QuotaRuleWire }; result: Record<string, never> };
  /** up to limit rules in storage order from position (hash, coll); next: where to continue */
  quotaList: { args: { hash: number; coll: number; limit: number }; result: { rules: QuotaRuleWire[]; next: { hash: number; coll: number } | null } };
}

export const quotaRuleToWire = (r: QuotaRule): QuotaRuleWire => ({
  prio: r.prio,
  names: r.names.map((n) => ({ val: n.val.toString(), source: n.source, flags: n.flags })),
  op: r.op,
  limit: r.limit.toString(),
  flags: r.flags,
});

/** a rule as a trusted peer sent it (the daemon checks what it receives field by field instead) */
export const quotaRuleFromWire = (w: QuotaRuleWire): QuotaRule => ({
  prio: w.prio,
  names: w.names.map((n) => ({ val: BigInt(n.val), source: n.source, flags: n.flags })) as [QuotaRuleName, QuotaRuleName, QuotaRuleName],
  op: w.op,
  limit: BigInt(w.limit),
  flags: w.flags,
});
