// The routing table method by method: successor list, predecessor, fingers, dead peers and one lookup step, no I/O.

import { describe, expect, test } from "bun:test";
import { P2PError } from "../../../src/protocol/errors";
import { bigIntToId, ID_BITS } from "../../../src/model/id";
import { RoutingTable } from "../../../src/node/ring/routing-table";
import type { Peer } from "../../../src/model/peer";

/** A peer at position `n` of 16 evenly spaced places on the circle (ids chosen, not hashed). */
function at(n: number): Peer {
  return { id: bigIntToId(BigInt(n) << 156n), address: `127.0.0.1:${7000 + n}` };
}

function table(selfAt = 4, length = 3, clock = () => 1_000): RoutingTable {
  return new RoutingTable(at(selfAt), length, clock);
}

describe("RoutingTable", () => {
  test("setSuccessors drops this node, duplicates and dead peers and keeps at most the list length", () => {
    const t = table();
    t.markDead(at(7));
    t.setSuccessors([at(5), at(4), at(5), at(7), at(8), at(9), at(10)]);
    expect(t.successors.map((peer) => peer.address)).toEqual([at(5), at(8), at(9)].map((peer) => peer.address));
    expect(t.successor).toEqual(at(5));
  });

  test("setSuccessors with somebody in it ends being alone", () => {
    const t = table();
    t.alone = true;
    t.setSuccessors([]);
    expect(t.alone).toBe(true);
    t.setSuccessors([at(6)]);
    expect(t.alone).toBe(false);
  });

  test("setPredecessor says whether the new predecessor took part of this node's range", () => {
    const t = table(8);
    expect(t.setPredecessor(at(2))).toBe(false); // no range known yet
    expect(t.setPredecessor(at(5))).toBe(true); // inside (2, 8)
    expect(t.setPredecessor(at(3))).toBe(false); // behind the range start
    expect(t.predecessor).toEqual(at(3));
  });

  test("a node alone hands part of the whole circle to its first predecessor", () => {
    const t = table(8);
    t.alone = true;
    expect(t.setPredecessor(at(12))).toBe(true);
  });

  test("markDead removes a peer from successors, fingers and predecessor, and revive lets it back", () => {
    const t = table(4);
    t.setSuccessors([at(5), at(6)]);
    t.setPredecessor(at(5));
    t.setFingers(0, 10, at(5));
    t.markDead(at(5));
    expect(t.successors).toEqual([at(6)]);
    expect(t.predecessor).toBeNull();
    expect(t.finger(3)).toBeNull();
    expect(t.isDead(at(5).address)).toBe(true);
    t.setSuccessors([at(5), at(6)]);
    expect(t.successors).toEqual([at(6)]);
    t.revive(at(5).address);
    t.setSuccessors([at(5), at(6)]);
    expect(t.successors).toEqual([at(5), at(6)]);
  });

  test("markDead never marks this node itself", () => {
    const t = table(4);
    t.markDead(at(4));
    expect(t.isDead(at(4).address)).toBe(false);
  });

  test("noteFailure marks a silent peer dead, leaves a busy one alone and rethrows anything else", () => {
    const t = table(4);
    t.noteFailure(new P2PError("TIMEOUT", "silent"), at(6));
    t.noteFailure(new P2PError("UNAVAILABLE", "joining"), at(7));
    expect(t.isDead(at(6).address)).toBe(true);
    expect(t.isDead(at(7).address)).toBe(false);
    expect(() => t.noteFailure(new TypeError("bug"), at(8))).toThrow(TypeError);
  });

  test("dead peers are forgotten once older than the ttl, oldest first in deadAddresses", () => {
    let now = 1_000;
    const t = table(4, 3, () => now);
    t.markDead(at(6));
    now = 2_000;
    t.markDead(at(7));
    expect(t.deadAddresses()).toEqual([at(6).address, at(7).address]);
    now = 2_500;
    t.forgetDeadPeersOlderThan(1_000);
    expect(t.deadAddresses()).toEqual([at(7).address]);
  });

  test("isPrimaryFor covers (predecessor, self], everything when alone and nothing without a predecessor", () => {
    const t = table(8);
    expect(t.isPrimaryFor(at(7).id)).toBe(false);
    t.setPredecessor(at(5));
    expect(t.isPrimaryFor(at(7).id)).toBe(true);
    expect(t.isPrimaryFor(at(8).id)).toBe(true);
    expect(t.isPrimaryFor(at(5).id)).toBe(false);
    t.alone = true;
    expect(t.isPrimaryFor(at(1).id)).toBe(true);
  });

  test("nextStep answers this node for its own range, the successor for the next arc, and a closer node beyond", () => {
    const t = table(4);
    t.setPredecessor(at(2));
    t.setSuccessors([at(6), at(8)]);
    t.setFingers(ID_BITS - 2, ID_BITS - 1, at(12));
    expect(t.nextStep(at(3).id, new Set())).toEqual({ done: true, peer: at(4) });
    expect(t.nextStep(at(5).id, new Set())).toEqual({ done: true, peer: at(6) });
    expect(t.nextStep(at(14).id, new Set())).toEqual({ done: false, peer: at(12) });
    // Avoiding the successor moves the exact answer to the next one in the list.
    expect(t.nextStep(at(7).id, new Set([at(6).address]))).toEqual({ done: true, peer: at(8) });
  });

  test("closestPrecedingNode takes the nearer of the best finger and the successor list", () => {
    const t = table(0);
    t.setSuccessors([at(1), at(2)]);
    t.setFingers(ID_BITS - 4, ID_BITS - 3, at(3)); // finger at 2^156 * 1: points at 3
    expect(t.closestPrecedingNode(at(10).id, new Set())).toEqual(at(3));
    expect(t.closestPrecedingNode(at(10).id, new Set([at(3).address]))).toEqual(at(2));
    expect(t.closestPrecedingNode(at(1).id, new Set())).toBeNull();
  });

  test("nearestKnownPeers lists every live peer once, clockwise from this node", () => {
    const t = table(8);
    t.setSuccessors([at(10), at(12)]);
    t.setFingers(0, 3, at(14));
    t.setFingers(3, 5, at(2));
    t.setPredecessor(at(6));
    t.markDead(at(12));
    expect(t.nearestKnownPeers(new Set()).map((peer) => peer.address)).toEqual([at(10), at(14), at(2), at(6)].map((p) => p.address));
    expect(t.nearestKnownPeers(new Set([at(14).address]))).toHaveLength(3);
    expect(t.knows(at(2))).toBe(true);
    expect(t.knows(at(12))).toBe(false);
  });

  test("distinctFingers lists each finger peer once, in finger order", () => {
    const t = table(0);
    t.setFingers(0, 5, at(1));
    t.setFingers(5, 9, at(2));
    t.setFingers(9, 10, at(1));
    expect(t.distinctFingers()).toEqual([at(1), at(2)]);
    t.clearFingers();
    expect(t.distinctFingers()).toEqual([]);
  });

  test("adoptPredecessor ignores this node and reset forgets every table", () => {
    const t = table(4);
    t.adoptPredecessor(at(4));
    expect(t.predecessor).toBeNull();
    t.adoptPredecessor(at(2));
    t.setSuccessors([at(6)]);
    t.setFingers(0, 3, at(6));
    t.nextFinger = 3;
    t.reset();
    expect(t.neighbours()).toEqual({ predecessor: null, successors: [] });
    expect(t.distinctFingers()).toEqual([]);
    expect(t.nextFinger).toBe(0);
    // The range start went too: the next predecessor takes nothing from a range no longer known.
    expect(t.setPredecessor(at(3))).toBe(false);
  });

  test("holdsKey: the keys of this node and of the replicas - 1 predecessors before it, once the earlier predecessors are known", () => {
    const t = table(8);
    t.setPredecessor(at(6));
    const key = (n: number) => bigIntToId((BigInt(n) << 156n) - 1n); // just before place n: its node is the key's primary
    // Only the predecessor known: keys further back cannot be proven to be others'.
    expect(t.holdsKey(key(2), 3)).toBe(true);
    t.setEarlierPredecessors(at(6), [at(4), at(2)], false);
    expect(t.holdsKey(key(8), 3)).toBe(true); // primary
    expect(t.holdsKey(key(6), 3)).toBe(true); // replica of 6
    expect(t.holdsKey(key(4), 3)).toBe(true); // replica of 4
    expect(t.holdsKey(key(2), 3)).toBe(false); // 2, 4 and 6 hold it
    expect(t.holdsKey(key(12), 3)).toBe(false);
    // Learnt behind another predecessor: stale, so only the tables count again.
    t.setPredecessor(at(7));
    expect(t.holdsKey(key(2), 3)).toBe(true);
    // A ring of three: every node holds every key.
    t.setEarlierPredecessors(at(7), [at(2)], true);
    expect(t.holdsKey(key(12), 3)).toBe(true);
  });

  test("holdsKey without earlier predecessors refuses a key only when replicas known live nodes lie between it and this node", () => {
    const t = table(8, 4);
    t.setPredecessor(at(6));
    t.setSuccessors([at(10), at(12), at(14), at(0)]);
    const key = (n: number) => bigIntToId((BigInt(n) << 156n) - 1n);
    expect(t.holdsKey(key(13), 3)).toBe(false); // 14, 0 and 6 lie between
    t.markDead(at(14));
    expect(t.holdsKey(key(13), 3)).toBe(true); // a dead node is no evidence
  });

  test("a walk of earlier predecessors that came back round a ring still forming is dropped once a node outside it is known", () => {
    const t = table(8, 4);
    const key = (n: number) => bigIntToId((BigInt(n) << 156n) - 1n);
    t.setPredecessor(at(6));
    t.setSuccessors([at(2)]);
    // Learnt when the ring was 8, 6 and 2: every node held every key.
    t.setEarlierPredecessors(at(6), [at(2)], true);
    expect(t.holdsKey(key(13), 3)).toBe(true);
    expect(t.earlierPredecessorsAge()).toBe(0);
    // Then 10, 12 and 14 joined, and stabilization named them as successors: the wrap is stale, to be walked again.
    t.setSuccessors([at(10), at(12), at(14), at(2)]);
    expect(t.earlierPredecessorsAge()).toBe(Infinity);
    expect(t.holdsKey(key(13), 3)).toBe(false); // 14, 2 and 6 lie between
  });
});
