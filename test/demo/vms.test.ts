// The pure parts of `npm run vms` (the VM run itself is too slow for the suite: it is its own command): when the nodes'
// statuses make one consistent ring, and how each VM is provisioned.

import { describe, expect, test } from "bun:test";
import { type RingStatus, ringProblem } from "../../src/testnet/vm-ring";

/** A ring of these host addresses in this id order, each node reporting itself as host:7495 like a real node. */
function ring(hosts: string[]): RingStatus[] {
  const peer = (host: string) => ({ address: `${host}:7495` });
  return hosts.map((host, index) => ({
    id: index.toString(16).padStart(40, "0"),
    address: `${host}:7495`,
    predecessor: peer(hosts[(index - 1 + hosts.length) % hosts.length]!),
    successors: [peer(hosts[(index + 1) % hosts.length]!)],
  }));
}

const HOSTS = ["192.168.56.11", "192.168.56.12", "192.168.56.13"];

describe("npm run vms: one consistent ring", () => {
  test("statuses forming one ring of exactly the expected hosts (reported as host:port) are consistent", () => {
    expect(ringProblem(ring(HOSTS), [...HOSTS].reverse())).toBeNull();
  });

  test("a missing or an extra node is named, whatever the ids say", () => {
    expect(ringProblem(ring(HOSTS.slice(0, 2)), HOSTS)).toContain("answered: 192.168.56.11, 192.168.56.12 instead of");
    expect(ringProblem(ring(HOSTS), HOSTS.slice(0, 2))).toContain("answered: 192.168.56.11, 192.168.56.12, 192.168.56.13 instead of");
  });

  test("a node whose successor or predecessor is stale makes the ring inconsistent, and the problem names it", () => {
    const stale = ring(HOSTS);
    stale[0]!.successors = [{ address: "192.168.56.13:7495" }];
    expect(ringProblem(stale, HOSTS)).toBe("192.168.56.11:7495's successor is 192.168.56.13:7495, not 192.168.56.12:7495");
    const noPredecessor = ring(HOSTS);
    noPredecessor[1]!.predecessor = null;
    expect(ringProblem(noPredecessor, HOSTS)).toBe("192.168.56.12:7495's predecessor is none, not 192.168.56.11:7495");
  });
});
