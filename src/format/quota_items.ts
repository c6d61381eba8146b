/*
 * Quota rule items: one item per rule in the quota zone,
 *
 *   (ZONE.quota, hash of the encoded rule, QUOTA_RULE_TYPE, collision nr, 0, 0) -> QuotaRule (48 bytes)
 *
 * The key is found from the rule itself: its value's name hash (§7.3 of
 * docs/format.md), then the collision nr tells apart different rules
 * whose encodings share a hash (lookups walk the nrs of one hash and
 * compare values).  Rules are ordinary versioned items.
 *
 * Value (little-endian): limit u64 @0, name values u64 ×3 @8, prio u8
 * @32, op u8 @33, rule flags u8 @34, name sources u8 ×3 @35, name flags
 * u8 ×3 @38, zero pad to 48.  Enum values are the original's.
 */
import { makeKey, U64_MAX, type Key } from "./key.js";
import { QUOTA_RULE_TYPE, ZONE } from "./constants.js";
import { FsError } from "../util/errors.js";

/** where a name's value comes from: the rule's literal value, or the input's project id, uid or gid */
export const QUOTA_SOURCE = { literal: 0, proj: 1, uid: 2, gid: 3 } as const;
/** name flag: the rule applies only to inputs whose attribute equals the name's value */
export const QUOTA_NAME_SELECT = 1;
/** the operations a rule limits */
export const QUOTA_OP = { inode: 0, data: 1 } as const;
/** rule flag: compare the limit with the totl count instead of its total */
export const QUOTA_RULE_COUNT = 1;

export interface QuotaRuleName {
  val: bigint;
  source: number;
  flags: number;
}

export interface QuotaRule {
  prio: number;
  names: [QuotaRuleName, QuotaRuleName, QuotaRuleName];
  op: number;
  limit: bigint;
  flags: number;
}

export const QUOTA_RULE_BYTES = 48;

export function encodeQuotaRule(r: QuotaRule): Buffer {
  const b = Buffer.alloc(QUOTA_RULE_BYTES);
  b.writeBigUInt64LE(BigInt.asUintN(64, r.limit), 0);
  r.names.forEach((n, i) => {
    b.writeBigUInt64LE(BigInt.asUintN(64, n.val), 8 + i * 8);
    b[35 + i] = n.source;
    b[38 + i] = n.flags;
  });
  b[32] = r.prio;
  b[33] = r.op;
  b[34] = r.flags;
  return b;
}

export function decodeQuotaRule(b: Buffer): QuotaRule {
  if (b.length !== QUOTA_RULE_BYTES) throw new FsError("EIO", `quota rule of ${b.length} bytes`);
  const name = (i: number): QuotaRuleName => ({ val: b.readBigUInt64LE(8 + i * 8), source: b[35 + i]!, flags: b[38 + i]! });
  return { limit: b.readBigUInt64LE(0), names: [name(0), name(1), name(2)], prio: b[32]!, op: b[33]!, flags: b[34]! };
}

export const quotaRuleKey = (hash: number, coll: number): Key => makeKey(ZONE.quota, hash, QUOTA_RULE_TYPE, coll);
export const quotaHashLast = (hash: number): Key => makeKey(ZONE.quota, hash, QUOTA_RULE_TYPE, U64_MAX);
export const quotaFirst = (): Key => makeKey(ZONE.quota, 0, 0);
export const quotaLast = (): Key => makeKey(ZONE.quota, U64_MAX, 0xff, U64_MAX, U64_MAX, 0xff);
