// DNS heartbeats at rest, with time moved by hand: they back off while nothing changes and come fast again after a failed heartbeat or a change in the ring.

import { afterEach, describe, expect, test } from "bun:test";
import { HEARTBEAT_MS, ROUND_MS, World, type WorldNode, isOneRing } from "./world";

const HEARTBEAT_MAX_MS = 4 * HEARTBEAT_MS;

let world: World | null = null;
afterEach(() => {
  world?.close();
  world = null;
});

async function calmRingOf(count: number): Promise<World> {
  world = new World(3);
  world.heartbeatMaxMs = HEARTBEAT_MAX_MS;
  for (let i = 0; i < count; i++) await world.start(world.addNode(i + 1));
  await world.roundsUntil(() => isOneRing(world!.nodes), 200);
  return world;
}

/** Maintenance rounds for `ms` of time, every maintaining node once per ROUND_MS. */
async function runFor(net: World, ms: number): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += ROUND_MS) {
    for (const node of net.nodes) if (node.maintaining) await node.ring.maintain();
    await net.advance(ROUND_MS);
  }
}

/** The gaps between `node`'s heartbeats (DNS JOINs) since `since`. */
function heartbeatGaps(net: World, node: WorldNode, since: number): number[] {
  const times = net.dns.joins.filter((join) => join.address === node.ring.self.address && join.at >= since).map((join) => join.at);
  return times.slice(1).map((at, index) => at - times[index]!);
}

describe("heartbeats at rest", () => {
  test("while nothing changes, the wait between a node's heartbeats doubles up to its maximum", async () => {
    const net = await calmRingOf(3);
    const since = net.time.now;
    await runFor(net, 60_000);
    const gaps = heartbeatGaps(net, net.nodes[0]!, since);
    expect(gaps.at(-1)).toBe(HEARTBEAT_MAX_MS);
    expect(gaps.every((gap) => gap <= HEARTBEAT_MAX_MS)).toBe(true);
    expect(gaps.length).toBeLessThan(60_000 / HEARTBEAT_MS - 5);
  });

  test("a heartbeat the DNS did not answer brings the next one back to the fast period", async () => {
    const net = await calmRingOf(3);
    await runFor(net, 60_000);
    const node = net.nodes[0]!;
    net.dns.down = true;
    const since = net.time.now;
    await runFor(net, 2 * HEARTBEAT_MAX_MS);
    const gaps = heartbeatGaps(net, node, since);
    expect(gaps[0]).toBe(HEARTBEAT_MS);
  });

  test("a change in the ring (its successor gone) brings a node's next heartbeat forward from the long wait to the fast period", async () => {
    const net = await calmRingOf(4);
    await runFor(net, 60_000);
    const sorted = [...net.nodes].sort((a, b) => (a.ring.self.id < b.ring.self.id ? -1 : 1));
    const [watched, victim] = [sorted[1]!, sorted[2]!];
    const beats = () => net.dns.joins.filter((join) => join.address === watched.ring.self.address).length;
    // Just after one of its heartbeats, so the next would be HEARTBEAT_MAX_MS away without the change.
    const before = beats();
    for (let round = 0; round < 40 && beats() === before; round++) await runFor(net, ROUND_MS);
    expect(beats()).toBe(before + 1);
    net.remove(victim);
    const changedAt = net.time.now;
    await runFor(net, HEARTBEAT_MS + 2 * ROUND_MS);
    const next = net.dns.joins.find((join) => join.address === watched.ring.self.address && join.at > changedAt);
    expect(next).toBeDefined();
    expect(next!.at - changedAt).toBeLessThanOrEqual(HEARTBEAT_MS + 2 * ROUND_MS);
  });
});
