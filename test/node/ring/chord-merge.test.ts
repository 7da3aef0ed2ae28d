// Two rings that learn of each other merge into one: detection, which ring yields, and no record lost.

import { describe, expect, test } from "bun:test";
import type { ChordNode } from "../../../src/node/ring/chord";
import { ringId } from "../../../src/model/id";
import { CALM_CHECKS_PER_PROBE, MERGE_CONFIRM_MS, MIN_MEMBERSHIP_MS, RingMerger } from "../../../src/node/ring/merge";
import { settle, simAddress } from "../../../src/node/ring/sim/simulation";
import { type TestRing, addNode, emptyRing, isStable, maintainAll, maintainUntilStable, sortedById } from "./fixture";

/** Two separate rings of `size` nodes each on one network, every node in one of them. */
async function twoRings(seed: number, size: number): Promise<{ ring: TestRing; first: ChordNode[]; second: ChordNode[] }> {
  const ring = emptyRing(seed);
  const first: ChordNode[] = [];
  const second: ChordNode[] = [];
  for (let i = 0; i < 2 * size; i++) (i % 2 === 0 ? first : second).push(addNode(ring, simAddress(seed * 1000 + i)));
  for (const group of [first, second]) {
    group[0]!.create();
    for (const node of group.slice(1)) await node.join([group[0]!.self]);
  }
  await settle(ring.live);
  for (let round = 0; round < 30; round++) await maintainAll(ring);
  return { ring, first, second };
}

const smallestId = (nodes: ChordNode[]) => sortedById(nodes)[0]!.self.id;

describe("two rings that learn of each other", () => {
  test("are told apart, the ring with the larger smallest id yields, and all become one ring with every record", async () => {
    for (const seed of [1, 2, 3]) {
      const { ring, first, second } = await twoRings(seed, 5);
      const [winner, loser] = smallestId(first) < smallestId(second) ? [first, second] : [second, first];
      const keys = Array.from({ length: 40 }, (_, i) => ringId(`record-${seed}-${i}`));
      for (const [index, key] of keys.entries()) await (index % 2 === 0 ? winner : loser)[0]!.put(key, "m", `value-${index}`);
      await settle(ring.live);

      const yielder = loser[2]!;
      const merger = new RingMerger(yielder, { clock: ring.clock });
      const stayer = new RingMerger(winner[1]!, { clock: ring.clock });
      ring.advanceClock(MIN_MEMBERSHIP_MS);
      // Seen once is a suspicion; seen again after the confirmation delay it is another ring.
      expect(await merger.check([winner[3]!.self])).toBeNull();
      expect(await stayer.check([loser[0]!.self])).toBeNull();
      ring.advanceClock(MERGE_CONFIRM_MS);
      const foreign = await merger.check([winner[3]!.self]);
      expect(foreign?.weYield).toBe(true);
      expect(foreign?.theirSmallest.id).toBe(smallestId(winner));
      expect((await stayer.check([loser[0]!.self]))?.weYield).toBe(false);

      expect(await yielder.rejoinThrough(foreign!.via)).toBe(true);
      await settle(ring.live);
      expect(await maintainUntilStable(ring, 30)).toBeGreaterThan(0);
      for (let round = 0; round < 3; round++) await maintainAll(ring);
      for (const [index, key] of keys.entries()) {
        expect((await ring.live[index % ring.live.length]!.get(key)).map((entry) => entry.value)).toEqual([`value-${index}`]);
      }
    }
  });

  test("a node that has just joined the same ring is not mistaken for another ring", async () => {
    const ring = emptyRing(31);
    const nodes = Array.from({ length: 5 }, (_, i) => addNode(ring, simAddress(31_000 + i)));
    nodes[0]!.create();
    for (const node of nodes.slice(1)) await node.join([nodes[0]!.self]);
    await settle(ring.live);
    expect(await maintainUntilStable(ring, 30)).toBeGreaterThan(0);
    const merger = new RingMerger(nodes[1]!, { clock: ring.clock });
    ring.advanceClock(MIN_MEMBERSHIP_MS);
    // Joined, but no stabilize has run: the ring does not route its id to it yet.
    const newcomer = addNode(ring, simAddress(31_005));
    await newcomer.join([nodes[0]!.self]);
    for (let check = 0; check < 3; check++) {
      expect(await merger.check([newcomer.self])).toBeNull();
      ring.advanceClock(MERGE_CONFIRM_MS);
    }
    expect(merger.pendingConfirmation).toBe(false);
    expect(isStable(ring)).toBe(false);
  });

  test(`while calm, only one check in ${CALM_CHECKS_PER_PROBE} probes; a ring seen once is then confirmed at the next check, calm or not`, async () => {
    const { ring, first, second } = await twoRings(4, 4);
    const merger = new RingMerger(first[1]!, { clock: ring.clock, calm: () => true });
    ring.advanceClock(MIN_MEMBERSHIP_MS);
    const seen: boolean[] = [];
    for (let check = 0; check < CALM_CHECKS_PER_PROBE; check++) {
      expect(await merger.check([second[0]!.self])).toBeNull();
      seen.push(merger.pendingConfirmation);
    }
    // Only the last of these checks probed, and it found the other ring.
    expect(seen).toEqual([...Array(CALM_CHECKS_PER_PROBE - 1).fill(false), true]);
    ring.advanceClock(MERGE_CONFIRM_MS);
    expect(await merger.check([second[0]!.self])).not.toBeNull();
  });
});
