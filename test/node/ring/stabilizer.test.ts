// Stabilizer method by method, in-process on the memory network: notify, a neighbour leaving, stabilize, predecessor checks and fingers.

import { describe, expect, test } from "bun:test";
import { P2PError } from "../../../src/protocol/errors";
import { Lookup } from "../../../src/node/ring/lookup";
import { RoutingTable } from "../../../src/node/ring/routing-table";
import { EARLIER_PREDECESSORS_CALM_REFRESH_MS, FULL_FINGER_PASS_EVERY, Stabilizer } from "../../../src/node/ring/stabilizer";
import type { Peer } from "../../../src/model/peer";
import { at, fakeClock, keyAfter, MemoryNetwork, setTrueNeighbours, stubCircle } from "./parts";

const EVEN = [0, 2, 4, 6, 8, 10, 12, 14];

/** The node under test at `selfAt`, beside stub peers at `positions`; its tables are left for each test to fill. `calm`: the ring's calm. */
function setup(selfAt: number, positions: readonly number[] = EVEN, calm = () => false) {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, positions, clock.now);
  const table = new RoutingTable(at(selfAt), 3, clock.now);
  const transport = network.transportFor(at(selfAt).address);
  const lookup = new Lookup(table, transport, { maxLookupCalls: 64, clock: clock.now, warn: () => {} });
  const rangeTakenBy: Peer[] = [];
  const stabilizer = new Stabilizer(table, transport, lookup, (peer) => rangeTakenBy.push(peer), calm);
  return { network, clock, stubs, table, stabilizer, rangeTakenBy };
}

const addresses = (peers: readonly Peer[]) => peers.map((peer) => peer.address);

describe("Stabilizer.notified", () => {
  test("adopts a candidate between the predecessor and this node and says it took part of the range", () => {
    const { table, stabilizer, rangeTakenBy } = setup(8);
    table.adoptPredecessor(at(4));
    stabilizer.notified(at(6));
    expect(table.predecessor).toEqual(at(6));
    expect(rangeTakenBy).toEqual([at(6)]);
  });

  test("ignores a candidate behind the current predecessor", () => {
    const { table, stabilizer, rangeTakenBy } = setup(8);
    table.adoptPredecessor(at(6));
    stabilizer.notified(at(4));
    expect(table.predecessor).toEqual(at(6));
    expect(rangeTakenBy).toEqual([]);
  });

  test("a candidate that called itself and is not the predecessor is passed on to the nearest node after it that this node knows", async () => {
    const { table, stabilizer, stubs } = setup(8);
    table.adoptPredecessor(at(6));
    stabilizer.notified(at(2), true);
    stabilizer.notified(at(4), true);
    await Bun.sleep(0);
    // 2 went to 6 (the only one known then); 4 went to 6 too, and 2 learnt nothing new: 4 lies after it.
    expect(stubs.get(6)!.notified).toEqual([at(2), at(4)]);
    stabilizer.notified(at(0), true);
    await Bun.sleep(0);
    // Now 2 and 4 are known: 0 goes to 2, its nearest node after it.
    expect(stubs.get(2)!.notified).toEqual([at(0)]);
    expect(table.predecessor).toEqual(at(6));
  });

  test("a notify passed on by another node (naming someone else) is not passed on again: one message costs one more at most", async () => {
    const { table, stabilizer, stubs } = setup(8);
    table.adoptPredecessor(at(6));
    stabilizer.notified(at(2), false);
    await Bun.sleep(0);
    expect([...stubs.values()].flatMap((stub) => stub.notified)).toEqual([]);
  });

  test("a node alone takes the first candidate as predecessor and successor: a ring of two", () => {
    const { table, stabilizer } = setup(8);
    table.alone = true;
    stabilizer.notified(at(2));
    expect(table.predecessor).toEqual(at(2));
    expect(table.successors).toEqual([at(2)]);
  });
});

describe("Stabilizer.neighbourLeft", () => {
  test("a successor that leaves is replaced by the successors it names, and marked dead", () => {
    const { table, stabilizer } = setup(4);
    table.setSuccessors([at(6), at(8), at(10)]);
    stabilizer.neighbourLeft(at(6), at(4), [at(8), at(10), at(12)]);
    expect(addresses(table.successors)).toEqual(addresses([at(8), at(10), at(12)]));
    expect(table.isDead(at(6).address)).toBe(true);
  });

  test("a predecessor that leaves is replaced by its own predecessor", () => {
    const { table, stabilizer } = setup(8);
    table.adoptPredecessor(at(6));
    table.setSuccessors([at(10)]);
    stabilizer.neighbourLeft(at(6), at(4), [at(8)]);
    expect(table.predecessor).toEqual(at(4));
  });

  test("the last other node leaving leaves this node alone", () => {
    const { table, stabilizer } = setup(8);
    table.adoptPredecessor(at(2));
    table.setSuccessors([at(2)]);
    stabilizer.neighbourLeft(at(2), at(8), [at(8)]);
    expect(table.alone).toBe(true);
  });
});

