// Stopping processes by pid that this shell may not have started (cluster stop; tests cleaning up after the scripts): check they are still ours first.

import { existsSync, readFileSync } from "node:fs";

/** True while the pid names a process that has not exited (a zombie waiting to be reaped counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/**
 * True when the pid is still a process of the network living in `home`. Pids are reused: after a reboot the
 * recorded pid may be someone's editor. On Linux the process's environment must hold P2P_HOME=<home>; elsewhere
 * its command line must name `address`.
 */
export function belongsTo(pid: number, home: string, address: string): boolean {
  if (!isRunning(pid)) return false;
  if (existsSync("/proc/self/environ")) {
    try {
      return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`P2P_HOME=${home}`);
    } catch {
      return false;
    }
  }
  const ps = Bun.spawnSync(["ps", "-p", String(pid), "-o", "command="], { stdout: "pipe", stderr: "ignore" });
  return ps.stdout.toString().includes(address);
}

/** SIGTERM (nodes leave the ring gracefully), then SIGKILL whatever still runs after `graceMs`; returns the pids still running. */
export async function stopPids(pids: number[], graceMs = 5_000): Promise<number[]> {
  const signal = (name: NodeJS.Signals) => {
    for (const pid of pids.filter(isRunning)) {
      try {
        process.kill(pid, name);
      } catch {
        // Gone between the check and the signal: what we wanted.
      }
    }
  };
  signal("SIGTERM");
  await waitUntilGone(pids, graceMs);
  signal("SIGKILL");
  await waitUntilGone(pids, 2_000);
  return pids.filter(isRunning);
}

async function waitUntilGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 1_000 && Date.now() < deadline; round++) {
    if (!pids.some(isRunning)) return;
    await Bun.sleep(50);
  }
}
