import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux we run on). */
const CLK_TCK = 100;

export interface ProcSample {
  /** User + system CPU time so far, in seconds. */
  cpuSeconds: number;
  /** Resident set size in bytes (VmRSS). */
  rssBytes: number;
}

/**
 * Reads CPU time and RSS of a process from /proc, the only way to see other processes
 * (Redis, the dynos) with the same clock as our own. Returns null once the process is gone.
 */
export function sampleProcess(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After comm, fields start at 3 (state); utime is field 14, stime field 15.
    const utime = Number(fields[14 - 3]);
    const stime = Number(fields[15 - 3]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

/** A process to watch, by role ("dyno-0", "redis", "loadgen"). Several pids may share a role. */
export interface Watched {
  role: string;
  pids: number[];
}

export interface RoleUsage {
  role: string;
  /** CPU seconds spent during the window, summed over the role's pids. */
  cpuSeconds: number;
  /** CPU seconds per wall second (1.0 = one core busy). */
  cores: number;
  /** RSS at the end of the window, summed over the role's pids. */
  rssBytes: number;
}

/** CPU used between start() and stop() by each watched role. */
export class UsageWindow {
  private readonly watched: readonly Watched[];
  private readonly start: Map<number, number> = new Map();
  private readonly startedAt: number;

  constructor(watched: readonly Watched[]) {
    this.watched = watched;
    this.startedAt = performance.now();
    for (const w of watched) for (const pid of w.pids) this.start.set(pid, sampleProcess(pid)?.cpuSeconds ?? 0);
  }

  stop(): RoleUsage[] {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return this.watched.map((w) => {
      let cpu = 0;
      let rss = 0;
      for (const pid of w.pids) {
        const now = sampleProcess(pid);
        if (!now) continue;
        cpu += now.cpuSeconds - (this.start.get(pid) ?? now.cpuSeconds);
        rss += now.rssBytes;
      }
      return { role: w.role, cpuSeconds: round(cpu, 2), cores: round(cpu / seconds, 2), rssBytes: rss };
    });
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The 1-minute load average: other work on the box skews every number next to it. */
export function load1(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}
