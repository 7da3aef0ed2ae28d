// A node that comes back: revived at once by the peers that marked it dead, and records that land on the wrong node move to their primary.

import { describe, expect, test } from "bun:test";
import { ChordNode } from "../../../src/node/ring/chord";
import { ringId } from "../../../src/model/id";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import { peerAt } from "../../../src/model/peer";
import { killNodes, settle, simAddress } from "../../../src/node/ring/sim/simulation";
import { type TestRing, addNode, emptyRing, isStable, joinRing, maintainAll, maintainUntilStable, sortedById } from "./fixture";

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

describe("entries that land on a node that is not their primary", () => {
  test("are handed to the primary, where a fresh entry beats the older tombstone it holds", async () => {
    const ring = await joinRing(8, 23);
    const sorted = sortedById(ring.live);
    const primary = sorted[4]!;
    const key = sorted[4]!.self.id; // a node's own id is the last key of its range
    const writer = sorted[0]!;
    await writer.put(key, "file@holder", "old");
    await writer.remove(key, "file@holder");
    await settle(ring.live);
    expect(await writer.get(key)).toEqual([]);
    // A put routed by stale tables: the fresh entry lands two nodes past the primary's replicas.
    const stray = sorted[1]!;
    const fresh = { key, member: "file@holder", value: "new", updatedAt: ring.clock() + 5_000, expiresAt: null, deleted: false };
    stray.handlePutRecords([fresh]);
    await settle(ring.live);
    expect(ring.stores.get(primary.self.address)!.get(key, ring.clock())).toEqual([]);
    await maintainAll(ring);
    expect((await writer.get(key)).map((entry) => entry.value)).toEqual(["new"]);
    expect(stray.misplacedCount).toBe(0);
  });

  test("a replica's copies bounce to the primary once and then rest: no endless forwarding", async () => {
    const ring = await joinRing(6, 24);
    const writer = ring.live[0]!;
    for (let i = 0; i < 20; i++) await writer.put(ringId(`key-${i}`), "m", `v${i}`);
    await settle(ring.live);
    // Replicas queue their copies; one round forwards them, the primaries change nothing, nothing is queued again.
    expect(ring.live.some((node) => node.misplacedCount > 0)).toBe(true);
    await maintainAll(ring);
    await maintainAll(ring);
    for (const node of ring.live) expect(node.misplacedCount).toBe(0);
  });
});

describe("a node of a ring of two whose partner paused (SIGSTOP) while a third joined", () => {
  test("finds its successor again even when that node lies more than half the ring ahead", async () => {
    // Ids from these addresses put the three nodes in the order that once left `first` with no successor for good:
    // every probe ahead through the partner and the newcomer answered the partner, and the newcomer, the true
    // successor, lies more than half the ring ahead, where no probe's distance bound admits it.
    const ring = emptyRing(12);
    const first = addNode(ring, simAddress(34));
    const partner = addNode(ring, simAddress(35));
    first.create();
    await partner.join([first.self]);
    expect(await maintainUntilStable(ring, 10)).toBeGreaterThan(0);
    killNodes(ring, [partner]);
    await maintainAll(ring);
    // SIGCONT: the partner answers again with the tables it had; the first node had given it up.
    ring.network.listen(partner.self.address, partner);
    ring.live.push(partner);
    await maintainAll(ring);
    const newcomer = addNode(ring, simAddress(36));
    await newcomer.join([first.self]);
    await settle(ring.live);
    expect(await maintainUntilStable(ring, 10)).toBeGreaterThan(0);
  });
});

