/*
 * Quotas, as the original's: userspace keeps the accounting in .totl.
 * xattrs and writes rules that say which total an operation may not
 * exceed.
 *
 * A rule: a priority, three names (each a value, a source and flags), an
 * op (inode creation or data writes), a limit, and whether the limit is
 * on the totl count instead of its total.  An input is an op and the
 * project id, uid and gid it is for: for creations the directory's
 * project, the caller's fsuid, and the directory's gid if it is setgid
 * else the caller's fsgid; for writes and fallocate the file's own.  A
 * rule matches an input of its op when each of its selecting names
 * (flag S, sources P/U/G) equals the input's attribute; of the matching
 * rules the greatest in rule order (priority first) applies.  Its totl
 * name is its three names with attribute sources replaced by the
 * input's values; when that committed total (or count) is at or above
 * the limit the operation fails with EDQUOT.  No totl item: nothing to
 * exceed.
 *
 * Rules are items (format/quota_items.ts), read through the item cache
 * and kept here as a ruleset indexed by selected attribute values, read
 * again after any rule change.  Totals are committed items (as the
 * original reads them through its weak cache, slightly stale is fine);
 * a check's result is kept per input until this mount commits again or
 * CHECK_CACHE_MS pass, whichever is first.
 */
import type { FsCtx } from "./context.js";
import { itemRange } from "./context.js";
import type { CommittedItems } from "./storage.js";
import {
  QUOTA_NAME_SELECT, QUOTA_RULE_COUNT, QUOTA_SOURCE, decodeQuotaRule, encodeQuotaRule, quotaFirst, quotaHashLast,
  quotaLast, quotaRuleKey, type QuotaRule,
} from "../format/quota_items.js";
import { decodeTotl, totlKey } from "../format/tag_items.js";
import { keySecond, keyFirst, type Key } from "../format/key.js";
import { FsError } from "../util/errors.js";

export const CHECK_CACHE_MS = 5000;

const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** the original's rule order: the greater rule wins a match */
export function compareQuotaRules(a: QuotaRule, b: QuotaRule): number {
  let c = a.prio - b.prio;
  for (let i = 0; c === 0 && i < 3; i++) {
    const x = a.names[i]!;
    const y = b.names[i]!;
    c = cmpBig(x.val, y.val) || x.source - y.source || x.flags - y.flags;
  }
  return c || a.op - b.op || cmpBig(a.limit, b.limit) || a.flags - b.flags;
}

const isAttrSource = (s: number): boolean => s === QUOTA_SOURCE.proj || s === QUOTA_SOURCE.uid || s === QUOTA_SOURCE.gid;

/** EINVAL unless the rule is one the original accepts */
export function checkQuotaRule(r: QuotaRule): void {
  const bad = (why: string): never => {
    throw new FsError("EINVAL", `invalid quota rule: ${why}`);
  };
  if (r.op !== 0 && r.op !== 1) bad(`op ${r.op}`);
  if (r.flags & ~QUOTA_RULE_COUNT) bad(`rule flags ${r.flags}`);
  if (!Number.isInteger(r.prio) || r.prio < 0 || r.prio > 255) bad(`priority ${r.prio}`);
  r.names.forEach((n, i) => {
    if (n.source > QUOTA_SOURCE.gid) bad(`source ${n.source} of name ${i + 1}`);
    if (n.flags & ~QUOTA_NAME_SELECT) bad(`flags ${n.flags} of name ${i + 1}`);
    if (!(n.flags & QUOTA_NAME_SELECT)) return;
    if (!isAttrSource(n.source)) bad(`name ${i + 1} selects on a literal`);
    for (const o of r.names) {
      if (o !== n && o.flags & QUOTA_NAME_SELECT && o.source === n.source && o.val !== n.val) bad("two names select different values of one attribute");
    }
  });
}

export interface QuotaInput {
  op: number;
  proj: bigint;
  uid: number;
  gid: number;
}

const attrOf = (inp: QuotaInput, source: number): bigint =>
  source === QUOTA_SOURCE.proj ? inp.proj : source === QUOTA_SOURCE.uid ? BigInt(inp.uid) : BigInt(inp.gid);

function ruleMatches(r: QuotaRule, inp: QuotaInput): boolean {
  return r.op === inp.op && r.names.every((n) => !(n.flags & QUOTA_NAME_SELECT) || attrOf(inp, n.source) === n.val);
}

/** the rules, indexed for matching: those that select nothing by op, the others by each selected (source, value) */
class Ruleset {
  readonly defaults = new Map<number, QuotaRule[]>();
  readonly bySelect = new Map<string, QuotaRule[]>();
  size = 0;

  add(r: QuotaRule): void {
    this.size++;
    const sel = r.names.filter((n) => n.flags & QUOTA_NAME_SELECT);
    const push = (m: Map<string | number, QuotaRule[]>, k: string | number) => m.set(k, [...(m.get(k) ?? []), r]);
    if (sel.length === 0) push(this.defaults as Map<string | number, QuotaRule[]>, r.op);
    // one selecting name is enough to find it; the match checks the others
    else push(this.bySelect as Map<string | number, QuotaRule[]>, `${sel[0]!.source}:${sel[0]!.val}`);
  }

