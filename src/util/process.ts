/*
 * Is a process still running?  kill(pid, 0) alone says yes for a zombie,
 * and detached daemons whose parent has gone may stay zombies for a while
 * when PID 1 is slow to reap them, so a zombie (state Z in /proc) counts
 * as gone: it holds no files and will never run again.
 */
import fs from "node:fs";

export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ...": the state follows the last ')' (comm may contain anything)
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc: trust kill(2)
  }
}
