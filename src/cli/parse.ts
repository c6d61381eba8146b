/*
 * Parsing of command line and mount option arguments.
 *
 * Design:
 *  - Every parser is a pure function of its string argument: it either
 *    returns a typed value or throws a UsageError whose message is a
 *    single line naming the bad argument.  Nothing here prints; the CLI
 *    entry point prints err.message and exits with err.exitCode (1).
 *  - Numbers follow the C conventions the original tools rely on:
 *    command line numbers are read like strtoull with base 0 (decimal,
 *    "0x" hex, leading-"0" octal) and mount option numbers like the
 *    kernel's kstrtoull/kstrtoll with base 0 (which also allow a leading
 *    "+", and "-" for signed options).  Unlike strtoull we refuse empty
 *    strings, whitespace, signs and trailing garbage instead of silently
 *    reading 0 or wrapping negative numbers around.
 *  - 64-bit values that may exceed 2^53 are bigints (parseU64).  Sizes
 *    are plain numbers and are refused beyond Number.MAX_SAFE_INTEGER so
 *    that byte offsets derived from them stay exact.
 *  - Quorum slots and mount options are validated with the ranges,
 *    defaults and wording of the original utilities and kernel module, so
 *    that scripts and operators see familiar messages.
 */
import { QUORUM_MAX_SLOTS } from "../format/constants.js";
import type { QuorumSlot } from "../format/structs.js";

/** An error in what the user asked for: print the message, exit with exitCode. */
export class UsageError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "UsageError";
    this.exitCode = exitCode;
  }
}

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;
const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;

/*
 * The leading unsigned integer of s in C base-0 notation: "0x"/"0X"
 * followed by hex digits, "0" followed by octal digits, or decimal.
 * Returns the value and the number of characters it used, or null if s
 * does not start with a digit.  Like strtoull, "0x" without a hex digit
 * after it reads as the number 0 followed by "x".
 */
function leadingCUnsigned(s: string): { value: bigint; used: number } | null {
  let m = /^0[xX][0-9a-fA-F]+/.exec(s);
  if (m) return { value: BigInt(m[0]), used: m[0].length };
  m = /^0[0-7]*/.exec(s);
  if (m) return { value: m[0].length > 1 ? BigInt("0o" + m[0].slice(1)) : 0n, used: m[0].length };
  m = /^[1-9][0-9]*/.exec(s);
  if (m) return { value: BigInt(m[0]), used: m[0].length };
  return null;
}

/** The whole of s as a C base-0 unsigned integer, or null. */
function wholeCUnsigned(s: string): bigint | null {
  const r = leadingCUnsigned(s);
  return r && r.used === s.length ? r.value : null;
}

const SIZE_SHIFTS: Record<string, bigint> = { "": 0n, K: 10n, M: 20n, G: 30n, T: 40n, P: 50n };

/**
 * A size in bytes: a number optionally followed by one of the binary
 * suffixes K, M, G, T or P (K is 1024).  "40M", "10G", "0x1000", "4T".
 */
export function parseSize(str: string): number {
  const bytes = parseSizeU64(str);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`size too big: '${str}', must be at most ${Number.MAX_SAFE_INTEGER} bytes`);
  }
  return Number(bytes);
}

/** A size as parseSize reads it, any u64 (offsets and lengths the kernel's 64-bit rules apply to). */
export function parseSizeU64(str: string): bigint {
  const lead = leadingCUnsigned(str);
  if (!lead) {
    throw new UsageError(`invalid size: '${str}', expected bytes or a number with a K, M, G, T or P suffix`);
  }
  const suffix = str.slice(lead.used);
  const shift = SIZE_SHIFTS[suffix];
  if (shift === undefined) throw new UsageError(`unknown suffix: '${suffix}'`);
  if (lead.value > U64_MAX || lead.value << shift > U64_MAX) throw new UsageError(`invalid 64bit value: '${str}'`);
  return lead.value << shift;
}

/** "SECONDS.NANOSECONDS" since the epoch, as the original's timespec options */
export function parseTimespec(str: string): { sec: number; nsec: number } {
  const m = /^([0-9]+)\.([0-9]+)$/.exec(str);
  if (!m || BigInt(m[1]!) > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`invalid timespec string: '${str}'`);
  const nsec = Number(m[2]);
  if (nsec > 999_999_999) throw new UsageError(`invalid timespec nsec value: '${str}'`);
  return { sec: Number(m[1]), nsec };
}

