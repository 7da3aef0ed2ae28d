// What `npm run vms` asks the nodes in the VMs (through `p2p client ... --json` run as the vagrant user), and when
// their answers make one consistent ring.

import type { Vm } from "./vm";

/** The part of `p2p client status --json` this script reads. */
export interface RingStatus {
  privateNetwork?: boolean;
  id: string;
  address: string;
  predecessor: { address: string } | null;
  successors: { address: string }[];
}

/** A client command the way a user of the VM types it after `vagrant ssh` (login shell: P2P_HOME=/var/lib/p2p). */
export function clientCommand(args: string): string {
  return `runuser -u vagrant -- env P2P_HOME=/var/lib/p2p NO_COLOR=1 /usr/local/bin/p2p client ${args} --json`;
}

export async function clientJson<T>(vm: Vm, args: string, timeoutMs = 60_000): Promise<T> {
  const stdout = await vm.agent.run(clientCommand(args), timeoutMs);
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`${vm.name}: p2p client ${args} printed no JSON: ${stdout.slice(0, 120)}`);
  }
}

/**
 * One ring of exactly these nodes: sorted by id, each node's first successor is the next one and its predecessor the
 * one before. Returns null when consistent, else the first thing that is not (for the timeout message).
 */
export function ringProblem(statuses: RingStatus[], expected: string[]): string | null {
  // Nodes report themselves as host:port (the peer port); the VMs are known by their host address.
  const hosts = statuses.map((status) => hostOf(status.address)).sort();
  if (hosts.join() !== [...expected].sort().join()) return `answered: ${hosts.join(", ")} instead of ${[...expected].sort().join(", ")}`;
  const sorted = [...statuses].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const [index, status] of sorted.entries()) {
    const next = sorted[(index + 1) % sorted.length]!;
    const previous = sorted[(index - 1 + sorted.length) % sorted.length]!;
    if (status.successors[0]?.address !== next.address) {
      return `${status.address}'s successor is ${status.successors[0]?.address ?? "none"}, not ${next.address}`;
    }
    if (status.predecessor?.address !== previous.address) {
      return `${status.address}'s predecessor is ${status.predecessor?.address ?? "none"}, not ${previous.address}`;
    }
  }
  return null;
}

function hostOf(address: string): string {
  return address.replace(/:\d+$/, "");
}

/** Asks every VM's node for its status until they form one ring of exactly these nodes. */
export async function waitForRing(vms: Vm[], timeoutMs: number, say?: (line: string) => void): Promise<RingStatus[]> {
  const deadline = Date.now() + timeoutMs;
  let lastSaid = Date.now();
  let problem = "no answer yet";
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    const statuses = await Promise.all(vms.map((vm) => clientJson<RingStatus>(vm, "status", 20_000).catch((error: Error) => error)));
    const failed = statuses.find((status): status is Error => status instanceof Error);
    problem = failed ? failed.message : (ringProblem(statuses as RingStatus[], vms.map((vm) => vm.spec.address)) ?? "");
    if (!problem) return statuses as RingStatus[];
    if (Date.now() - lastSaid > 30_000) {
      lastSaid = Date.now();
      say?.(`waiting for the ring: ${problem}`);
    }
    await Bun.sleep(1_000);
  }
  throw new Error(`no consistent ring of ${vms.map((vm) => vm.name).join(", ")} after ${timeoutMs / 1000} s: ${problem}`);
}
