// Membership method by method, in-process on the memory network: create, join through bootstrap peers, leave, adopt, and when to serve.

import { describe, expect, test } from "bun:test";
import { isP2PError } from "../../../src/protocol/errors";
import { at, entry, fakeClock, keyAfter, MemoryNetwork, partsAt, setTrueNeighbours, stubCircle } from "./parts";

const POSITIONS = [0, 2, 4, 6, 10, 12, 14];

/** The node under test at 8, not yet in the ring of stub peers at `POSITIONS`. */
function setup() {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, POSITIONS, clock.now);
  const node = partsAt(network, 8, clock.now);
  return { network, clock, stubs, node };
}

function servingError(assertServing: () => void): string | null {
  try {
    assertServing();
    return null;
  } catch (error) {
    if (!isP2PError(error, "UNAVAILABLE")) throw error;
    return error.message;
  }
}

describe("Membership.create and assertServing", () => {
  test("a node answers no ring call until it created or joined a ring", () => {
    const { node } = setup();
    expect(node.membership.isMember).toBe(false);
    expect(servingError(() => node.membership.assertServing())).toContain("is still joining the ring");
    node.membership.create();
    expect(node.membership.isMember).toBe(true);
    expect(node.table.alone).toBe(true);
    expect(servingError(() => node.membership.assertServing())).toBeNull();
  });
});

describe("Membership.join", () => {
  test("joins through a bootstrap peer: takes the key's successor and its list, and notifies it", async () => {
    const { node, stubs } = setup();
    const result = await node.membership.join([at(2)]);
    expect(result).toEqual({ joinedVia: at(2), failed: [] });
    expect(node.table.successors).toEqual([at(10), at(12), at(14)]);
    expect(stubs.get(10)!.notified).toEqual([at(8)]);
    expect(node.membership.isMember).toBe(true);
  });

  test("a bootstrap peer that does not answer is reported and the next one tried", async () => {
    const { node, network } = setup();
    network.kill(at(2).address);
    const result = await node.membership.join([at(2), at(4)]);
    expect(result).toEqual({ joinedVia: at(4), failed: [at(2)] });
  });

  test("with no bootstrap peer answering, stays out of the ring", async () => {
    const { node, network } = setup();
    network.kill(at(2).address);
    expect(await node.membership.join([at(2), at(8)])).toEqual({ joinedVia: null, failed: [at(2)] });
    expect(node.membership.isMember).toBe(false);
  });

  test("a successor that dies during the join is routed around, not blamed on the bootstrap peer", async () => {
    const { node, network, stubs } = setup();
    // 10 is gone but the others do not know yet: the bootstrap still names it.
    network.kill(at(10).address);
    const result = await node.membership.join([at(2)]);
    expect(result.joinedVia).toEqual(at(2));
    expect(node.table.successor).toEqual(at(12));
    expect(stubs.get(12)!.notified).toEqual([at(8)]);
  });
});

describe("Membership.leave", () => {
  test("hands every record to the first successor that takes them, then tells it and the predecessor", async () => {
    const { node, stubs, clock } = setup();
    setTrueNeighbours([...POSITIONS, 8], (n) => (n === 8 ? node.table : undefined));
    node.membership.adopt(node.table.predecessor, node.table.successors);
    node.store.merge([entry(keyAfter(7), "alice", clock.now())]);
    expect(await node.membership.leave()).toEqual({ handedTo: at(10) });
    expect(stubs.get(10)!.store.get(keyAfter(7), clock.now()).map((stored) => stored.member)).toEqual(["alice"]);
    expect(stubs.get(10)!.leavings).toEqual([{ leaver: at(8), predecessor: at(6), successors: [at(10), at(12), at(14)] }]);
    expect(stubs.get(6)!.leavings.length).toBe(1);
    expect(servingError(() => node.membership.assertServing())).toContain("has left the ring");
    expect(node.membership.isMember).toBe(false);
  });

  test("a successor that does not answer is skipped for the next as heir", async () => {
    const { node, network, clock } = setup();
    setTrueNeighbours([...POSITIONS, 8], (n) => (n === 8 ? node.table : undefined));
    node.membership.adopt(node.table.predecessor, node.table.successors);
    node.store.merge([entry(keyAfter(7), "alice", clock.now())]);
    network.kill(at(10).address);
    expect(await node.membership.leave()).toEqual({ handedTo: at(12) });
  });
});

describe("Membership.adopt", () => {
  test("installs the given neighbours without a call and makes the node a member", () => {
    const { node, network } = setup();
    const calls = network.calls;
    node.membership.adopt(at(6), [at(10), at(12)]);
    expect(node.table.neighbours()).toEqual({ predecessor: at(6), successors: [at(10), at(12)] });
    expect(node.membership.isMember).toBe(true);
    expect(network.calls).toBe(calls);
  });
});
