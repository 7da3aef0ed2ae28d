// Adaptive maintenance through the memory network: the period grows while the ring is stable and snaps back at each kind of change.

import { afterEach, describe, expect, test } from "bun:test";
import { CALM_ROUNDS_BEFORE_BACKOFF } from "../../../src/node/ring/adaptive-period";
import { LATE_ROUND_MS } from "../../../src/node/ring/maintenance-loop";
import { DEFAULTS } from "../../../src/node/ring/chord-options";
import { ChordNode } from "../../../src/node/ring/chord";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import { killNodes, simAddress, sortedById } from "../../../src/node/ring/sim/simulation";
import type { Peer } from "../../../src/model/peer";
import type { RingTransport } from "../../../src/model/ring-transport";
import { flush, ManualTime } from "../presence/world";
import { addNode, joinRing, maintainAll, maintainUntilStable, settle, type TestRing } from "./fixture";

const FAST = DEFAULTS.fastMaintenanceMs;
const MAX = DEFAULTS.maxMaintenanceMs;
/** Rounds enough for a stable ring's fingers to settle and every period to reach its maximum. */
const MAX_CALMING_ROUNDS = 120;

/** Maintenance rounds until every live node waits the longest period; the rounds it took. */
async function calmDown(ring: TestRing): Promise<number> {
  for (let round = 1; round <= MAX_CALMING_ROUNDS; round++) {
    await maintainAll(ring);
    if (ring.live.every((node) => node.maintenancePeriod === MAX)) return round;
  }
  throw new Error(`periods not at their maximum after ${MAX_CALMING_ROUNDS} rounds: ${ring.live.map((node) => node.maintenancePeriod).join(", ")}`);
}

/** The live node just after and just before `node` on the circle. */
function neighboursOf(ring: TestRing, node: ChordNode): { next: ChordNode; previous: ChordNode } {
  const sorted = sortedById(ring.live);
  const k = sorted.indexOf(node);
  return { next: sorted[(k + 1) % sorted.length]!, previous: sorted[(k - 1 + sorted.length) % sorted.length]! };
}

