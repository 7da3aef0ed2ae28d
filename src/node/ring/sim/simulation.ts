// Simulates a Chord ring of in-memory nodes: lookup correctness, hop counts and record survival (the library; scripts/sim.ts is its command line).

import { ChordNode } from "../chord";
import { ringId, type RingId } from "../../../model/id";
import { MemoryNetwork } from "../memory-transport";
import { MemoryRecordStore } from "../records";
import { peerAt, type Peer } from "../../../model/peer";

export type SimOptions = {
  nodes: number;
  fail: number;
  seed: number;
  replicas: number;
  successors: number;
  records: number;
  lookups: number;
  /** Bound on repair rounds after the failure. */
  maxRepairRounds: number;
};

export type LookupFigures = {
  lookups: number;
  correct: number;
  failedLookups: number;
  meanHops: number;
  p99Hops: number;
  /** Calls per lookup that checked its answer (GET_NEIGHBOURS of the claimed successor), on top of the hops. */
  meanChecks: number;
};

export type SimReport = LookupFigures & {
  nodes: number;
  failed: number;
  live: number;
  records: number;
  /** Records stored with fewer than `replicas` copies before any failure. */
  underReplicated: number;
  lostRecords: number;
  expectedLostRecords: number;
  readableRecords: number;
  repairRounds: number;
  stable: boolean;
  beforeFailure: LookupFigures | null;
  calls: number;
  seconds: number;
};

export const DEFAULT_OPTIONS: SimOptions = {
  nodes: 1000,
  fail: 0,
  seed: 1,
  replicas: 3,
  successors: 4,
  records: 1000,
  lookups: 1000,
  maxRepairRounds: 100,
};

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

