// Replicator method by method, in-process on the memory network: periodic pushes of a primary's records, pushes of changes, hand-over.

import { describe, expect, test } from "bun:test";
import type { RingId } from "../../../src/model/id";
import { at, entry, fakeClock, keyAfter, MemoryNetwork, partsAt, setTrueNeighbours, stubCircle } from "./parts";

const POSITIONS = [0, 2, 4, 6, 8, 10, 12, 14];

/** The node under test at 8 (range (6, 8], replicas 3: its replicas are 10 and 12) beside stub peers. */
function setup(extra: number[] = []) {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, [...POSITIONS.filter((n) => n !== 8), ...extra], clock.now);
  const node = partsAt(network, 8, clock.now, { replicas: 3 });
  setTrueNeighbours(POSITIONS, (n) => (n === 8 ? node.table : undefined));
  return { network, clock, stubs, node };
}

const keysAt = (puts: { key: RingId }[][]) => puts.flat().map((stored) => stored.key);

describe("Replicator.replicate", () => {
  test("pushes the records of this node's own range to its first replicas - 1 successors, and nothing else", async () => {
    const { node, stubs, clock } = setup();
    node.store.merge([entry(keyAfter(7), "ours", clock.now()), entry(keyAfter(3), "not ours", clock.now())]);
    await node.replicator.replicate();
    for (const n of [10, 12]) expect(keysAt(stubs.get(n)!.puts)).toEqual([keyAfter(7)]);
    expect(stubs.get(14)!.puts).toEqual([]);
  });

  test("a round with nothing changed pushes nothing; a new replica holder gets everything", async () => {
    const { node, stubs, clock, network } = setup();
    node.store.merge([entry(keyAfter(7), "ours", clock.now())]);
    await node.replicator.replicate();
    const calls = network.calls;
    await node.replicator.replicate();
    expect(network.calls).toBe(calls);
    node.table.markDead(at(10)); // 12 and 14 are the replicas now
    await node.replicator.replicate();
    expect(keysAt(stubs.get(14)!.puts)).toEqual([keyAfter(7)]);
    expect(stubs.get(12)!.puts.length).toBe(1);
  });

  test("when the range grows (the predecessor went) every replica holder gets the whole range again", async () => {
    const { node, stubs, clock } = setup();
    node.store.merge([entry(keyAfter(5), "was 6's", clock.now())]);
    await node.replicator.replicate();
    expect(stubs.get(10)!.puts.flat()).toEqual([]);
    node.table.markDead(at(6));
    node.table.adoptPredecessor(at(4));
    await node.replicator.replicate();
    expect(keysAt(stubs.get(10)!.puts)).toEqual([keyAfter(5)]);
    expect(keysAt(stubs.get(12)!.puts)).toEqual([keyAfter(5)]);
  });

  test("a replica holder that did not answer is pushed to again the next round", async () => {
    const { node, stubs, clock, network } = setup();
    node.store.merge([entry(keyAfter(7), "ours", clock.now())]);
    network.kill(at(12).address);
    await node.replicator.replicate();
    network.listen(at(12).address, stubs.get(12)!);
    node.table.revive(at(12).address);
    node.table.setSuccessors([at(10), at(12), at(14)]);
    await node.replicator.replicate();
    expect(keysAt(stubs.get(12)!.puts)).toEqual([keyAfter(7)]);
    expect(stubs.get(10)!.puts.length).toBe(1);
  });

  test("reset forgets what was pushed where, so the next round pushes to every holder again", async () => {
    const { node, stubs, clock } = setup();
    node.store.merge([entry(keyAfter(7), "ours", clock.now())]);
    await node.replicator.replicate();
    node.replicator.reset();
    await node.replicator.replicate();
    expect(stubs.get(10)!.puts.length).toBe(2);
  });
});

describe("Replicator.pushToReplicas", () => {
  test("pushes the given entries to the current replica holders", async () => {
    const { node, stubs, clock } = setup();
    await node.replicator.pushToReplicas([entry(keyAfter(7), "new", clock.now())]);
    expect(keysAt(stubs.get(10)!.puts)).toEqual([keyAfter(7)]);
    expect(keysAt(stubs.get(12)!.puts)).toEqual([keyAfter(7)]);
    expect(stubs.get(14)!.puts).toEqual([]);
  });
});

describe("Replicator.handOverTo", () => {
  test("a node that joined inside this range gets everything outside this node's new range, in the background", async () => {
    const { node, stubs, clock } = setup([7]);
    node.store.merge([entry(keyAfter(7), "still ours", clock.now()), entry(keyAfter(6), "now 7's", clock.now()), entry(keyAfter(2), "a replica", clock.now())]);
    node.replicator.handOverTo(at(7));
    await node.background.idle();
    expect(keysAt(stubs.get(7)!.puts).sort()).toEqual([keyAfter(2), keyAfter(6)].sort());
  });

  test("nothing to hand over sends nothing", async () => {
    const { node, network } = setup([7]);
    const calls = network.calls;
    node.replicator.handOverTo(at(7));
    await node.background.idle();
    expect(network.calls).toBe(calls);
  });
});