/**
 * A C integer as sscanf's %i/%llu and strtoull read one: optional sign,
 * decimal, 0 octal or 0x hex, a negative value wrapped to 64 bits (so -1
 * is all ones); undefined if it is not one or beyond 64 bits.
 */
export function parseCInteger64(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const d = m[2]!;
  const v = /^0[xX]/.test(d) ? BigInt(d) : d.length > 1 && d.startsWith("0") ? BigInt("0o" + d.slice(1)) : BigInt(d);
  if (v > U64_MAX) return undefined;
  return BigInt.asUintN(64, m[1] === "-" ? -v : v);
}

/** A full unsigned 64-bit integer (decimal, 0x hex or 0 octal). */
export function parseU64(str: string): bigint {
  const v = wholeCUnsigned(str);
  if (v === null || v > U64_MAX) throw new UsageError(`invalid 64bit value: '${str}'`);
  return v;
}

/** An unsigned 64-bit integer that must also be exact as a JS number. */
export function parseU64Number(str: string): number {
  const v = parseU64(str);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`value too big: '${str}', must be at most ${Number.MAX_SAFE_INTEGER}`);
  }
  return Number(v);
}

/** An unsigned 32-bit integer. */
export function parseU32(str: string): number {
  const v = wholeCUnsigned(str);
  if (v === null || v > BigInt(U32_MAX)) throw new UsageError(`invalid 32bit value: '${str}'`);
  return Number(v);
}

/* ------------------------------------------------------------------ */
/* quorum slots                                                        */

/** One -Q NR,ADDR,PORT argument. */
export interface QuorumSlotSpec {
  /** slot number, 0 .. QUORUM_MAX_SLOTS-1 */
  nr: number;
  /** normalized dotted quad IPv4 address */
  addr: string;
  /** 1 .. 65535 */
  port: number;
}

/** the longest address text considered (the original's buffer: max ipv6) */
const ADDR_CHARS = 45;

/*
 * An inet_aton() style IPv4 address: one to four parts separated by
 * dots, each decimal, 0x hex or 0 octal; the last part fills the
 * remaining bytes ("10.1" is 10.0.0.1).  Returns the address as a u32
 * or null.
 */
function inetAton(s: string): number | null {
  const parts = s.split(".");
  if (parts.length < 1 || parts.length > 4) return null;
  const vals: bigint[] = [];
  for (const p of parts) {
    const v = wholeCUnsigned(p);
    if (v === null) return null;
    vals.push(v);
  }
  const lastBits = BigInt(8 * (5 - vals.length)); // 32, 24, 16, 8 bits
  let addr = 0n;
  for (let i = 0; i < vals.length - 1; i++) {
    if (vals[i]! > 255n) return null;
    addr = (addr << 8n) | vals[i]!;
  }
  const last = vals[vals.length - 1]!;
  if (last >= 1n << lastBits) return null;
  addr = (addr << lastBits) | last;
  return Number(addr);
}

