// When the statuses of the nodes in `npm run vms`'s VMs make one consistent ring (shared by scripts/vms/ring.ts and its test).

/** The part of `p2p client status --json` this check reads. */
export interface RingStatus {
  privateNetwork?: boolean;
  id: string;
  address: string;
  predecessor: { address: string } | null;
  successors: { address: string }[];
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
