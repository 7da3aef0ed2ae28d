// RecordPusher: entries sent to one peer in batches, a peer that does not answer marked dead, and replicas a lagging list missed found.

import { describe, expect, test } from "bun:test";
import { MAX_REPLICA_WALK_STEPS, RecordPusher } from "../../../src/node/ring/record-pusher";
import { P2PError } from "../../../src/protocol/errors";
import { RoutingTable } from "../../../src/node/ring/routing-table";
import { at, entry, fakeClock, keyAfter, MemoryNetwork, stubCircle } from "./parts";

describe("RecordPusher.pushRecords", () => {
  test("sends entries in batches of at most maxEntriesPerCall and says the peer took them", async () => {
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    const stubs = stubCircle(network, [2, 4], clock.now);
    const pusher = new RecordPusher(new RoutingTable(at(8), 3, clock.now), network.transportFor(at(8).address), 2);
    const entries = [1, 2, 3, 4, 5].map((i) => entry(keyAfter(3), `member-${i}`, clock.now()));
    expect(await pusher.pushRecords(at(4), entries)).toBe(true);
    expect(stubs.get(4)!.puts.map((batch) => batch.length)).toEqual([2, 2, 1]);
    expect(stubs.get(4)!.store.count()).toBe(5);
  });

  test("stops at the first batch a peer does not answer, says so and marks the peer dead", async () => {
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    stubCircle(network, [2, 4], clock.now);
    const table = new RoutingTable(at(8), 3, clock.now);
    const pusher = new RecordPusher(table, network.transportFor(at(8).address), 2);
    network.kill(at(4).address);
    expect(await pusher.pushRecords(at(4), [entry(keyAfter(3), "a", clock.now())])).toBe(false);
    expect(table.isDead(at(4).address)).toBe(true);
  });
});

describe("RecordPusher.pushToReplicaSet", () => {
  /** A node at 8 pushing entries of the key owned by 12 to the replicas it knows of; stubs everywhere else. */
  function setup(positions = [0, 2, 4, 6, 10, 12, 14]) {
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    const stubs = stubCircle(network, positions, clock.now);
    const pusher = new RecordPusher(new RoutingTable(at(8), 3, clock.now), network.transportFor(at(8).address), 100);
    return { network, clock, stubs, pusher };
  }
  const refuseAsUnheld = () => {
    throw new P2PError("CONFLICT", "record 0 is for key 0c00, which this node is neither the primary nor a replica of");
  };

  test("a target that refuses the entries as not its keys sends them back along predecessors to the replica the caller's list missed", async () => {
    const { stubs, clock, pusher } = setup();
    stubs.get(2)!.beforePut = refuseAsUnheld;
    // The caller's view lags the join of 14: it takes 0 and 2 for the replicas of 12.
    await pusher.pushToReplicaSet(at(12), [at(0), at(2)], [entry(keyAfter(11), "alice", clock.now())]);
    for (const n of [14, 0]) expect(stubs.get(n)!.store.count()).toBe(1);
    expect(stubs.get(2)!.store.count()).toBe(0);
  });

  test("targets that all take the entries cost no further call", async () => {
    const { stubs, clock, pusher, network } = setup();
    await pusher.pushToReplicaSet(at(12), [at(14), at(0)], [entry(keyAfter(11), "alice", clock.now())]);
    expect(network.callsOf("GET_NEIGHBOURS")).toBe(0);
    for (const n of [14, 0]) expect(stubs.get(n)!.puts).toHaveLength(1);
  });

  test("a refuser that names a predecessor outside the arc from the primary to itself sends nothing there", async () => {
    const { stubs, clock, pusher } = setup();
    stubs.get(2)!.beforePut = refuseAsUnheld;
    stubs.get(2)!.answerNeighbours = () => ({ predecessor: at(6), successors: [at(4)] });
    await pusher.pushToReplicaSet(at(12), [at(0), at(2)], [entry(keyAfter(11), "alice", clock.now())]);
    for (const n of [6, 4, 14]) expect(stubs.get(n)!.puts).toHaveLength(0);
  });

  test(`the walk back asks at most ${MAX_REPLICA_WALK_STEPS} predecessors, however many refuse`, async () => {
    const positions = Array.from({ length: 15 }, (_, k) => k + 1);
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    const stubs = stubCircle(network, [0, ...positions], clock.now);
    const asked: number[] = [];
    for (const n of positions) {
      stubs.get(n)!.beforePut = () => {
        asked.push(n);
        refuseAsUnheld();
      };
    }
    // The primary at 0 pushing its own entries, as the Replicator does.
    const pusher = new RecordPusher(new RoutingTable(at(0), 3, clock.now), network.transportFor(at(0).address), 100);
    await pusher.pushToReplicaSet(at(0), [at(15)], [entry(keyAfter(15), "alice", clock.now())]);
    expect(network.callsOf("GET_NEIGHBOURS")).toBe(MAX_REPLICA_WALK_STEPS);
    // The target, then one put to each predecessor the walk reached, nearest the target first.
    expect(asked).toEqual(positions.slice(-MAX_REPLICA_WALK_STEPS - 1).reverse());
  });
});
