import { describe, expect, test } from "bun:test";
import { inHalfOpenInterval, ringId } from "../../../src/model/id";
import { killNodes, killRandomNodes, refreshFingers, repairUntilStable, trueSuccessor } from "../../../src/node/ring/sim/simulation";
import type { ChordNode } from "../../../src/node/ring/chord";
import type { RingHandlers } from "../../../src/model/ring-transport";
import { addNode, buildRing, fixAllFingers, isStable, joinRing, measureLookups, sortedById } from "./fixture";

describe("a Chord ring in memory", () => {
  test("three hundred nodes joining one by one converge to their true successors and predecessors", async () => {
    const ring = await joinRing(300);
    expect(isStable(ring)).toBe(true);
  }, 20_000);

  test("once fingers are fixed every lookup reaches the true successor", async () => {
    const ring = await joinRing(300, 11);
    await fixAllFingers(ring);
    const figures = await measureLookups(ring, 600);
    expect(figures.failedLookups).toBe(0);
    expect(figures.correct).toBe(600);
  }, 20_000);

  test("mean hops at 500 nodes stay within half of log2(N) plus one", async () => {
    const ring = await buildRing({ nodes: 500, seed: 3, replicas: 3, successors: 4 });
    const figures = await measureLookups(ring, 1000);
    expect(figures.correct).toBe(1000);
    expect(figures.meanHops).toBeLessThanOrEqual(Math.log2(500) / 2 + 1);
    expect(figures.p99Hops).toBeLessThanOrEqual(Math.log2(500));
  });

  test("a node that answers FIND_SUCCESSOR with itself for every key is routed around: every lookup through it still reaches the true successor", async () => {
    const ring = await buildRing({ nodes: 100, seed: 9, replicas: 3, successors: 4 });
    const liar = ring.live[17]!;
    ring.network.listen(liar.self.address, {
      ...bindHandlers(liar),
      handleFindSuccessorStep: () => ({ done: true, peer: liar.self }),
    });
    const ids = sortedById(ring.live).map((node) => node.self.id);
    const honest = ring.live.filter((node) => node !== liar);
    let checks = 0;
    for (let i = 0; i < 300; i++) {
      const key = ringId(`key-${i}`);
      const result = await honest[i % honest.length]!.lookup(key);
      expect(result.peer.id).toBe(trueSuccessor(ids, key));
      checks += result.checks;
    }
    // The check costs about one call per lookup.
    expect(checks / 300).toBeLessThanOrEqual(1.1);
  });

  test("a node alone is the successor of every key, in zero hops", async () => {
    const ring = await buildRing({ nodes: 1, seed: 1, replicas: 3, successors: 4 });
    const result = await ring.nodes[0]!.lookup(ringId("anything"));
    expect(result).toEqual({ peer: ring.nodes[0]!.self, hops: 0, checks: 0 });
  });

  test("lookups route around freshly crashed nodes: none fails, and none stops short of the key", async () => {
    const ring = await buildRing({ nodes: 400, seed: 5, replicas: 3, successors: 4 });
    killRandomNodes(ring, 40);
    const liveIds = sortedById(ring.live).map((node) => node.self.id);
    for (let i = 0; i < 300; i++) {
      const key = ringId(`key-${i}`);
      const result = await ring.live[i % ring.live.length]!.lookup(key);
      const truth = trueSuccessor(liveIds, key);
      // Unverified answers may name a crashed node that used to own the key; never an earlier one.
      if (result.peer.id !== truth) {
        expect(ring.network.isReachable(result.peer.address)).toBe(false);
        expect(inHalfOpenInterval(result.peer.id, key, truth)).toBe(true);
      }
    }
  });

  test("after 25% of nodes crash at once, repair rounds restore 100% correct lookups", async () => {
    const ring = await buildRing({ nodes: 400, seed: 9, replicas: 3, successors: 4 });
    killRandomNodes(ring, 100);
    const repair = await repairUntilStable(ring, 30);
    expect(repair.stable).toBe(true);
    await refreshFingers(ring);
    const figures = await measureLookups(ring, 500);
    expect(figures.correct).toBe(500);
  });

  test("a crashed successor is dropped from the successor list and the fingers", async () => {
    const ring = await buildRing({ nodes: 50, seed: 2, replicas: 3, successors: 4 });
    const sorted = sortedById(ring.live);
    const node = sorted[0]!;
    const victim = sorted[1]!;
    killNodes(ring, [victim]);
    await node.stabilize();
    const status = node.status();
    expect(status.successors[0]!.address).toBe(sorted[2]!.self.address);
    expect(status.successors.map((peer) => peer.address)).not.toContain(victim.self.address);
    expect(status.fingers.map((peer) => peer.address)).not.toContain(victim.self.address);
    expect(status.successors.length).toBe(4);
  });

  test("a node whose whole successor list crashed finds its way back through its fingers", async () => {
    const ring = await buildRing({ nodes: 100, seed: 4, replicas: 3, successors: 4 });
    const sorted = sortedById(ring.live);
    killNodes(ring, sorted.slice(1, 5));
    await sorted[0]!.stabilize();
    await sorted[0]!.stabilize();
    expect(sorted[0]!.neighbours().successors[0]!.address).toBe(sorted[5]!.self.address);
  });

  test("join reports the bootstrap peers that did not answer and joins through the next one", async () => {
    const ring = await joinRing(5, 13);
    const [dead, alive] = [ring.live[1]!, ring.live[2]!];
    killNodes(ring, [dead]);
    const newcomer = addNode(ring, "127.9.9.9:4000");
    const result = await newcomer.join([dead.self, alive.self]);
    expect(result.failed.map((peer) => peer.address)).toEqual([dead.self.address]);
    expect(result.joinedVia?.address).toBe(alive.self.address);
  });

  test("stop() leaves no maintenance timer running", async () => {
    const ring = await joinRing(3, 17);
    const node = ring.live[0]!;
    let rounds = 0;
    const original = node.maintain.bind(node);
    node.maintain = async () => {
      rounds++;
      await original();
    };
    node.start(5);
    await Bun.sleep(40);
    node.stop();
    const seen = rounds;
    await Bun.sleep(40);
    expect(seen).toBeGreaterThan(0);
    expect(rounds).toBe(seen);
  });
});

/** A node's handlers as plain functions, so a test can replace one of them. */
function bindHandlers(node: ChordNode): RingHandlers {
  return {
    handleFindSuccessorStep: (key, avoid) => node.handleFindSuccessorStep(key, avoid),
    handleGetNeighbours: () => node.handleGetNeighbours(),
    handleNotify: (candidate) => node.handleNotify(candidate),
    handlePutRecords: (entries) => node.handlePutRecords(entries),
    handleGetRecords: (key) => node.handleGetRecords(key),
    handleLeaving: (leaver, predecessor, successors) => node.handleLeaving(leaver, predecessor, successors),
  };
}
