import { describe, expect, test } from "bun:test";
import { inHalfOpenInterval, ringId } from "../../../src/model/id";
import { killNodes, refreshFingers, repairUntilStable, settle, storeRecords, type SimRing } from "../../../src/node/ring/sim/simulation";
import { addNode, buildRing, isStable, joinRing, maintainAll, sortedById } from "./fixture";

/** How many live nodes hold a live copy of `member` under `key`. */
function holders(ring: SimRing, key: string, member: string): number {
  return ring.live.filter((node) =>
    ring.stores.get(node.self.address)!.get(key, 0).some((entry) => entry.member === member),
  ).length;
}

describe("records on the ring", () => {
  test("a put leaves three copies: on the key's successor and the next two nodes", async () => {
    const ring = await buildRing({ nodes: 30, seed: 1, replicas: 3, successors: 4 });
    const key = ringId("song.mp3");
    await ring.live[0]!.put(key, "127.0.0.1:4000", "size=1");
    await settle(ring.live);
    const sorted = sortedById(ring.live);
    const primary = sorted.findIndex((node) => node.self.id >= key);
    const expected = [0, 1, 2].map((s) => sorted[(Math.max(primary, 0) + s) % sorted.length]!.self.address);
    const holding = ring.live
      .filter((node) => ring.stores.get(node.self.address)!.get(key, 0).length > 0)
      .map((node) => node.self.address);
    expect(holding.sort()).toEqual(expected.sort());
  });

  test("a read merges what the key's replicas hold, so a primary that hides a member cannot make it vanish", async () => {
    const ring = await buildRing({ nodes: 20, seed: 4, replicas: 3, successors: 4 });
    const key = ringId("hidden.iso");
    await ring.live[0]!.put(key, "real-holder", "the real one");
    await settle(ring.live);
    const sorted = sortedById(ring.live);
    const primary = sorted.find((node) => node.self.id >= key) ?? sorted[0]!;
    // The lying primary answers every GET_RECORDS with nothing.
    primary.handleGetRecords = () => [];
    const reader = ring.live.find((node) => node !== primary)!;
    expect((await reader.get(key)).map((entry) => entry.value)).toEqual(["the real one"]);
  });

  test("every record survives two adjacent nodes crashing at once with 3 replicas", async () => {
    const ring = await buildRing({ nodes: 60, seed: 21, replicas: 3, successors: 4 });
    const records = await storeRecords(ring, 300);
    const sorted = sortedById(ring.live);
    killNodes(ring, [sorted[10]!, sorted[11]!]);
    expect((await repairUntilStable(ring, 20)).stable).toBe(true);
    await refreshFingers(ring);
    for (const record of records) {
      expect(holders(ring, record.key, record.member)).toBe(3);
      const found = await ring.live[0]!.get(record.key);
      expect(found.map((entry) => entry.member)).toContain(record.member);
    }
  });

  test("a joining node takes over the records of its share and the old holder keeps a replica", async () => {
    const ring = await joinRing(12, 5);
    const records = await storeRecords(ring, 200);
    const newcomer = addNode(ring, "127.8.8.8:4000");
    await newcomer.join([ring.live[0]!.self]);
    await settle(ring.live);
    for (let round = 0; round < 3; round++) await maintainAll(ring);
    expect(isStable(ring)).toBe(true);
    const { predecessor, successors } = newcomer.neighbours();
    const share = records.filter((record) => inHalfOpenInterval(record.key, predecessor!.id, newcomer.self.id));
    expect(share.length).toBeGreaterThan(0);
    const own = ring.stores.get(newcomer.self.address)!;
    const formerHolder = ring.stores.get(successors[0]!.address)!;
    for (const record of share) {
      expect(own.get(record.key, 0).map((entry) => entry.member)).toContain(record.member);
      expect(formerHolder.get(record.key, 0).map((entry) => entry.member)).toContain(record.member);
    }
    expect(newcomer.status().records.primary).toBe(share.length);
  });

  test("a graceful leave hands records to the successor and closes the ring at once", async () => {
    const ring = await joinRing(10, 9);
    const records = await storeRecords(ring, 150);
    const sorted = sortedById(ring.live);
    const [before, leaver, after] = [sorted[3]!, sorted[4]!, sorted[5]!];
    const leaverStore = ring.stores.get(leaver.self.address)!;
    const handed = leaverStore.all();
    const { handedTo } = await leaver.leave();
    ring.network.remove(leaver.self.address);
    ring.live = ring.live.filter((node) => node !== leaver);
    expect(handedTo?.address).toBe(after.self.address);
    // No maintenance round has run: the neighbours learnt it from LEAVING.
    expect(before.neighbours().successors[0]!.address).toBe(after.self.address);
    expect(after.neighbours().predecessor!.address).toBe(before.self.address);
    const afterStore = ring.stores.get(after.self.address)!;
    for (const entry of handed) {
      expect(afterStore.get(entry.key, 0).map((e) => e.member)).toContain(entry.member);
    }
    await settle(ring.live);
    for (const record of records) {
      expect((await ring.live[0]!.get(record.key)).map((entry) => entry.member)).toContain(record.member);
    }
  });

  test("a removed member stays removed when a stale replica pushes the old entry back", async () => {
    const ring = await buildRing({ nodes: 20, seed: 3, replicas: 3, successors: 4 });
    const key = ringId("movie.mkv");
    const node = ring.live[0]!;
    await node.put(key, "alice", "v");
    await settle(ring.live);
    const stale = ring.stores.get((await node.lookup(key)).peer.address)!.get(key, 0);
    await node.remove(key, "alice");
    await settle(ring.live);
    // A late replica replays its old copy to every node that holds the key.
    const holdingKey = ring.live.filter((other) =>
      ring.stores.get(other.self.address)!.all().some((entry) => entry.key === key),
    );
    expect(holdingKey.length).toBe(3);
    for (const other of holdingKey) expect(other.handlePutRecords(stale)).toBe(0);
    await settle(ring.live);
    expect(await node.get(key)).toEqual([]);
    expect(holders(ring, key, "alice")).toBe(0);
  });

  test("members of one key are stored and read together", async () => {
    const ring = await buildRing({ nodes: 20, seed: 4, replicas: 3, successors: 4 });
    const key = ringId("shared.iso");
    await ring.live[1]!.put(key, "alice", "a");
    await ring.live[2]!.put(key, "bob", "b");
    await settle(ring.live);
    const members = (await ring.live[3]!.get(key)).map((entry) => entry.member).sort();
    expect(members).toEqual(["alice", "bob"]);
  });

  test("a record with a ttl disappears from get once it expires", async () => {
    const ring = await joinRing(5, 2);
    const key = ringId("temp");
    await ring.live[0]!.put(key, "alice", "v", 5_000);
    await settle(ring.live);
    expect((await ring.live[1]!.get(key)).length).toBe(1);
    ring.advanceClock(5_000);
    expect(await ring.live[1]!.get(key)).toEqual([]);
  });
});