export async function runSimulation(options: SimOptions): Promise<SimReport> {
  const started = performance.now();
  const ring = await buildRing(options);
  const records = await storeRecords(ring, options.records);
  const underReplicated = countCopiesBelow(ring, records, options.replicas);

  let beforeFailure: LookupFigures | null = null;
  let repair = { rounds: 0, stable: true };
  const failed = Math.min(options.nodes - 1, Math.floor(options.nodes * options.fail));
  if (failed > 0) {
    beforeFailure = await measureLookups(ring, options.lookups);
    killRandomNodes(ring, failed);
    repair = await repairUntilStable(ring, options.maxRepairRounds);
    await refreshFingers(ring);
    await settle(ring.live);
  }
  const figures = await measureLookups(ring, options.lookups);
  const lostRecords = countCopiesBelow(ring, records, 1);
  const readableRecords = await countReadable(ring, records);
  return {
    nodes: options.nodes,
    failed,
    live: ring.live.length,
    ...figures,
    records: records.length,
    underReplicated,
    lostRecords,
    expectedLostRecords: records.length * (failed / options.nodes) ** options.replicas,
    readableRecords,
    repairRounds: repair.rounds,
    stable: repair.stable,
    beforeFailure,
    calls: ring.network.calls,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Builds N nodes with correct predecessors and successor lists in one step (N joins would spend
 * most of the time walking a ring without fingers), then fills fingers by real lookups.
 */
export async function buildRing(options: Pick<SimOptions, "nodes" | "seed" | "replicas" | "successors">): Promise<SimRing> {
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

/** Lookups of random keys from random live nodes, checked against the sorted live ids. */
export async function measureLookups(ring: SimRing, count: number): Promise<LookupFigures> {
  const ids = sortedById(ring.live).map((node) => node.self.id);
  const hops: number[] = [];
  let correct = 0;
  let failedLookups = 0;
  let checks = 0;
  for (let i = 0; i < count; i++) {
    const source = pick(ring.live, ring.network.random);
    const key = randomId(ring.network.random);
    try {
      const result = await source.lookup(key);
      hops.push(result.hops);
      checks += result.checks;
      if (result.peer.id === trueSuccessor(ids, key)) correct++;
    } catch {
      failedLookups++;
    }
  }
  await settle(ring.live);
  hops.sort((a, b) => a - b);
  const meanHops = hops.length === 0 ? 0 : hops.reduce((sum, h) => sum + h, 0) / hops.length;
  const p99Hops = hops.length === 0 ? 0 : hops[Math.ceil(hops.length * 0.99) - 1]!;
  return { lookups: count, correct, failedLookups, meanHops, p99Hops, meanChecks: hops.length === 0 ? 0 : checks / hops.length };
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

export type StoredRecord = { key: RingId; member: string };

/** Puts `count` records from random live nodes and waits for replication. */
export async function storeRecords(ring: SimRing, count: number): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  for (let i = 0; i < count; i++) {
    const record = { key: ringId(`file-${i}`), member: `holder-${i}` };
    await pick(ring.live, ring.network.random).put(record.key, record.member, `value-${i}`);
    records.push(record);
  }
  await settle(ring.live);
  return records;
}

/** How many records have fewer than `copies` live copies across the live nodes' stores. */
export function countCopiesBelow(ring: SimRing, records: readonly StoredRecord[], copies: number): number {
  const held = new Map<string, number>();
  for (const node of ring.live) {
    for (const entry of ring.stores.get(node.self.address)!.all()) {
      if (entry.deleted) continue;
      const id = `${entry.key}/${entry.member}`;
      held.set(id, (held.get(id) ?? 0) + 1);
    }
  }
  return records.filter((record) => (held.get(`${record.key}/${record.member}`) ?? 0) < copies).length;
}

/** How many records a `get` from a random live node returns. */
export async function countReadable(ring: SimRing, records: readonly StoredRecord[]): Promise<number> {
  let readable = 0;
  for (const record of records) {
    try {
      const entries = await pick(ring.live, ring.network.random).get(record.key);
      if (entries.some((entry) => entry.member === record.member)) readable++;
    } catch {
      // An unreadable record is what this counts.
    }
  }
  await settle(ring.live);
  return readable;
}

export function sortedById(nodes: readonly ChordNode[]): ChordNode[] {
  return nodes.slice().sort((a, b) => (a.self.id < b.self.id ? -1 : a.self.id > b.self.id ? 1 : 0));
}

/** The first id at or after `key` on the circle, from ascending `ids`. */
export function trueSuccessor(ids: readonly RingId[], key: RingId): RingId {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ids[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return ids[low % ids.length]!;
}

export function simAddress(i: number): string {
  // Loopback even as data: a simulated address must never name a real host.
  return `127.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:4000`;
}

function randomId(random: () => number): RingId {
  let hex = "";
  for (let i = 0; i < 5; i++) hex += Math.floor(random() * 2 ** 32).toString(16).padStart(8, "0");
  return hex;
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

export function formatReport(report: SimReport): string {
  const percent = (part: number, whole: number): string => (whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)}%`);
  const lines = [
    `nodes ${report.nodes}, failed ${report.failed}, live ${report.live}`,
    ...(report.beforeFailure === null
      ? []
      : [
          `before failure: correct ${percent(report.beforeFailure.correct, report.beforeFailure.lookups)}, mean hops ${report.beforeFailure.meanHops.toFixed(2)}, p99 ${report.beforeFailure.p99Hops}`,
          `repair: ${report.repairRounds} rounds, ${report.stable ? "stable" : "NOT stable"}`,
        ]),
    `lookups ${report.lookups}: correct ${percent(report.correct, report.lookups)}, failed ${report.failedLookups}, mean hops ${report.meanHops.toFixed(2)}, p99 ${report.p99Hops}, checks ${report.meanChecks.toFixed(2)}`,
    `records ${report.records}: lost ${report.lostRecords} (expected ~${report.expectedLostRecords.toFixed(1)}), readable ${report.readableRecords}, under-replicated before failure ${report.underReplicated}`,
    `${report.calls} calls in ${report.seconds.toFixed(1)} s`,
  ];
  return lines.join("\n");
}
