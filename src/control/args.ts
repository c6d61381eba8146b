/*
 * Checking a control request's arguments in the daemon.  They come from
 * any local process, so each handler reads them through these helpers,
 * which throw FsError EINVAL naming the op and the field instead of
 * letting a wrong type reach the fs layer.
 */
import { FsError } from "../util/errors.js";

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