describe("Stabilizer.stabilize", () => {
  test("a node marked dead that the successor still lists is pinged, and taken back into the list when it answers", async () => {
    const { table, stabilizer } = setup(8, EVEN.filter((n) => n !== 8));
    setTrueNeighbours(EVEN, (n) => (n === 8 ? table : undefined));
    // 12 crashed and started again on the same address before this node's dead-peer TTL ran out.
    table.markDead(at(12));
    await stabilizer.stabilize();
    expect(addresses(table.successors)).toEqual(addresses([at(10), at(12), at(14)]));
  });

  test("a node marked dead that the successor still lists but does not answer stays out of the list", async () => {
    const { table, stabilizer, network } = setup(8, EVEN.filter((n) => n !== 8));
    setTrueNeighbours(EVEN, (n) => (n === 8 ? table : undefined));
    table.markDead(at(12));
    network.kill(at(12).address);
    await stabilizer.stabilize();
    expect(addresses(table.successors)).toEqual(addresses([at(10), at(14), at(0)]));
  });

  test("walks back from a successor too far ahead to the true one, fills the list from it and notifies it", async () => {
    const { table, stabilizer, stubs } = setup(3);
    table.setSuccessors([at(8)]);
    await stabilizer.stabilize();
    expect(addresses(table.successors)).toEqual(addresses([at(4), at(6), at(8)]));
    expect(stubs.get(4)!.notified).toEqual([at(3)]);
  });

  test("when every successor is dead, recovers through a live finger and ends at the first live node ahead", async () => {
    const { table, stabilizer, network, stubs } = setup(3);
    table.setSuccessors([at(4)]);
    table.setFingers(159, 160, at(8));
    network.kill(at(4).address);
    await stabilizer.stabilize();
    expect(table.successor).toEqual(at(6));
    expect(table.isDead(at(4).address)).toBe(true);
    expect(stubs.get(6)!.notified).toEqual([at(3)]);
  });

  test("a successor answering UNAVAILABLE (joining or leaving) is left in place until the next round", async () => {
    const { table, stabilizer, stubs } = setup(3);
    table.setSuccessors([at(4)]);
    stubs.get(4)!.answerNeighbours = () => {
      throw new P2PError("UNAVAILABLE", "still joining");
    };
    await stabilizer.stabilize();
    expect(table.successors).toEqual([at(4)]);
    expect(table.isDead(at(4).address)).toBe(false);
  });
});

describe("Stabilizer.checkPredecessor", () => {
  test("forgets a predecessor that does not answer and keeps one that does", async () => {
    const { table, stabilizer, network } = setup(8);
    table.adoptPredecessor(at(6));
    await stabilizer.checkPredecessor();
    expect(table.predecessor).toEqual(at(6));
    network.kill(at(6).address);
    await stabilizer.checkPredecessor();
    expect(table.predecessor).toBeNull();
  });
});

describe("Stabilizer.learnPredecessors", () => {
  test("learns the predecessors before the predecessor, so holdsKey knows the keys this node does not replicate", async () => {
    const { table, stabilizer } = setup(8, EVEN.filter((n) => n !== 8));
    setTrueNeighbours(EVEN, (n) => (n === 8 ? table : undefined));
    expect(table.holdsKey(keyAfter(1), 3)).toBe(true); // only its own tables: no evidence against
    await stabilizer.learnPredecessors(3);
    expect(table.holdsKey(keyAfter(1), 3)).toBe(false); // 2, 4 and 6 lie between: they hold it
    expect(table.holdsKey(keyAfter(3), 3)).toBe(true);
  });

  test("asks again only after the refresh interval on the injected clock", async () => {
    const { table, stabilizer, network, clock } = setup(8, EVEN.filter((n) => n !== 8));
    setTrueNeighbours(EVEN, (n) => (n === 8 ? table : undefined));
    await stabilizer.learnPredecessors(3);
    const calls = network.calls;
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls);
    clock.advance(5_000);
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls + 2);
  });

  test(`while the ring is calm, asks again only every ${EARLIER_PREDECESSORS_CALM_REFRESH_MS / 1000} s`, async () => {
    const { table, stabilizer, network, clock } = setup(8, EVEN.filter((n) => n !== 8), () => true);
    setTrueNeighbours(EVEN, (n) => (n === 8 ? table : undefined));
    await stabilizer.learnPredecessors(3);
    const calls = network.calls;
    clock.advance(EARLIER_PREDECESSORS_CALM_REFRESH_MS - 1);
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls);
    clock.advance(1);
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls + 2);
  });

  test("a key held not to be this node's on their word makes them due again at once, calm or not", async () => {
    const { table, stabilizer, network } = setup(8, EVEN.filter((n) => n !== 8), () => true);
    setTrueNeighbours(EVEN, (n) => (n === 8 ? table : undefined));
    await stabilizer.learnPredecessors(3);
    const calls = network.calls;
    expect(table.holdsKey(keyAfter(3), 3)).toBe(true);
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls);
    expect(table.holdsKey(keyAfter(1), 3)).toBe(false);
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls + 2);
    // Asked again, the walk is believed again until the next such refusal.
    await stabilizer.learnPredecessors(3);
    expect(network.calls).toBe(calls + 2);
  });
});

