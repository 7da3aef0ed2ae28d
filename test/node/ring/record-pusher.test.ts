// RecordPusher: entries sent to one peer in batches, and a peer that does not answer marked dead.

import { describe, expect, test } from "bun:test";
import { RecordPusher } from "../../../src/node/ring/record-pusher";
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
