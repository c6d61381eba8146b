/*
 * The "name value" listings of stat and statfs: every field one line,
 * the name left-justified in 17 columns, or with -s only the value of the
 * named field.  The field name is checked before anything is asked of a
 * mount, as the original does.
 */
import { FsError } from "../util/errors.js";

export type FieldList<T> = ReadonlyArray<readonly [string, (v: T) => string]>;

/** the formatter of the field -s names; EINVAL naming the known fields */
export function selectField<T>(fields: FieldList<T>, name: string): (v: T) => string {
  const f = fields.find(([n]) => n === name);
  if (!f) throw new FsError("EINVAL", `unknown field: '${name}' (fields: ${fields.map(([n]) => n).join(", ")})`);
  return f[1];
}

export function formatFields<T>(fields: FieldList<T>, v: T, singleField?: string): string[] {
  if (singleField !== undefined) return [selectField(fields, singleField)(v)];
  return fields.map(([name, value]) => `${name.padEnd(17)} ${value(v)}`);
}
