// HandOff method by method, in-process on the memory network: misplaced keys remembered and forwarded to each key's primary.

import { describe, expect, test } from "bun:test";
import { at, entry, fakeClock, keyAfter, MemoryNetwork, partsAt, setTrueNeighbours, stubCircle } from "./parts";

const POSITIONS = [0, 2, 4, 6, 8, 10, 12, 14];

/** The node under test at 8, a member of a ring of stub peers. */
function setup() {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 8), clock.now);
  const node = partsAt(network, 8, clock.now, { replicas: 3 });
  setTrueNeighbours(POSITIONS, (n) => (n === 8 ? node.table : undefined));
  node.membership.adopt(node.table.predecessor, node.table.successors);
  return { network, clock, stubs, node };
}

describe("HandOff.noteMisplaced and misplacedCount", () => {
  test("counts each key once however often it is noted", () => {
    const { node } = setup();
    node.handOff.noteMisplaced(keyAfter(2));
    node.handOff.noteMisplaced(keyAfter(2));
    node.handOff.noteMisplaced(keyAfter(11));
    expect(node.handOff.misplacedCount).toBe(2);
  });

  test("remembers at most 10,000 keys, dropping the oldest", () => {
    const { node } = setup();
    for (let i = 0; i < 10_001; i++) node.handOff.noteMisplaced(i.toString(16).padStart(40, "0"));
    expect(node.handOff.misplacedCount).toBe(10_000);
  });
});

describe("HandOff.handOffEverything", () => {
  test("queues the key of every stored entry", () => {
    const { node, clock } = setup();
    node.store.merge([entry(keyAfter(2), "a", clock.now()), entry(keyAfter(11), "b", clock.now()), entry(keyAfter(7), "c", clock.now())]);
    node.handOff.handOffEverything();
    expect(node.handOff.misplacedCount).toBe(3);
  });
});

describe("HandOff.handOffMisplaced", () => {
  test("forwards each queued key's entries to its primary and empties the queue; keys now ours are dropped without a call", async () => {
    const { node, stubs, clock } = setup();
    node.store.merge([entry(keyAfter(2), "a", clock.now()), entry(keyAfter(11), "b", clock.now()), entry(keyAfter(7), "ours", clock.now())]);
    node.handOff.handOffEverything();
    await node.handOff.handOffMisplaced();
    expect(stubs.get(4)!.store.get(keyAfter(2), clock.now()).map((stored) => stored.member)).toEqual(["a"]);
    expect(stubs.get(12)!.store.get(keyAfter(11), clock.now()).map((stored) => stored.member)).toEqual(["b"]);
    expect(stubs.get(10)!.puts).toEqual([]); // the key now ours stayed here
    expect(node.handOff.misplacedCount).toBe(0);
  });

  test("a primary that does not answer keeps its keys queued for the next round", async () => {
    const { node, clock, network } = setup();
    node.store.merge([entry(keyAfter(11), "b", clock.now())]);
    node.handOff.noteMisplaced(keyAfter(11));
    network.kill(at(12).address);
    network.kill(at(14).address);
    network.kill(at(0).address);
    await node.handOff.handOffMisplaced();
    expect(node.handOff.misplacedCount).toBe(1);
  });

  test("does nothing while this node is not a member of a ring", async () => {
    const { node, clock, network } = setup();
    node.store.merge([entry(keyAfter(2), "a", clock.now())]);
    node.handOff.noteMisplaced(keyAfter(2));
    await node.membership.leave();
    const calls = network.calls;
    await node.handOff.handOffMisplaced();
    expect(network.calls).toBe(calls);
    expect(node.handOff.misplacedCount).toBe(1);
  });
});
