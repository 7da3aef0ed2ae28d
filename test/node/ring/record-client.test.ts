// RecordClient method by method, in-process on the memory network: puts and removals to a key's primary and replicas, reads merged from both.

import { describe, expect, test } from "bun:test";
import { MAX_RECORD_LIFETIME_MS } from "../../../src/node/ring/admission";
import { P2PError, isP2PError } from "../../../src/protocol/errors";
import { at, entry, fakeClock, keyAfter, MemoryNetwork, partsAt, setTrueNeighbours, stubCircle } from "./parts";

const POSITIONS = [0, 2, 4, 6, 8, 10, 12, 14];
/** Owned by 12; its replicas are 14 and 0. */
const KEY = keyAfter(11);

/** The node under test at 8 (replicas 3) beside stub peers. */
function setup() {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 8), clock.now);
  const node = partsAt(network, 8, clock.now, { replicas: 3 });
  setTrueNeighbours(POSITIONS, (n) => (n === 8 ? node.table : undefined));
  node.membership.adopt(node.table.predecessor, node.table.successors);
  return { network, clock, stubs, node };
}

const membersAt = (stub: { store: { get: (key: string, now: number) => { member: string }[] } }, now: number) =>
  stub.store.get(KEY, now).map((stored) => stored.member);

describe("RecordClient.put", () => {
  test("stores the entry on the key's primary and on the replicas after it, and names the primary", async () => {
    const { node, stubs, clock } = setup();
    expect(await node.client.put(KEY, "alice", "v")).toEqual(at(12));
    for (const n of [12, 14, 0]) expect(membersAt(stubs.get(n)!, clock.now())).toEqual(["alice"]);
    expect(membersAt(stubs.get(2)!, clock.now())).toEqual([]);
  });

  test("while successor lists lag a join, the put reaches the new replica before it is acknowledged", async () => {
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 8), clock.now);
    const node = partsAt(network, 8, clock.now, { replicas: 3 });
    // 14 has just joined: only 0 (its successor) and 14 itself know; the primary 12 and this node do not.
    const lagging = POSITIONS.filter((n) => n !== 14);
    setTrueNeighbours(lagging, (n) => (n === 8 ? node.table : n === 12 ? stubs.get(12)!.table : undefined));
    node.membership.adopt(node.table.predecessor, node.table.successors);
    stubs.get(2)!.beforePut = () => {
      throw new P2PError("CONFLICT", "record 0 is for key 0c00, which this node is neither the primary nor a replica of");
    };
    expect(await node.client.put(KEY, "alice", "v")).toEqual(at(12));
    for (const n of [12, 14, 0]) expect(membersAt(stubs.get(n)!, clock.now())).toEqual(["alice"]);
  });

  test("caps the lifetime at MAX_RECORD_LIFETIME_MS and uses it when none is given", async () => {
    const { node, stubs, clock } = setup();
    await node.client.put(KEY, "alice", "v", 10 * MAX_RECORD_LIFETIME_MS);
    const [stored] = stubs.get(12)!.store.get(KEY, clock.now());
    expect(stored!.expiresAt! - stored!.updatedAt).toBe(MAX_RECORD_LIFETIME_MS);
  });

  test("a key this node is primary for is accepted here and pushed on to its replicas", async () => {
    const { node, stubs, clock } = setup();
    expect(await node.client.put(keyAfter(7), "alice", "v")).toEqual(at(8));
    await node.background.idle();
    expect(node.store.get(keyAfter(7), clock.now()).map((stored) => stored.member)).toEqual(["alice"]);
    expect(stubs.get(10)!.puts.flat().map((stored) => stored.member)).toEqual(["alice"]);
  });

  test("routes around a primary that does not answer: the next node takes the entry", async () => {
    const { node, stubs, clock, network } = setup();
    network.kill(at(12).address);
    expect(await node.client.put(KEY, "alice", "v")).toEqual(at(14));
    expect(membersAt(stubs.get(14)!, clock.now())).toEqual(["alice"]);
  });

  test("when every attempt is refused, fails UNAVAILABLE naming the last refusal", async () => {
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 8), clock.now);
    // One successor: two attempts (12, then 14), both refused, before this node gives up.
    const node = partsAt(network, 8, clock.now, { replicas: 3, successorListLength: 1 });
    setTrueNeighbours(POSITIONS, (n) => (n === 8 ? node.table : undefined));
    for (const stub of stubs.values()) {
      stub.beforePut = () => {
        throw new P2PError("CONFLICT", "too many records from you");
      };
    }
    const error = await node.client.put(KEY, "alice", "v").catch((caught: unknown) => caught);
    expect(isP2PError(error, "UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain("answered: too many records from you");
  });

  test("signs every entry it writes with the signer given", async () => {
    const network = new MemoryNetwork(1);
    const clock = fakeClock();
    const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 8), clock.now);
    const node = partsAt(network, 8, clock.now, { replicas: 3, signEntry: (unsigned) => ({ ...unsigned, value: `signed ${unsigned.value}` }) });
    setTrueNeighbours(POSITIONS, (n) => (n === 8 ? node.table : undefined));
    await node.client.put(KEY, "alice", "v");
    expect(stubs.get(12)!.store.get(KEY, clock.now())[0]!.value).toBe("signed v");
  });
});

describe("RecordClient.remove", () => {
  test("stores a tombstone that wins over a put made at the same clock reading", async () => {
    const { node, stubs, clock } = setup();
    await node.client.put(KEY, "alice", "v");
    await node.client.remove(KEY, "alice");
    expect(membersAt(stubs.get(12)!, clock.now())).toEqual([]);
    const [tombstone] = stubs.get(12)!.store.all();
    expect(tombstone!.deleted).toBe(true);
  });
});

describe("RecordClient.readFromPrimary", () => {
  test("reads the primary and adds the newer writes its replicas hold", async () => {
    const { node, stubs, clock } = setup();
    stubs.get(12)!.store.merge([entry(KEY, "alice", clock.now() - 10), entry(KEY, "bob", clock.now())]);
    stubs.get(14)!.store.merge([entry(KEY, "alice", clock.now()), entry(KEY, "carol", clock.now())]);
    const read = await node.client.readFromPrimary(KEY);
    expect(read.map((stored) => [stored.member, stored.updatedAt])).toEqual([
      ["alice", clock.now()],
      ["bob", clock.now()],
      ["carol", clock.now()],
    ]);
  });

  test("reads from the next live node when the primary does not answer", async () => {
    const { node, stubs, clock, network } = setup();
    stubs.get(14)!.store.merge([entry(KEY, "alice", clock.now())]);
    network.kill(at(12).address);
    expect((await node.client.readFromPrimary(KEY)).map((stored) => stored.member)).toEqual(["alice"]);
  });

  test("with every other node down, reads what this node holds itself", async () => {
    const { node, network, clock } = setup();
    node.store.merge([entry(KEY, "alice", clock.now())]);
    for (const n of POSITIONS) if (n !== 8) network.kill(at(n).address);
    expect((await node.client.readFromPrimary(KEY)).map((stored) => stored.member)).toEqual(["alice"]);
  });
});

describe("RecordClient.replicasAfter", () => {
  test("takes the nodes nearest after the primary, whatever the primary names", () => {
    const { node } = setup();
    // 10 names only a stranger far away (2); this node knows 12 and 14 follow it.
    expect(node.client.replicasAfter(at(10), [at(2)], new Set())).toEqual([at(12), at(14)]);
  });
});