  match(inp: QuotaInput): QuotaRule | undefined {
    let best: QuotaRule | undefined;
    const consider = (rs: QuotaRule[] | undefined) => {
      for (const r of rs ?? []) if (ruleMatches(r, inp) && (!best || compareQuotaRules(r, best) > 0)) best = r;
    };
    consider(this.defaults.get(inp.op));
    for (const s of [QUOTA_SOURCE.proj, QUOTA_SOURCE.uid, QUOTA_SOURCE.gid]) consider(this.bySelect.get(`${s}:${attrOf(inp, s)}`));
    return best;
  }
}

/** a rule and where it is stored, for listing in storage order */
export interface StoredQuotaRule {
  rule: QuotaRule;
  hash: number;
  coll: number;
}

export class Quotas {
  private ruleset: Ruleset | undefined;
  private checks = new Map<string, { ok: boolean; seq: number; at: number }>();

  constructor(
    private readonly ctx: FsCtx,
    private readonly committed: CommittedItems,
    private readonly transSeq: () => number,
    /** the format version has quotas; without, checks pass and rules cannot exist */
    private readonly supported = true,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** where the rule is stored (found), or the key it would take (free) */
  private async find(r: QuotaRule): Promise<{ key: Key; found: boolean }> {
    const enc = encodeQuotaRule(r);
    const hash = this.ctx.hash(enc);
    let coll = 0;
    for await (const kv of itemRange(this.ctx.items, quotaRuleKey(hash, 0), quotaHashLast(hash))) {
      if (kv.value.equals(enc)) return { key: kv.key, found: true };
      coll = keySecond(kv.key) + 1;
    }
    return { key: quotaRuleKey(hash, coll), found: false };
  }

  /** prepare adding (EEXIST if present) or deleting (ENOENT if absent) a rule; returns what to do inside hold() */
  async prepareMod(add: boolean, r: QuotaRule): Promise<() => void> {
    checkQuotaRule(r);
    const { key, found } = await this.find(r);
    if (add && found) throw new FsError("EEXIST", "the quota rule exists");
    if (!add && !found) throw new FsError("ENOENT", "no such quota rule");
    return () => {
      if (add) this.ctx.items.set(key, encodeQuotaRule(r));
      else this.ctx.items.delete(key);
      this.invalidate();
    };
  }

  /** up to limit rules in storage order, from position (hash, coll) on */
  async list(hash: number, coll: number, limit: number): Promise<StoredQuotaRule[]> {
    const out: StoredQuotaRule[] = [];
    for await (const kv of itemRange(this.ctx.items, quotaRuleKey(hash, coll), quotaLast())) {
      if (out.length === limit) break;
      out.push({ rule: decodeQuotaRule(kv.value), hash: keyFirst(kv.key), coll: keySecond(kv.key) });
    }
    return out;
  }

  invalidate(): void {
    this.ruleset = undefined;
    this.checks.clear();
  }

  private async rules(): Promise<Ruleset> {
    if (!this.ruleset) {
      const rs = new Ruleset();
      for await (const kv of itemRange(this.ctx.items, quotaFirst(), quotaLast())) rs.add(decodeQuotaRule(kv.value));
      this.ruleset = rs;
    }
    return this.ruleset;
  }

  /** EDQUOT if a rule matching the input has its totl at or above its limit */
  async check(inp: QuotaInput): Promise<void> {
    if (!this.supported) return;
    const rs = await this.rules();
    if (rs.size === 0) return;
    const id = `${inp.op}:${inp.proj}:${inp.uid}:${inp.gid}`;
    const seq = this.transSeq();
    const now = this.nowMs();
    let c = this.checks.get(id);
    if (!c || c.seq !== seq || now - c.at >= CHECK_CACHE_MS) {
      c = { ok: await this.checkUncached(rs, inp), seq, at: now };
      this.checks.set(id, c);
    }
    if (!c.ok) throw new FsError("EDQUOT", "Disk quota exceeded");
  }

  private async checkUncached(rs: Ruleset, inp: QuotaInput): Promise<boolean> {
    const r = rs.match(inp);
    if (!r) return true;
    const name = r.names.map((n) => (isAttrSource(n.source) ? attrOf(inp, n.source) : n.val)) as [bigint, bigint, bigint];
    const key = totlKey(name);
    const { items } = await this.committed.readRange(key, key, 1);
    const kv = items[0];
    if (!kv) return true;
    const t = decodeTotl(kv.value);
    const use = BigInt.asUintN(64, r.flags & QUOTA_RULE_COUNT ? t.count : t.total);
    return use < r.limit;
  }
}

/** the position just after a listed rule, to continue a listing */
export function afterQuotaRule(s: StoredQuotaRule): { hash: number; coll: number } {
  return { hash: s.hash, coll: s.coll + 1 };
}