function u32ToDotted(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/*
 * The leading "%u" of s as sscanf reads it: optional whitespace, an
 * optional sign, decimal digits.  The value is kept exact (bigint) so
 * that out of range numbers are reported rather than wrapped.
 */
function scanDecimal(s: string): { value: bigint; text: string; used: number } | null {
  const m = /^\s*([+-]?)([0-9]+)/.exec(s);
  if (!m) return null;
  const mag = BigInt(m[2]!);
  return { value: m[1] === "-" ? -mag : mag, text: (m[1] === "-" ? "-" : "") + m[2]!.replace(/^0+(?=.)/, ""), used: m[0].length };
}

/**
 * Parse a quorum slot "NR,ADDR,PORT": the slot number, a unicast IPv4
 * address and the port its quorum member listens on.
 */
export function parseQuorumSlot(arg: string): QuorumSlotSpec {
  const incomplete = () =>
    new UsageError(`failed to parse all three NR,ADDR,PORT tokens in quorum slot '${arg}'`);

  let rest = arg;
  const nr = scanDecimal(rest);
  if (!nr || rest[nr.used] !== ",") throw incomplete();
  rest = rest.slice(nr.used + 1);

  const addrMatch = /^[^,]+/.exec(rest);
  if (!addrMatch || addrMatch[0].length > ADDR_CHARS || rest[addrMatch[0].length] !== ",") throw incomplete();
  const addrText = addrMatch[0];
  rest = rest.slice(addrText.length + 1);

  const port = scanDecimal(rest);
  if (!port) throw incomplete();
  if (port.used !== rest.length) {
    throw new UsageError(`extra unparsed trailing characters in quorum slot '${arg}'`);
  }

  if (nr.value < 0n || nr.value >= BigInt(QUORUM_MAX_SLOTS)) {
    throw new UsageError(
      `invalid nr '${nr.text}' in quorum slot '${arg}', must be between 0 and ${QUORUM_MAX_SLOTS - 1}`,
    );
  }
  if (port.value <= 0n || port.value > 65535n) {
    throw new UsageError(`invalid ipv4 port '${port.text}' in quorum slot '${arg}', must be between 1 and 65535`);
  }
  const addr = inetAton(addrText);
  if (addr === null || addr === 0 || addr === U32_MAX) {
    throw new UsageError(`invalid ipv4 address '${addrText}' in quorum slot '${arg}'`);
  }
  return { nr: Number(nr.value), addr: u32ToDotted(addr), port: Number(port.value) };
}

/**
 * Check a set of parsed -Q arguments, in the order they were given:
 * at least one, no slot number twice, no address:port twice.  Returns
 * them ordered by slot number.
 */
export function validateQuorumSlots(slots: readonly QuorumSlotSpec[]): QuorumSlotSpec[] {
  if (slots.length === 0) {
    throw new UsageError("must specify at least one quorum slot with --quorum-slot|-Q");
  }
  const byNr = new Map<number, QuorumSlotSpec>();
  for (const s of slots) {
    if (!Number.isInteger(s.nr) || s.nr < 0 || s.nr >= QUORUM_MAX_SLOTS) {
      throw new UsageError(`invalid quorum slot nr ${s.nr}, must be between 0 and ${QUORUM_MAX_SLOTS - 1}`);
    }
    if (byNr.has(s.nr)) {
      throw new UsageError(`Quorum slot ${s.nr} already specified before slot '${s.nr},${s.addr},${s.port}'`);
    }
    byNr.set(s.nr, s);
  }
  const sorted = [...byNr.values()].sort((a, b) => a.nr - b.nr);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      if (a.addr === b.addr && a.port === b.port) {
        throw new UsageError(`quorum slot nr ${a.nr} and ${b.nr} have the same address ${a.addr}:${a.port}`);
      }
    }
  }
  return sorted;
}

/** The super block's table of QUORUM_MAX_SLOTS slots, unused ones as { addr: "", port: 0 }. */
export function quorumSlotTable(slots: readonly QuorumSlotSpec[]): QuorumSlot[] {
  const table: QuorumSlot[] = Array.from({ length: QUORUM_MAX_SLOTS }, () => ({ addr: "", port: 0 }));
  for (const s of validateQuorumSlots(slots)) table[s.nr] = { addr: s.addr, port: s.port };
  return table;
}

/* ------------------------------------------------------------------ */
/* mount options                                                       */

export interface MountOptions {
  /** path of the metadata block device (required) */
  metadevPath: string;
  /** the quorum slot this mount may use, undefined if not a quorum member */
  quorumSlotNr: number | undefined;
  /** POSIX ACLs enabled (acl, the default) or not (noacl) */
  acl: boolean;
  /** preallocation region of file data, in 4 KiB blocks */
  dataPreallocBlocks: number;
  /** only preallocate when streaming onto a fully allocated file */
  dataPreallocContigOnly: boolean;
  inoAllocPerLock: number;
  lockIdleCount: number;
  logMergeWaitTimeoutMs: number;
  orphanScanDelayMs: number;
  quorumHeartbeatTimeoutMs: number;
  tcpKeepaliveTimeoutMs: number;
}

/** Ranges of the numeric mount options, as the kernel module enforces them. */
export const MOUNT_OPTION_LIMITS = {
  dataPreallocBlocks: { min: 1, max: 2 ** 52 - 1 }, // U64_MAX >> 12: any count of 4 KiB blocks
  inoAllocPerLock: { min: 1, max: 1024 }, // inodes covered by one lock
  lockIdleCount: { min: 32, max: 100_000 },
  logMergeWaitTimeoutMs: { min: 100, max: 60_000 },
  orphanScanDelayMs: { min: 100, max: 60_000 },
  quorumHeartbeatTimeoutMs: { min: 2_000, max: 60_000 },
  /** must be strictly greater: three unanswered keepalive probes of one second */
  tcpKeepaliveTimeoutMsAbove: 3_000,
  quorumSlotNr: { min: 0, max: QUORUM_MAX_SLOTS - 1 },
} as const;

