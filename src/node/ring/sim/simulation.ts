// Simulates a Chord ring of in-memory nodes: lookup correctness, hop counts and record survival (the library; scripts/sim.ts is its command line).

import { ringId, type RingId } from "../../../model/id";
import { buildRing, killRandomNodes, refreshFingers, repairUntilStable, settle, sortedById, type SimRing } from "./sim-ring";

export {
  buildRing,
  isStable,
  killNodes,
  killRandomNodes,
  maintainAll,
  refreshFingers,
  repairUntilStable,
  settle,
  simAddress,
  sortedById,
  type SimRing,
} from "./sim-ring";

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
