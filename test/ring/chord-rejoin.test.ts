// A node that comes back: revived at once by the peers that marked it dead, and records that land on the wrong node move to their primary.

import { describe, expect, test } from "bun:test";
import { ChordNode } from "../../src/node/ring/chord";
import { ringId } from "../../src/node/ring/id";
import { MemoryRecordStore } from "../../src/node/ring/records";
import { peerAt } from "../../src/node/ring/transport";
import { killNodes, settle } from "../../scripts/sim";
import { type TestRing, isStable, joinRing, maintainAll, maintainUntilStable, sortedById } from "./fixture";

/** Restarts a crashed node on the same address with a fresh process state (its store kept, as on disk). */
function restart(ring: TestRing, address: string): ChordNode {
  const store = ring.stores.get(address) ?? new MemoryRecordStore();
  const node = new ChordNode(peerAt(address), ring.network.transportFor(address), store, {
    successorListLength: ring.successorListLength,
    clock: ring.clock,
  });
  ring.network.listen(address, node);
  ring.nodes = ring.nodes.map((old) => (old.self.address === address ? node : old));
  ring.live.push(node);
  return node;
}

describe("a node restarted after a crash", () => {
  test("is taken back by its predecessor within a few rounds, long before the dead-peer TTL", async () => {
    const ring = await joinRing(8, 21);
    const victim = sortedById(ring.live)[3]!;
    killNodes(ring, [victim]);
    expect(await maintainUntilStable(ring, 20)).toBeGreaterThan(0);
    const back = restart(ring, victim.self.address);
    await back.join([ring.live[0]!.self]);
    await settle(ring.live);
    // Each round is one virtual second; the dead-peer TTL is 60.
    expect(await maintainUntilStable(ring, 8)).toBeGreaterThan(0);
  });

  test("is taken back when it returns before anyone noticed it was gone, and when it left gracefully", async () => {
    const ring = await joinRing(8, 22);
    const [leaver, crasher] = [sortedById(ring.live)[2]!, sortedById(ring.live)[6]!];
    await leaver.leave();
    ring.network.remove(leaver.self.address);
    ring.live = ring.live.filter((node) => node !== leaver);
    expect(await maintainUntilStable(ring, 20)).toBeGreaterThan(0);
    killNodes(ring, [crasher]);
    await maintainAll(ring);
    for (const address of [leaver.self.address, crasher.self.address]) {
      const back = restart(ring, address);
      await back.join([ring.live[0]!.self]);
    }
    await settle(ring.live);
    expect(await maintainUntilStable(ring, 8)).toBeGreaterThan(0);
    expect(isStable(ring)).toBe(true);
  });
});
