// A process's CPU time from /proc, and waiting until a set of processes leaves the machine room to start more (how a large testnet paces its waves).

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat (USER_HZ: 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;
/** How long each look at the processes' CPU lasts. */
const SAMPLE_MS = 1_000;
/** The processes are calm when together they use at most this share of the machine's cores: a quarter left free serves the joins (the DNS, the nodes they call). */
const CALM_SHARE_OF_CORES = 0.75;

/**
 * Resolves once `pids` together used at most CALM_SHARE_OF_CORES of the machine's cores over one second, or after
 * `maxWaitMs` whatever they use; resolves at once where /proc is missing. A wave of nodes joining a
 * ring of hundreds keeps its neighbours busy for tens of seconds (every changed successor list runs
 * rounds at the fast period); starting the next wave meanwhile starved the DNS until joins timed out.
 */
export async function waitForCalmCpu(pids: readonly number[], maxWaitMs: number): Promise<void> {
  const started = Date.now();
  const limitTicks = (CALM_SHARE_OF_CORES * availableParallelism() * CLOCK_TICKS_PER_SECOND * SAMPLE_MS) / 1000;
  for (let look = 0; look < Math.ceil(maxWaitMs / SAMPLE_MS) && Date.now() - started < maxWaitMs; look++) {
    const before = totalTicks(pids);
    if (before === null) return;
    await Bun.sleep(SAMPLE_MS);
    const after = totalTicks(pids);
    if (after === null || after - before <= limitTicks) return;
  }
}

/** utime + stime of a process so far, in clock ticks; throws when /proc has no such process. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ')': utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** utime + stime of every process still running; null when /proc cannot be read at all. */
function totalTicks(pids: readonly number[]): number | null {
  let total = 0;
  let read = 0;
  for (const pid of pids) {
    try {
      total += cpuTicks(pid);
      read++;
    } catch {
      // exited meanwhile: it uses nothing
    }
  }
  return read === 0 && pids.length > 0 ? null : total;
}
