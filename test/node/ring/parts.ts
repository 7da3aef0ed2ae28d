// Hand-placed peers on a memory network for testing one ring part at a time: each peer a plain routing table and store that answers calls.

import type { ChordOptions } from "../../../src/node/ring/chord-options";
import { bigIntToId, type RingId } from "../../../src/model/id";
import { MemoryNetwork } from "../../../src/node/ring/memory-transport";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import type { RecordEntry } from "../../../src/model/record";
import { buildRingParts, ringSettings, type RingParts } from "../../../src/node/ring/ring-parts";
import { RoutingTable } from "../../../src/node/ring/routing-table";
import type { LookupStep, Neighbours, RingHandlers } from "../../../src/model/ring-transport";
import type { Peer } from "../../../src/model/peer";

/** A peer at position `n` of 16 evenly spaced places on the circle (ids chosen, not hashed). */
export function at(n: number): Peer {
  return { id: bigIntToId(BigInt(n) << 156n), address: `127.0.0.1:${7000 + n}` };
}

/** A key just after position `n` (owned by the first peer at or after n + 1). */
export function keyAfter(n: number): RingId {
  return bigIntToId((BigInt(n) << 156n) + 1n);
}

/** A settable virtual clock. */
export function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

export function entry(key: RingId, member: string, updatedAt: number, deleted = false): RecordEntry {
  return { key, member, value: deleted ? "" : `value of ${member}`, updatedAt, expiresAt: updatedAt + 3_600_000, deleted };
}

/**
 * A remote peer that answers every ring call from its own table and store, and records what it was told.
 * Its answers can be replaced to play a lagging or lying peer.
 */
export class StubPeer implements RingHandlers {
  readonly table: RoutingTable;
  readonly store = new MemoryRecordStore();
  readonly notified: Peer[] = [];
  readonly puts: RecordEntry[][] = [];
  readonly leavings: { leaver: Peer; predecessor: Peer | null; successors: Peer[] }[] = [];
  /** Replaces the table's answer to FIND_SUCCESSOR_STEP when set. */
  answerStep: ((key: RingId) => LookupStep) | null = null;
  /** Replaces the table's answer to GET_NEIGHBOURS when set. */
  answerNeighbours: (() => Neighbours) | null = null;
  /** Runs before a PUT_RECORDS is stored (it may throw, to refuse it). */
  beforePut: ((entries: RecordEntry[]) => void) | null = null;

  constructor(readonly self: Peer, private readonly clock: () => number, successorListLength = 3) {
    this.table = new RoutingTable(self, successorListLength, clock);
  }

  handleFindSuccessorStep(key: RingId, avoid: string[]): LookupStep {
    return this.answerStep?.(key) ?? this.table.nextStep(key, new Set(avoid));
  }
  handleGetNeighbours(): Neighbours {
    return this.answerNeighbours?.() ?? this.table.neighbours();
  }
  handleNotify(candidate: Peer): void {
    this.notified.push(candidate);
  }
  handlePutRecords(entries: RecordEntry[]): number {
    this.beforePut?.(entries);
    this.puts.push(entries);
    return this.store.merge(entries);
  }
  handleGetRecords(key: RingId): RecordEntry[] {
    return this.store.get(key, this.clock());
  }
  handleLeaving(leaver: Peer, predecessor: Peer | null, successors: Peer[]): void {
    this.leavings.push({ leaver, predecessor, successors });
  }
}

/** Stub peers at the given positions, listening on `network`, each with its true predecessor and successors. */
export function stubCircle(network: MemoryNetwork, positions: readonly number[], clock: () => number, successorListLength = 3): Map<number, StubPeer> {
  const sorted = [...positions].sort((a, b) => a - b);
  const stubs = new Map<number, StubPeer>();
  for (const n of sorted) {
    const stub = new StubPeer(at(n), clock, successorListLength);
    network.listen(stub.self.address, stub);
    stubs.set(n, stub);
  }
  setTrueNeighbours(sorted, (n) => stubs.get(n)!.table, successorListLength);
  return stubs;
}

/** Gives each table at `positions` (all of the circle) its true predecessor and successor list. */
export function setTrueNeighbours(positions: readonly number[], tableAt: (n: number) => RoutingTable | undefined, successorListLength = 3): void {
  const sorted = [...positions].sort((a, b) => a - b);
  sorted.forEach((n, k) => {
    const table = tableAt(n);
    if (table === undefined) return;
    const successors = [];
    for (let s = 1; s <= Math.min(successorListLength, sorted.length - 1); s++) successors.push(at(sorted[(k + s) % sorted.length]!));
    table.adoptPredecessor(at(sorted[(k - 1 + sorted.length) % sorted.length]!));
    table.setSuccessors(successors);
  });
}

/** The parts of one node at position `n`, wired as in a ChordNode, calling out through `network` (not listening on it). */
export function partsAt(network: MemoryNetwork, n: number, clock: () => number, options: ChordOptions = {}): RingParts & { store: MemoryRecordStore } {
  const store = new MemoryRecordStore();
  const settings = ringSettings({ successorListLength: 3, clock, ...options });
  const parts = buildRingParts(at(n), network.transportFor(at(n).address), store, { successorListLength: 3, clock, ...options }, settings);
  return { ...parts, store };
}

export { MemoryNetwork };
