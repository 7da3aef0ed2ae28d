// The VMs' private network: a bridge and one tap per VM inside a network namespace this run creates and deletes.
// Nothing is configured in the host's own namespace: 192.168.56.x exists only in the guests, behind the bridge.

import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./shell";

/** Names this script gives its namespaces and run directories: the owner's pid follows, so stale ones can be found. */
export const NAMESPACE_PREFIX = "p2p-vms-";
const BRIDGE = "br0";

export class PrivateNetwork {
  readonly namespace: string;

  constructor(owner = process.pid) {
    this.namespace = `${NAMESPACE_PREFIX}${owner}`;
  }

  /** The bridge and taps, all created with `ip -n` so they are born inside the namespace. */
  async create(taps: string[]): Promise<void> {
    await run(["ip", "netns", "add", this.namespace]);
    const ip = (...args: string[]) => run(["ip", "-n", this.namespace, ...args]);
    await ip("link", "set", "lo", "up");
    await ip("link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0");
    await ip("link", "set", BRIDGE, "up");
    for (const tap of taps) {
      await ip("tuntap", "add", "dev", tap, "mode", "tap");
      await ip("link", "set", tap, "master", BRIDGE);
      await ip("link", "set", tap, "up");
    }
  }

  /** Deleting the namespace deletes its bridge and taps with it (the VMs holding the taps must be gone first). */
  async destroy(): Promise<void> {
    if (!(await namespaces()).includes(this.namespace)) return;
    await run(["ip", "netns", "del", this.namespace]);
  }

  /** The command prefix that runs a program (QEMU) inside the namespace; `ip netns exec` execs it, keeping the pid. */
  exec(command: string[]): string[] {
    return ["ip", "netns", "exec", this.namespace, ...command];
  }
}

export async function namespaces(): Promise<string[]> {
  const out = await run(["ip", "netns", "list"]);
  return out.split("\n").map((line) => line.split(" ")[0]!).filter(Boolean);
}

/**
 * Removes what an earlier run killed with SIGKILL left behind: its QEMU processes (their pids are in its run directory,
 * each checked to still be a QEMU of that run), its namespace and its run directory. Returns what it removed.
 */
export async function removeStaleRuns(): Promise<string[]> {
  const removed: string[] = [];
  const owners = new Set<number>();
  for (const name of await namespaces()) if (name.startsWith(NAMESPACE_PREFIX)) owners.add(Number(name.slice(NAMESPACE_PREFIX.length)));
  for (const entry of readdirSync(tmpdir())) if (entry.startsWith(NAMESPACE_PREFIX)) owners.add(Number(entry.slice(NAMESPACE_PREFIX.length)));
  for (const owner of owners) {
    if (!Number.isInteger(owner) || owner === process.pid || existsSync(`/proc/${owner}`)) continue;
    const dir = runDirectory(owner);
    for (const pid of recordedPids(dir)) {
      const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
      if (cmdline.includes("qemu-system") && cmdline.includes(dir)) {
        process.kill(pid, "SIGKILL");
        removed.push(`QEMU pid ${pid}`);
      }
    }
    const network = new PrivateNetwork(owner);
    if ((await namespaces()).includes(network.namespace)) {
      // A QEMU killed just now may hold its tap for a moment.
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await network.destroy();
          break;
        } catch (error) {
          if (attempt === 19) throw error;
          await Bun.sleep(250);
        }
      }
      removed.push(`namespace ${network.namespace}`);
    }
    if (existsSync(dir)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}

/** Where a run keeps its overlays, sockets, serial logs and the pids of its QEMUs. */
export function runDirectory(owner = process.pid): string {
  return join(tmpdir(), `${NAMESPACE_PREFIX}${owner}`);
}

export const PIDS_FILE = "qemu.pids";

function recordedPids(dir: string): number[] {
  const file = join(dir, PIDS_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 1);
}
