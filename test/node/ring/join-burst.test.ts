// Many nodes joining at once through one member: the ring is whole again within a few rounds, not one layer of joiners per round.

import { expect, test } from "bun:test";
import { sortedById } from "../../../src/node/ring/sim/simulation";
import { addNode, emptyRing, maintainAll, settle, type TestRing } from "./fixture";
import { simAddress } from "../../../src/node/ring/sim/simulation";

/** Joiners in the burst: as many as a testnet starts together (MAX_NODES_STARTING_TOGETHER). */
const JOINERS = 64;
/** Rounds a burst may take to close: the notified member tells each joiner of its place (one round), stabilize walks to it (one more), slack for fingers. */
const MAX_ROUNDS = 6;

/** Whether every node's successor and predecessor are the true ones (what the testnets call a consistent ring). */
function consistent(ring: TestRing): boolean {
  const sorted = sortedById(ring.live);
  return sorted.every((node, k) => {
    const { predecessor, successors } = node.neighbours();
    return successors[0]?.address === sorted[(k + 1) % sorted.length]!.self.address && predecessor?.address === sorted[(k - 1 + sorted.length) % sorted.length]!.self.address;
  });
}

test("64 nodes that join a ring of two at once, all through one member, make a consistent ring within a few maintenance rounds", async () => {
  const ring = emptyRing(5);
  const founder = addNode(ring, simAddress(0));
  founder.create();
  const second = addNode(ring, simAddress(1));
  await second.join([founder.self]);
  await settle(ring.live);
  await maintainAll(ring);
  const joiners = Array.from({ length: JOINERS }, (_, i) => addNode(ring, simAddress(2 + i)));
  await Promise.all(joiners.map((node) => node.join([founder.self])));
  await settle(ring.live);
  let rounds = 0;
  while (!consistent(ring) && rounds < 40) {
    await maintainAll(ring);
    rounds++;
  }
  expect(consistent(ring)).toBe(true);
  expect(rounds).toBeLessThanOrEqual(MAX_ROUNDS);
});
