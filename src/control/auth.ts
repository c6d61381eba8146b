/*
 * Learning who is at the other end of a control connection.
 *
 * Node cannot ask a unix socket for its peer's credentials (SO_PEERCRED),
 * but the daemon learns the credentials of every FUSE request from the
 * kernel, which cannot be forged.  So a client proves who it is through
 * the mount itself:
 *
 *   1. it asks the daemon for a challenge (`hello`): a random nonce and
 *      the file name that carries it, `.scoutfs-control-auth.<nonce>`;
 *   2. it looks that name up in a directory of the mount (lstat); the
 *      FUSE lookup reaches the daemon with the caller's uid, gid and pid,
 *      ControlAuth.noteLookup records them and the lookup answers ENOENT
 *      (nothing is created, nothing is cached by the kernel: an error
 *      reply leaves no negative entry);
 *   3. it sends `auth` with the nonce; the server takes the recorded
 *      credentials (once), reads the process's groups and capabilities
 *      from /proc, and serves the connection as that caller.
 *
 * A nonce is known only to the connection it was issued on, can be
 * claimed once, and expires after NONCE_TTL_MS.  Another user who learned
 * a nonce could only make the lookup as themselves.  For an in-process
 * control server (tests, no FUSE) trustingAuthenticator stands in.
 */
import { randomBytes } from "node:crypto";
import { readProcCreds } from "../util/proc_creds.js";
import { callerOfCreds, type ControlCaller } from "./caller.js";

export const AUTH_NAME_PREFIX = ".scoutfs-control-auth.";
const NONCE_BYTES = 16;
const AUTH_NAME_BYTES = AUTH_NAME_PREFIX.length + NONCE_BYTES * 2;
const NONCE_TTL_MS = 30_000;

export interface ControlChallenge {
  nonce: string;
  /** the name to look up in a directory of the mount */
  name: string;
}

export interface ControlAuthenticator {
  issue(): ControlChallenge;
  /** the caller who looked up the nonce's name, once; undefined if nobody did */
  claim(nonce: string): ControlCaller | undefined;
}

interface Issued {
  expires: number;
  seen?: { uid: number; gid: number; pid: number };
}

export class ControlAuth implements ControlAuthenticator {
  private readonly issued = new Map<string, Issued>();

  issue(): ControlChallenge {
    this.expire();
    const nonce = randomBytes(NONCE_BYTES).toString("hex");
    this.issued.set(nonce, { expires: Date.now() + NONCE_TTL_MS });
    return { nonce, name: AUTH_NAME_PREFIX + nonce };
  }

  /**
   * A FUSE lookup: true when name carries a nonce this server issued (the
   * caller is recorded and the lookup must answer ENOENT), false for every
   * other name.  Cheap for ordinary names: a length and first byte check.
   */
  noteLookup(name: Buffer, who: { uid: number; gid: number; pid: number }): boolean {
    if (name.length !== AUTH_NAME_BYTES || name[0] !== 0x2e) return false;
    const s = name.toString("latin1");
    if (!s.startsWith(AUTH_NAME_PREFIX)) return false;
    const got = this.issued.get(s.slice(AUTH_NAME_PREFIX.length));
    if (!got || got.expires < Date.now()) return true; // ours in shape: never a real name
    got.seen ??= { uid: who.uid, gid: who.gid, pid: who.pid };
    return true;
  }

  claim(nonce: string): ControlCaller | undefined {
    const got = this.issued.get(nonce);
    this.issued.delete(nonce);
    if (!got?.seen || got.expires < Date.now()) return undefined;
    const creds = readProcCreds(got.seen.pid);
    // the process must still be the one the kernel vouched for
    if (!creds || creds.uid !== got.seen.uid || creds.gid !== got.seen.gid) return undefined;
    return callerOfCreds(creds);
  }

  private expire(): void {
    const now = Date.now();
    for (const [n, i] of this.issued) if (i.expires < now) this.issued.delete(n);
  }
}

/** for control servers without a FUSE mount (tests): every claim is the given caller */
export function trustingAuthenticator(caller: ControlCaller): ControlAuthenticator {
  const auth = new ControlAuth();
  return { issue: () => auth.issue(), claim: () => ({ ...caller }) };
}
