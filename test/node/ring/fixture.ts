// Builds memory rings for the ring tests: by real joins, or in one step through the simulator.

import { ChordNode, type ChordOptions } from "../../../src/node/ring/chord";
import { MemoryNetwork } from "../../../src/node/ring/memory-transport";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import { peerAt } from "../../../src/model/peer";
import { isStable, maintainAll, settle, simAddress, type SimRing } from "../../../src/node/ring/sim/simulation";

export { buildRing, isStable, maintainAll, measureLookups, settle, sortedById } from "../../../src/node/ring/sim/simulation";

/** A ring grown by `create` and one `join` per node through a random member, then maintained until stable. */
export async function joinRing(size: number, seed = 7, options: ChordOptions = {}): Promise<TestRing> {
  const ring = emptyRing(seed);
  for (let i = 0; i < size; i++) {
    const node = addNode(ring, simAddress(i), options);
    if (i === 0) node.create();
    else await node.join([ring.live[Math.floor(ring.network.random() * (ring.live.length - 1))]!.self]);
  }
  await settle(ring.live);
  // One-by-one joins converge in a number of rounds set by the id layout: 58 with SHA-1(ip:port) ids, 64 with
  // address-bound ids (seeds 3, 7, 11); the bound leaves room without hiding a ring that never converges.
  await maintainUntilStable(ring, 80);
  return ring;
}

/** A ring with a virtual clock its nodes read; `advanceClock` moves it. */
export type TestRing = SimRing & { clock: () => number };

export function emptyRing(seed: number, successorListLength = 4): TestRing {
  let now = 1_700_000_000_000;
  return {
    network: new MemoryNetwork(seed),
    nodes: [],
    stores: new Map(),
    live: [],
    successorListLength,
    clock: () => now,
    advanceClock: (ms) => {
      now += ms;
    },
  };
}

/** A new node listening on the ring's network (not yet joined). */
export function addNode(ring: TestRing, address: string, options: ChordOptions = {}): ChordNode {
  const peer = peerAt(address);
  const store = new MemoryRecordStore();
  const clock = ring.clock;
  const node = new ChordNode(peer, ring.network.transportFor(address), store, {
    successorListLength: ring.successorListLength,
    clock,
    ...options,
  });
  ring.network.listen(address, node);
  ring.stores.set(address, store);
  ring.nodes.push(node);
  ring.live.push(node);
  return node;
}

export async function maintainUntilStable(ring: SimRing, maxRounds: number): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    await maintainAll(ring);
    if (isStable(ring)) return round;
  }
  return -1;
}

export async function fixAllFingers(ring: SimRing): Promise<void> {
  for (const node of ring.live) await node.fixAllFingers();
  await settle(ring.live);
}
