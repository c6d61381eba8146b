/*
 * Validation of the names of directory entries: 1 to NAME_MAX bytes,
 * no '/' and no NUL byte, and never "." or ".." (those are not stored:
 * readdir makes them up and the kernel resolves them itself).
 */
import { NAME_MAX } from "../format/constants.js";
import { FsError } from "../util/errors.js";
import { toBuf } from "./context.js";
import type { Name } from "./types.js";

export function checkName(name: Name): Buffer {
  const b = toBuf(name);
  if (b.length === 0) throw new FsError("EINVAL", "empty name");
  if (b.length > NAME_MAX) throw new FsError("ENAMETOOLONG", `name of ${b.length} bytes, more than ${NAME_MAX}`);
  if (b.includes(0x2f) || b.includes(0)) throw new FsError("EINVAL", "name contains '/' or NUL");
  if ((b.length === 1 && b[0] === 0x2e) || (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e)) {
    throw new FsError("EINVAL", "name is '.' or '..'");
  }
  return b;
}
