// RecordIntake: records received are merged, this node's share goes on to its replicas, the rest waits for hand-off.

import { describe, expect, test } from "bun:test";
import { entry, fakeClock, keyAfter, MemoryNetwork, partsAt, setTrueNeighbours, stubCircle } from "./parts";

const POSITIONS = [0, 2, 4, 6, 8, 10, 12, 14];

/** The node under test at 8 (range (6, 8], replicas 10 and 12) beside stub peers. */
function setup() {
  const network = new MemoryNetwork(1);
  const clock = fakeClock();
  const stubs = stubCircle(network, POSITIONS.filter((n) => n !== 8), clock.now);
  const node = partsAt(network, 8, clock.now, { replicas: 3 });
  setTrueNeighbours(POSITIONS, (n) => (n === 8 ? node.table : undefined));
  return { network, clock, stubs, node };
}

describe("RecordIntake.accept", () => {
  test("stores entries, says how many changed, and pushes those it is primary for to its replicas", async () => {
    const { node, stubs, clock } = setup();
    const ours = entry(keyAfter(7), "ours", clock.now());
    expect(node.intake.accept([ours])).toBe(1);
    await node.background.idle();
    expect(node.store.get(keyAfter(7), clock.now())).toEqual([ours]);
    expect(stubs.get(10)!.puts).toEqual([[ours]]);
    expect(stubs.get(12)!.puts).toEqual([[ours]]);
  });

  test("an entry it is not primary for is kept and queued for hand-off, not pushed to replicas", async () => {
    const { node, stubs, clock } = setup();
    expect(node.intake.accept([entry(keyAfter(2), "theirs", clock.now())])).toBe(1);
    await node.background.idle();
    expect(node.handOff.misplacedCount).toBe(1);
    expect(stubs.get(10)!.puts).toEqual([]);
  });

  test("entries that change nothing (already held, or older) are neither pushed nor queued", async () => {
    const { node, stubs, clock, network } = setup();
    const newer = entry(keyAfter(7), "ours", clock.now());
    node.intake.accept([newer]);
    await node.background.idle();
    const calls = network.calls;
    expect(node.intake.accept([newer, entry(keyAfter(7), "ours", clock.now() - 1)])).toBe(0);
    await node.background.idle();
    expect(network.calls).toBe(calls);
    expect(stubs.get(10)!.puts.length).toBe(1);
  });
});