describe("Stabilizer.fixFingers", () => {
  test("fixAllFingers points every finger at the first node at or after its start", async () => {
    const { table, stabilizer } = setup(0, EVEN.filter((n) => n !== 0));
    setTrueNeighbours(EVEN, (n) => (n === 0 ? table : undefined));
    await stabilizer.fixAllFingers();
    // Fingers 159, 158, 157 start at positions 8, 4, 2; every lower one falls before 2.
    expect(table.finger(159)).toEqual(at(8));
    expect(table.finger(158)).toEqual(at(4));
    expect(table.finger(157)).toEqual(at(2));
    expect(table.finger(0)).toEqual(at(2));
  });

  test("one call fills every finger that falls before the same node and says when the pass is done", async () => {
    const { table, stabilizer } = setup(0, EVEN.filter((n) => n !== 0));
    setTrueNeighbours(EVEN, (n) => (n === 0 ? table : undefined));
    expect(await stabilizer.fixFingers()).toBe(false);
    expect(table.nextFinger).toBe(158); // fingers 0..157 all point at 2
    expect(await stabilizer.fixFingers()).toBe(false);
    expect(await stabilizer.fixFingers()).toBe(true);
  });
});

describe("Stabilizer.fixFingers while the ring is calm", () => {
  /** Node 0 beside stubs at 2..14 with its true neighbours; its fingers: 0..157 at 2, 158 at 4, 159 at `last`. Counts the stubs' calls by kind. */
  function calmSetup(last: number) {
    const context = setup(0, EVEN.filter((n) => n !== 0), () => true);
    const { table, stubs } = context;
    setTrueNeighbours(EVEN, (n) => (n === 0 ? table : undefined));
    table.setFingers(0, 158, at(2));
    table.setFingers(158, 159, at(4));
    table.setFingers(159, 160, at(last));
    const calls = { lookupSteps: 0, neighbours: 0 };
    for (const stub of stubs.values()) {
      const answerNeighbours = () => stub.table.neighbours();
      stub.answerStep = (key) => {
        calls.lookupSteps++;
        return stub.table.nextStep(key, new Set());
      };
      stub.answerNeighbours = () => {
        calls.neighbours++;
        return answerNeighbours();
      };
    }
    return { ...context, calls };
  }

  test("a finger whose predecessor lies before its start is kept after one GET_NEIGHBOURS to it, not a lookup", async () => {
    const { table, stabilizer, calls } = calmSetup(8);
    for (let call = 0; call < 3 && !(await stabilizer.fixFingers()); call++);
    expect(table.finger(158)).toEqual(at(4));
    expect(table.finger(159)).toEqual(at(8));
    expect(calls).toEqual({ lookupSteps: 0, neighbours: 2 });
  });

  test("a finger with a node joined between its start and it is looked up again", async () => {
    // Finger 159 starts at 8 but points at 10: 8 joined since; 10's predecessor says so.
    const { table, stabilizer, calls } = calmSetup(10);
    table.nextFinger = 159;
    expect(await stabilizer.fixFingers()).toBe(true);
    expect(table.finger(159)).toEqual(at(8));
    expect(calls.lookupSteps).toBeGreaterThan(0);
  });

  test("a finger that does not answer is marked dead and looked up again", async () => {
    const { table, stabilizer, network, stubs, calls } = calmSetup(8);
    // 8 crashed: 10 owns its range now, and 6 knows it.
    network.kill(at(8).address);
    setTrueNeighbours(EVEN.filter((n) => n !== 8), (n) => (n === 6 ? stubs.get(6)!.table : undefined));
    table.nextFinger = 159;
    await stabilizer.fixFingers();
    expect(table.isDead(at(8).address)).toBe(true);
    expect(table.finger(159)).toEqual(at(10));
    expect(calls.lookupSteps).toBeGreaterThan(0);
  });

  test(`a finger that lies about its predecessor is kept for at most ${FULL_FINGER_PASS_EVERY - 1} passes: every ${FULL_FINGER_PASS_EVERY}th pass looks each finger up`, async () => {
    // 10 claims 6 as its predecessor, so it stays finger 159 (start 8) although 8 is alive.
    const { table, stabilizer, stubs } = calmSetup(10);
    stubs.get(10)!.answerNeighbours = () => ({ ...stubs.get(10)!.table.neighbours(), predecessor: at(6) });
    const fingerAfterPass: string[] = [];
    for (let pass = 0; pass < FULL_FINGER_PASS_EVERY; pass++) {
      for (let call = 0; call < 3 && !(await stabilizer.fixFingers()); call++);
      fingerAfterPass.push(table.finger(159)!.address);
    }
    expect(fingerAfterPass).toEqual([...Array(FULL_FINGER_PASS_EVERY - 1).fill(at(10).address), at(8).address]);
  });
});