/** The defaults of everything but metadevPath. */
export const MOUNT_OPTION_DEFAULTS: Readonly<Omit<MountOptions, "metadevPath">> = Object.freeze({
  quorumSlotNr: undefined,
  acl: true,
  dataPreallocBlocks: (8 * 1024 * 1024) / 4096,
  dataPreallocContigOnly: true,
  inoAllocPerLock: 1024,
  lockIdleCount: 10_000,
  logMergeWaitTimeoutMs: 500,
  orphanScanDelayMs: 10_000,
  quorumHeartbeatTimeoutMs: 10_000,
  tcpKeepaliveTimeoutMs: 24_000,
});

/* the kernel's kstrtoull(s, 0): optional "+", C base-0 digits, u64 range */
function kstrtoull(s: string): bigint | null {
  const v = wholeCUnsigned(s.startsWith("+") ? s.slice(1) : s);
  return v !== null && v <= U64_MAX ? v : null;
}

/* match_int(): kstrtoll(s, 0) that must also fit in an int */
function matchInt(s: string): number | null {
  let v: bigint | null;
  if (s.startsWith("-")) {
    const mag = wholeCUnsigned(s.slice(1));
    v = mag === null ? null : -mag;
  } else {
    v = kstrtoull(s);
  }
  return v !== null && v >= INT_MIN && v <= INT_MAX ? Number(v) : null;
}

const VALUE_OPTIONS = new Set([
  "data_prealloc_blocks",
  "data_prealloc_contig_only",
  "ino_alloc_per_lock",
  "lock_idle_count",
  "log_merge_wait_timeout_ms",
  "metadev_path",
  "orphan_scan_delay_ms",
  "quorum_heartbeat_timeout_ms",
  "quorum_slot_nr",
  "tcp_keepalive_timeout_ms",
]);

/**
 * Parse a comma separated scoutfs mount option string ("-o" argument).
 * Empty entries are skipped; later values of an option replace earlier
 * ones except quorum_slot_nr and orphan_scan_delay_ms, which may only
 * be given once.
 */