describe("adaptive maintenance", () => {
  test("while nothing changes, a few calm rounds in a row, then each one doubles a node's period from the fast one up to its maximum, and no further", async () => {
    const ring = await joinRing(6, 5);
    await calmDown(ring);
    const node = ring.live[0]!;
    node.disturbed("test");
    const periods: number[] = [];
    for (let round = 0; round < CALM_ROUNDS_BEFORE_BACKOFF + 5; round++) {
      periods.push(node.maintenancePeriod);
      await maintainAll(ring);
    }
    const fastRounds = Array.from({ length: CALM_ROUNDS_BEFORE_BACKOFF }, () => FAST);
    expect(periods).toEqual([...fastRounds, 2 * FAST, 4 * FAST, 8 * FAST, MAX, MAX]);
  });

  test("a calm ring checks its fingers rather than looking them up: under half the lookups of a ring with the back-off turned off", async () => {
    const rounds = 24;
    const lookupsOver = async (ring: TestRing) => {
      const before = ring.network.callsOf("FIND_SUCCESSOR_STEP");
      for (let round = 0; round < rounds; round++) await maintainAll(ring);
      return ring.network.callsOf("FIND_SUCCESSOR_STEP") - before;
    };
    const calm = await joinRing(24, 5);
    await calmDown(calm);
    const fixed = await joinRing(24, 5, { maxMaintenanceMs: FAST });
    await lookupsOver(fixed);
    const [calmLookups, fixedLookups] = [await lookupsOver(calm), await lookupsOver(fixed)];
    expect(fixedLookups).toBeGreaterThan(rounds);
    expect(calmLookups).toBeLessThan(fixedLookups / 2);
    expect(calm.network.callsOf("GET_NEIGHBOURS")).toBeGreaterThan(0);
  });

  test("a crashed successor snaps its predecessor back to the fast period at the next round (a failed call)", async () => {
    const ring = await joinRing(6, 5);
    await calmDown(ring);
    const victim = ring.live[2]!;
    const { previous } = neighboursOf(ring, victim);
    killNodes(ring, [victim]);
    await previous.maintain();
    await settle(ring.live);
    expect(previous.maintenancePeriod).toBe(FAST);
  });

  test("a node joining snaps its new successor and its new predecessor back to the fast period at once (a new neighbour)", async () => {
    const ring = await joinRing(6, 5);
    await calmDown(ring);
    const newcomer = addNode(ring, simAddress(20));
    await newcomer.join([ring.live[0]!.self]);
    await settle(ring.live);
    const { next, previous } = neighboursOf(ring, newcomer);
    expect([previous.maintenancePeriod, next.maintenancePeriod]).toEqual([FAST, FAST]);
    // The predecessor's next round, fast now, takes the newcomer as its successor.
    await previous.maintain();
    expect(previous.neighbours().successors[0]!.address).toBe(newcomer.self.address);
  });

  test("a node joining elsewhere moves far nodes' fingers but leaves their periods at the maximum: a finger is no neighbour", async () => {
    const ring = await joinRing(16, 5);
    await calmDown(ring);
    const newcomer = addNode(ring, simAddress(41));
    await newcomer.join([ring.live[0]!.self]);
    await settle(ring.live);
    expect(await maintainUntilStable(ring, 20)).toBeGreaterThan(0);
    const isNeighbourOfNewcomer = (node: ChordNode) =>
      node.neighbours().predecessor?.address === newcomer.self.address || node.neighbours().successors.some((peer) => peer.address === newcomer.self.address);
    const far = ring.live.filter((node) => node !== newcomer && !isNeighbourOfNewcomer(node));
    for (const node of far) await node.fixAllFingers();
    await maintainAll(ring);
    const pointingAtNewcomer = far.filter((node) => node.status().fingers.some((peer) => peer.address === newcomer.self.address));
    // The layout (seed 5, address 41) gives the newcomer a finger place in far nodes: otherwise this proves nothing.
    expect(pointingAtNewcomer.length).toBeGreaterThan(0);
    expect(far.map((node) => node.maintenancePeriod)).toEqual(far.map(() => MAX));
  });

  test("a graceful leave snaps both neighbours of the leaver back to the fast period at once", async () => {
    const ring = await joinRing(6, 5);
    await calmDown(ring);
    const leaver = ring.live[3]!;
    const { next, previous } = neighboursOf(ring, leaver);
    await leaver.leave();
    ring.network.remove(leaver.self.address);
    ring.live = ring.live.filter((node) => node !== leaver);
    expect([previous.maintenancePeriod, next.maintenancePeriod]).toEqual([FAST, FAST]);
  });

  test("a lookup answer contradicted by what the node knows snaps it back to the fast period", async () => {
    const ring = await joinRing(6, 5);
    await calmDown(ring);
    const sorted = sortedById(ring.live);
    const [asker, target, after] = [sorted[0]!, sorted[4]!, sorted[5]!];
    // Every other node names the node after the target as the successor of every key: the target, which
    // the asker knows, lies in between.
    for (const honest of sorted.slice(1)) {
      ring.network.listen(honest.self.address, {
        handleFindSuccessorStep: () => ({ done: true, peer: after.self }),
        handleGetNeighbours: () => honest.handleGetNeighbours(),
        handleNotify: (candidate) => honest.handleNotify(candidate),
        handlePutRecords: (entries) => honest.handlePutRecords(entries),
        handleGetRecords: (key) => honest.handleGetRecords(key),
        handleLeaving: (leaver, predecessor, successors) => honest.handleLeaving(leaver, predecessor, successors),
      });
    }
    // A key just before the target: the asker's tables route it to another node, whose answer the target contradicts.
    const key = (BigInt(`0x${target.self.id}`) - 1n).toString(16).padStart(40, "0");
    await asker.lookup(key);
    expect(asker.maintenancePeriod).toBe(FAST);
  });

  test("merging into another ring snaps the merging node back to the fast period", async () => {
    const ring = await joinRing(4, 5);
    const loner = addNode(ring, simAddress(30));
    ring.live = ring.live.filter((node) => node !== loner);
    loner.create();
    for (let round = 0; round < CALM_ROUNDS_BEFORE_BACKOFF + 5; round++) await loner.maintain();
    expect(loner.maintenancePeriod).toBe(MAX);
    expect(await loner.rejoinThrough(ring.live[0]!.self)).toBe(true);
    expect(loner.maintenancePeriod).toBe(FAST);
  });

  test("a predecessor heard from within the period is not pinged, and one that went silent is", async () => {
    const ring = await joinRing(4, 5);
    const sorted = sortedById(ring.live);
    const watched = sorted[1]!;
    const pings: string[] = [];
    const base = ring.network.transportFor(watched.self.address);
    const counting: RingTransport = { ...base, ping: (to: Peer) => (pings.push(to.address), base.ping(to)) };
    // The same node, re-made on a transport that counts its pings.
    const twin = new ChordNode(watched.self, counting, new MemoryRecordStore(), { clock: ring.clock, successorListLength: 4 });
    twin.adoptNeighbours(sorted[0]!.self, [sorted[2]!.self, sorted[3]!.self, sorted[0]!.self]);
    ring.network.listen(watched.self.address, twin);
    twin.handleNotify(sorted[0]!.self); // the predecessor's stabilize, just now
    await twin.maintain();
    expect(pings).toEqual([]);
    ring.advanceClock(FAST + 1);
    await twin.maintain();
    expect(pings).toEqual([sorted[0]!.self.address]);
  });
});

