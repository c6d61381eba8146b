/*
 * Checking a control request's arguments in the daemon.  They come from
 * any local process, so each handler reads them through these helpers,
 * which throw FsError EINVAL naming the op and the field instead of
 * letting a wrong type reach the fs layer.
 */
import { FsError } from "../util/errors.js";
import { U64_MAX } from "../format/key.js";

export type ArgsObject = Record<string, unknown>;

export function argsObject(op: string, args: unknown): ArgsObject {
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw new FsError("EINVAL", `${op}: arguments must be an object`);
  return args as ArgsObject;
}

/** a non-negative integer that JS numbers hold exactly (inode numbers, positions, counts) */
export function uintArg(op: string, o: ArgsObject, name: string, min = 0): number {
  const v = o[name];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw new FsError("EINVAL", `${op}: ${name} must be an integer >= ${min}`);
  return v;
}

export function stringArg(op: string, o: ArgsObject, name: string): string {
  const v = o[name];
  if (typeof v !== "string") throw new FsError("EINVAL", `${op}: ${name} must be a string`);
  return v;
}

export function boolArg(op: string, o: ArgsObject, name: string): boolean {
  const v = o[name];
  if (typeof v !== "boolean") throw new FsError("EINVAL", `${op}: ${name} must be true or false`);
  return v;
}

/** a u64 that travels as a decimal string (values a JS number cannot hold exactly) */
export function u64Arg(op: string, o: ArgsObject, name: string): bigint {
  return u64Value(op, o[name], name);
}

export function u64Value(op: string, v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^[0-9]{1,20}$/.test(v) || BigInt(v) > U64_MAX) throw new FsError("EINVAL", `${op}: ${what} must be a decimal u64 string`);
  return BigInt(v);
}

/** a { sec, nsec } time, or undefined when null or absent */
export function timeArg(op: string, o: ArgsObject, name: string): { sec: number; nsec: number } | undefined {
  const t = o[name];
  if (t === null || t === undefined) return undefined;
  const r = argsObject(`${op} ${name}`, t);
  if (typeof r.sec !== "number" || !Number.isSafeInteger(r.sec)) throw new FsError("EINVAL", `${op}: ${name}.sec must be an integer`);
  return { sec: r.sec, nsec: uintArg(op, r, "nsec") };
}