export function parseMountOptions(str: string): MountOptions {
  const o: Omit<MountOptions, "metadevPath"> & { metadevPath: string | undefined } = {
    ...MOUNT_OPTION_DEFAULTS,
    metadevPath: undefined,
  };
  let orphanSeen = false;
  let slotSeen = false;
  const L = MOUNT_OPTION_LIMITS;

  for (const p of str.split(",")) {
    if (p === "") continue;
    if (p === "acl") {
      o.acl = true;
      continue;
    }
    if (p === "noacl") {
      o.acl = false;
      continue;
    }
    const eq = p.indexOf("=");
    const name = eq < 0 ? p : p.slice(0, eq);
    const val = eq < 0 ? "" : p.slice(eq + 1);
    if (eq < 0 || val === "" || !VALUE_OPTIONS.has(name)) {
      throw new UsageError(`Unknown or malformed option, "${p}"`);
    }

    switch (name) {
      case "data_prealloc_blocks": {
        const v = kstrtoull(val);
        const { min, max } = L.dataPreallocBlocks;
        if (v === null || v < BigInt(min) || v > BigInt(max)) {
          throw new UsageError(`invalid data_prealloc_blocks option, must be between ${min} and ${max}`);
        }
        o.dataPreallocBlocks = Number(v);
        break;
      }
      case "data_prealloc_contig_only": {
        const v = matchInt(val);
        if (v === null || v < 0 || v > 1) {
          throw new UsageError("invalid data_prealloc_contig_only option, bool must only be 0 or 1");
        }
        o.dataPreallocContigOnly = v === 1;
        break;
      }
      case "ino_alloc_per_lock": {
        const v = matchInt(val);
        const { min, max } = L.inoAllocPerLock;
        if (v === null || v < min || v > max) {
          throw new UsageError(`invalid ino_alloc_per_lock option, must be between ${min} and ${max}`);
        }
        o.inoAllocPerLock = v;
        break;
      }
      case "tcp_keepalive_timeout_ms": {
        const v = matchInt(val);
        if (v === null) throw new UsageError("failed to parse tcp_keepalive_timeout_ms value");
        if (v <= L.tcpKeepaliveTimeoutMsAbove) {
          throw new UsageError(
            `invalid tcp_keepalive_timeout_ms value ${v}, must be larger than ${L.tcpKeepaliveTimeoutMsAbove}`,
          );
        }
        o.tcpKeepaliveTimeoutMs = v;
        break;
      }
      case "lock_idle_count": {
        const v = matchInt(val);
        const { min, max } = L.lockIdleCount;
        if (v === null) throw new UsageError("failed to parse lock_idle_count value");
        if (v < min || v > max) {
          throw new UsageError(`invalid lock_idle_count value ${v}, must be between ${min} and ${max}`);
        }
        o.lockIdleCount = v;
        break;
      }
      case "log_merge_wait_timeout_ms": {
        const v = matchInt(val);
        const { min, max } = L.logMergeWaitTimeoutMs;
        if (v === null) throw new UsageError("failed to parse log_merge_wait_timeout_ms value");
        if (v < min || v > max) {
          throw new UsageError(`invalid log_merge_wait_timeout_ms value ${v}, must be between ${min} and ${max}`);
        }
        o.logMergeWaitTimeoutMs = v;
        break;
      }
      case "metadev_path":
        o.metadevPath = val;
        break;
      case "orphan_scan_delay_ms": {
        if (orphanSeen) {
          throw new UsageError("multiple orphan_scan_delay_ms options provided, only provide one.");
        }
        orphanSeen = true;
        const v = matchInt(val);
        const { min, max } = L.orphanScanDelayMs;
        if (v === null || v < min || v > max) {
          throw new UsageError(`invalid orphan_scan_delay_ms option, must be between ${min} and ${max}`);
        }
        o.orphanScanDelayMs = v;
        break;
      }
      case "quorum_heartbeat_timeout_ms": {
        const v = kstrtoull(val);
        const { min, max } = L.quorumHeartbeatTimeoutMs;
        if (v === null) throw new UsageError("failed to parse quorum_heartbeat_timeout_ms value");
        if (v < BigInt(min) || v > BigInt(max)) {
          throw new UsageError(`invalid quorum_heartbeat_timeout_ms value ${v}, must be between ${min} and ${max}`);
        }
        o.quorumHeartbeatTimeoutMs = Number(v);
        break;
      }
      case "quorum_slot_nr": {
        if (slotSeen) throw new UsageError("multiple quorum_slot_nr options provided, only provide one.");
        slotSeen = true;
        const v = matchInt(val);
        const { min, max } = L.quorumSlotNr;
        if (v === null || v < min || v > max) {
          throw new UsageError(`invalid quorum_slot_nr option, must be between ${min} and ${max}`);
        }
        o.quorumSlotNr = v;
        break;
      }
    }
  }

  if (o.metadevPath === undefined) {
    throw new UsageError('Required mount option "metadev_path" not found');
  }
  return { ...o, metadevPath: o.metadevPath };
}

/**
 * The canonical option string of a set of mount options, listing every
 * option (parseMountOptions of the result gives back the same object).
 */
export function formatMountOptions(o: MountOptions): string {
  const parts = [
    o.acl ? "acl" : "noacl",
    `data_prealloc_blocks=${o.dataPreallocBlocks}`,
    `data_prealloc_contig_only=${o.dataPreallocContigOnly ? 1 : 0}`,
    `ino_alloc_per_lock=${o.inoAllocPerLock}`,
    `lock_idle_count=${o.lockIdleCount}`,
    `log_merge_wait_timeout_ms=${o.logMergeWaitTimeoutMs}`,
    `metadev_path=${o.metadevPath}`,
    `orphan_scan_delay_ms=${o.orphanScanDelayMs}`,
    `quorum_heartbeat_timeout_ms=${o.quorumHeartbeatTimeoutMs}`,
  ];
  if (o.quorumSlotNr !== undefined) parts.push(`quorum_slot_nr=${o.quorumSlotNr}`);
  parts.push(`tcp_keepalive_timeout_ms=${o.tcpKeepaliveTimeoutMs}`);
  return parts.join(",");
}
