// A simulated ring of in-memory nodes: built in one step, maintained, checked for stability, and crashed at will.

import { ChordNode } from "../chord";
import { MemoryNetwork } from "../memory-transport";
import { MemoryRecordStore } from "../records";
import { peerAt, type Peer } from "../../../model/peer";

/** Milliseconds of virtual time per maintenance round. */
const ROUND_MS = 1000;

/** A ring of memory nodes with a virtual clock; `live` lists the nodes not killed. */
export type SimRing = {
  network: MemoryNetwork;
  nodes: ChordNode[];
  stores: Map<string, MemoryRecordStore>;
  live: ChordNode[];
  successorListLength: number;
  advanceClock(ms: number): void;
};

/**
 * Builds N nodes with correct predecessors and successor lists in one step (N joins would spend
 * most of the time walking a ring without fingers), then fills fingers by real lookups.
 */
export async function buildRing(options: { nodes: number; seed: number; replicas: number; successors: number }): Promise<SimRing> {
  const network = new MemoryNetwork(options.seed);
  let now = 1_700_000_000_000;
  const clock = (): number => now;
  const stores = new Map<string, MemoryRecordStore>();
  const nodes: ChordNode[] = [];
  for (let i = 0; i < options.nodes; i++) {
    const peer = peerAt(simAddress(i));
    const store = new MemoryRecordStore();
    const node = new ChordNode(peer, network.transportFor(peer.address), store, {
      successorListLength: options.successors,
      replicas: options.replicas,
      clock,
      random: network.random,
    });
    network.listen(peer.address, node);
    stores.set(peer.address, store);
    nodes.push(node);
  }
  const ring: SimRing = {
    network,
    nodes,
    stores,
    live: [...nodes],
    successorListLength: options.successors,
    advanceClock: (ms) => {
      now += ms;
    },
  };
  const sorted = sortedById(nodes);
  for (let k = 0; k < sorted.length; k++) {
    const node = sorted[k]!;
    const predecessor = sorted.length > 1 ? sorted[(k - 1 + sorted.length) % sorted.length]!.self : null;
    const successors: Peer[] = [];
    for (let s = 1; s <= Math.min(options.successors, sorted.length - 1); s++) {
      successors.push(sorted[(k + s) % sorted.length]!.self);
    }
    if (sorted.length === 1) node.create();
    else node.adoptNeighbours(predecessor, successors);
  }
  await refreshFingers(ring);
  return ring;
}

/**
 * Refreshes every finger table, all nodes advancing one distinct finger per round: each lookup
 * then runs over fingers the other nodes fixed the round before, so it costs a few hops.
 */
export async function refreshFingers(ring: SimRing): Promise<void> {
  let pending = ring.live.slice();
  for (const node of pending) node.restartFingerPass();
  for (let round = 0; round < 200 && pending.length > 0; round++) {
    const next: ChordNode[] = [];
    for (const node of pending) {
      if (!(await node.fixFingers())) next.push(node);
    }
    pending = next;
  }
}

/** One maintenance round for every live node, then its background work. */
export async function maintainAll(ring: SimRing): Promise<void> {
  for (const node of ring.live) await node.maintain();
  await settle(ring.live);
  ring.advanceClock(ROUND_MS);
}

/** Maintenance rounds until every live node's successor and predecessor are the true ones. */
export async function repairUntilStable(ring: SimRing, maxRounds: number): Promise<{ rounds: number; stable: boolean }> {
  for (let round = 1; round <= maxRounds; round++) {
    await maintainAll(ring);
    if (isStable(ring)) {
      // One more round lets replication catch up with the final successor lists.
      await maintainAll(ring);
      return { rounds: round, stable: true };
    }
  }
  return { rounds: maxRounds, stable: isStable(ring) };
}

/** Whether every live node's predecessor and whole successor list are its true neighbours. */
export function isStable(ring: SimRing): boolean {
  const sorted = sortedById(ring.live);
  if (sorted.length < 2) return true;
  return sorted.every((node, k) => {
    const { predecessor, successors } = node.neighbours();
    const truePredecessor = sorted[(k - 1 + sorted.length) % sorted.length]!;
    if (predecessor?.address !== truePredecessor.self.address) return false;
    const expected = Math.min(ring.successorListLength, sorted.length - 1);
    if (successors.length !== expected) return false;
    return successors.every((peer, s) => peer.address === sorted[(k + 1 + s) % sorted.length]!.self.address);
  });
}

/** Crashes `count` live nodes chosen by the seeded generator, all at once. */
export function killRandomNodes(ring: SimRing, count: number): ChordNode[] {
  const shuffled = ring.live.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(ring.network.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const killed = shuffled.slice(0, count);
  killNodes(ring, killed);
  return killed;
}

export function killNodes(ring: SimRing, victims: readonly ChordNode[]): void {
  const dead = new Set(victims.map((node) => node.self.address));
  for (const address of dead) ring.network.kill(address);
  ring.live = ring.live.filter((node) => !dead.has(node.self.address));
}

/** Waits until no live node has background work left (work can spawn work on another node). */
export async function settle(nodes: readonly ChordNode[]): Promise<void> {
  for (let pass = 0; pass < 100; pass++) {
    const busy = nodes.filter((node) => node.busy);
    if (busy.length === 0) return;
    for (const node of busy) await node.idle();
  }
}

export function sortedById(nodes: readonly ChordNode[]): ChordNode[] {
  return nodes.slice().sort((a, b) => (a.self.id < b.self.id ? -1 : a.self.id > b.self.id ? 1 : 0));
}

export function simAddress(i: number): string {
  // Loopback even as data: a simulated address must never name a real host.
  return `127.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:4000`;
}
