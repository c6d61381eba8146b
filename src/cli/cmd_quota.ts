/*
 * The quota commands, with the original's rule syntax and list format:
 *
 *   scoutfs quota-add -p PATH -r RULE      add a rule (EEXIST if present)
 *   scoutfs quota-del -p PATH -r RULE      delete a rule
 *   scoutfs quota-list -p PATH [-U]        print the rules
 *   scoutfs quota-wipe -p PATH [-U]        delete every rule
 *   scoutfs quota-restore -p PATH [-U]     add the rules quota-list printed, read from stdin
 *
 * A rule is "PRIO V,S,F V,S,F V,S,F OP LIMIT FLAGS": a priority 0-255;
 * three totl name parts, each a u64 value, a source (L literal, P project
 * id, U uid, G gid) and a flag (S: the rule applies only when the
 * input's attribute equals the value, - otherwise); the op (I inode
 * creation, D data writes); the limit; C to limit the totl's count
 * instead of its total, - otherwise.  quota-list prints one rule per line
 * in that syntax, highest rule first (-U: in storage order), so that
 * quota-restore can read it back; wipe and restore go in the same order
 * and stop at the first rule that fails, naming it.
 */
import { withMount, type ControlClient } from "../control/client.js";
import { quotaRuleFromWire, quotaRuleToWire, type QuotaRuleWire } from "../control/quota_protocol.js";
import { compareQuotaRules } from "../fs/quota.js";
import { QUOTA_NAME_SELECT, QUOTA_OP, QUOTA_RULE_COUNT, QUOTA_SOURCE, type QuotaRule, type QuotaRuleName } from "../format/quota_items.js";
import { UsageError, parseCInteger64 } from "./parse.js";
import { FsError, isFsError } from "../util/errors.js";

const SOURCE_CHARS: Record<string, number> = { L: QUOTA_SOURCE.literal, P: QUOTA_SOURCE.proj, U: QUOTA_SOURCE.uid, G: QUOTA_SOURCE.gid };
const OP_CHARS: Record<string, number> = { I: QUOTA_OP.inode, D: QUOTA_OP.data };
const charOf = (m: Record<string, number>, v: number): string => Object.keys(m).find((k) => m[k] === v) ?? "?";

export function parseQuotaRule(str: string): QuotaRule {
  const text = str.replace(/\n$/, "");
  const t = text.trim().split(/\s+/);
  const missing = () => new FsError("EINVAL", `invalid rule, missing fields: ${text}`);
  if (t.length < 7) throw missing();
  const prio = parseCInteger64(t[0]!);
  const limit = parseCInteger64(t[5]!);
  if (prio === undefined || limit === undefined) throw missing();
  const names = [1, 2, 3].map((i): QuotaRuleName => {
    const m = /^([^,]+),(.),(.)$/.exec(t[i]!);
    const val = m ? parseCInteger64(m[1]!) : undefined;
    if (!m || val === undefined) throw missing();
    const source = SOURCE_CHARS[m[2]!];
    if (source === undefined) throw new FsError("EINVAL", `invalid name source '${m[2]}' in name #${i} in rule: ${text}`);
    const flag = m[3] === "-" ? 0 : m[3] === "S" ? QUOTA_NAME_SELECT : -1;
    if (flag < 0) throw new FsError("EINVAL", `invalid name flags '${m[3]}' in name #${i} in rule: ${text}`);
    return { val, source, flags: flag };
  }) as [QuotaRuleName, QuotaRuleName, QuotaRuleName];
  const op = t[4]!.length === 1 ? OP_CHARS[t[4]!] : undefined;
  if (op === undefined) throw new FsError("EINVAL", `invalid op '${t[4]}' in rule: ${text}`);
  const flags = t[6] === "-" ? 0 : t[6] === "C" ? QUOTA_RULE_COUNT : -1;
  if (flags < 0) throw new FsError("EINVAL", `invalid rule flags '${t[6]}' in rule: ${text}`);
  // %hhu keeps the low 8 bits
  return { prio: Number(prio & 0xffn), names, op, limit, flags };
}

export function formatQuotaRule(r: QuotaRule): string {
  const names = r.names.map((n) => `${n.val},${charOf(SOURCE_CHARS, n.source)},${n.flags & QUOTA_NAME_SELECT ? "S" : "-"} `).join("");
  return `${String(r.prio).padStart(3)} ${names}${charOf(OP_CHARS, r.op)} ${r.limit} ${r.flags & QUOTA_RULE_COUNT ? "C" : "-"}`;
}

function needPath(path: string | undefined): string {
  if (path === undefined) throw new UsageError("must provide file path");
  return path;
}

export async function quotaModCommand(add: boolean, o: { path?: string; rule?: string }): Promise<void> {
  const path = needPath(o.path);
  if (o.rule === undefined) throw new UsageError("must provide rule string");
  const rule = parseQuotaRule(o.rule);
  await withMount(path, (c) => c.request("quotaMod", { add, rule: quotaRuleToWire(rule) }));
}

async function readRules(c: ControlClient): Promise<QuotaRule[]> {
  const out: QuotaRule[] = [];
  for (let pos: { hash: number; coll: number } | null = { hash: 0, coll: 0 }; pos; ) {
    const r: { rules: QuotaRuleWire[]; next: { hash: number; coll: number } | null } = await c.request("quotaList", { ...pos, limit: 1024 });
    out.push(...r.rules.map(quotaRuleFromWire));
    pos = r.next;
  }
  return out;
}

/** highest rule first, as the original sorts unless -U */
const ordered = (rules: QuotaRule[], unsorted: boolean): QuotaRule[] => (unsorted ? rules : [...rules].sort((a, b) => compareQuotaRules(b, a)));

export async function quotaListCommand(o: { path?: string; unsorted?: boolean }, out: (line: string) => void): Promise<void> {
  const path = needPath(o.path);
  const rules = await withMount(path, readRules);
  for (const r of ordered(rules, !!o.unsorted)) out(formatQuotaRule(r));
}

/** add or delete each rule in turn; the first failure names its rule and stops */
async function modEach(c: ControlClient, add: boolean, rules: QuotaRule[], out: (line: string) => void): Promise<void> {
  for (const r of rules) {
    try {
      await c.request("quotaMod", { add, rule: quotaRuleToWire(r) });
    } catch (e) {
      if (isFsError(e)) out(`Failed to ${add ? "add" : "delete"} following rule:\n    ${formatQuotaRule(r)}`);
      throw e;
    }
  }
}

export async function quotaWipeCommand(o: { path?: string; unsorted?: boolean }, out: (line: string) => void): Promise<void> {
  const path = needPath(o.path);
  await withMount(path, async (c) => modEach(c, false, ordered(await readRules(c), !!o.unsorted), out));
}

export async function quotaRestoreCommand(o: { path?: string; unsorted?: boolean }, input: string, out: (line: string) => void): Promise<void> {
  const path = needPath(o.path);
  const rules = input.split("\n").filter((l) => l.trim() !== "").map(parseQuotaRule);
  await withMount(path, (c) => modEach(c, true, ordered(rules, !!o.unsorted), out));
}