describe("the maintenance timer", () => {
  const started: ChordNode[] = [];
  afterEach(() => started.splice(0).forEach((node) => node.stop()));

  /** A 4-node ring on time moved by hand, every node's maintenance timer running (`beforeStart` first); `idle` lets a moment's work finish. */
  async function runningRing(beforeStart: (ring: TestRing) => void = () => {}) {
    const time = new ManualTime();
    const ring = await joinRing(4, 5, { clock: time.clock, timers: time });
    beforeStart(ring);
    for (const node of ring.live) {
      node.start(FAST);
      started.push(node);
    }
    const idle = async () => {
      await flush();
      await settle(ring.live);
    };
    return { time, ring, idle };
  }

  test("waits the grown period between rounds while calm, and runs within the fast period after a change", async () => {
    const rounds = new Map<ChordNode, number>();
    const { time, ring, idle } = await runningRing((ring) => {
      for (const node of ring.live) {
        const original = node.maintain.bind(node);
        node.maintain = async () => {
          rounds.set(node, (rounds.get(node) ?? 0) + 1);
          await original();
        };
      }
    });
    await time.advance(60_000, idle);
    const node = ring.live[0]!;
    expect(node.maintenancePeriod).toBe(MAX);
    const before = rounds.get(node)!;
    await time.advance(4 * MAX, idle);
    // About 4 rounds (±10 % jitter), not the 64 the fast period would run.
    expect(rounds.get(node)! - before).toBeLessThanOrEqual(5);
    await time.advance(FAST, idle); // somewhere inside a long wait now
    const waiting = rounds.get(node)!;
    node.disturbed("a link to a neighbour closed");
    await time.advance(1.1 * FAST, idle);
    expect(rounds.get(node)!).toBe(waiting + 1);
  });

  test("a hint that may be nothing (a neighbour's link closed) runs the next round within the fast period and keeps the grown period when it finds no change", async () => {
    let rounds = 0;
    const { time, ring, idle } = await runningRing((ring) => {
      const first = ring.live[0]!;
      const original = first.maintain.bind(first);
      first.maintain = async () => {
        rounds++;
        await original();
      };
    });
    const node = ring.live[0]!;
    await time.advance(60_000, idle);
    expect(node.maintenancePeriod).toBe(MAX);
    await time.advance(FAST, idle);
    const waiting = rounds;
    node.checkSoon();
    await time.advance(1.1 * FAST, idle);
    expect(rounds).toBe(waiting + 1);
    expect(node.maintenancePeriod).toBe(MAX);
  });

  test("a round that comes far later than it was due (the process was stopped) snaps the period back to the fast one", async () => {
    const { time, ring, idle } = await runningRing();
    await time.advance(60_000, idle);
    const node = ring.live[0]!;
    expect(node.maintenancePeriod).toBe(MAX);
    time.freeze(LATE_ROUND_MS + 2 * MAX);
    await time.advance(1, idle);
    expect(node.maintenancePeriod).toBe(FAST);
  });
});
