// CPU seconds spent by each side of a measured run (Linux /proc; null elsewhere): the sync, the API double and
// the PostgreSQL server share the machine's cores, so a run's wall time only means something next to them.
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on

interface Stat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime, and the same for its reaped children. */
  own: number;
  children: number;
}

function stat(pid: number | string): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const f = text.slice(close + 2).split(" ");
    // Fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return { pid: Number(pid), comm, ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/** CPU seconds of one process (not its children), or null when it cannot be read. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  const s = stat(pid);
  return s ? s.own / TICKS_PER_SECOND : null;
}

/**
 * CPU seconds of one local PostgreSQL server so far: its postmaster with its reaped children (backends that
 * have exited) plus its children alive now. null when the server is not local (or /proc is not there).
 */
export function postgresCpuSeconds(postmasterPid: number | null): number | null {
  if (postmasterPid === null) return null;
  const postmaster = stat(postmasterPid);
  if (!postmaster) return null;
  let ticks = postmaster.own + postmaster.children;
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const s = stat(entry);
      if (s && s.ppid === postmasterPid) ticks += s.own;
    }
  } catch {
    return null;
  }
  return ticks / TICKS_PER_SECOND;
}

/** The postmaster of the backend with this pid, when that backend runs on this machine. */
export function parentPid(pid: number): number | null {
  const s = stat(pid);
  return s ? s.ppid : null;
}
