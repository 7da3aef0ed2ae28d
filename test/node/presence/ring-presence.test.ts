// RingPresence in one process: joining through the DNS or the peers a node knew, backoff, merging two rings, healing a partition, and stopping.

import { afterEach, describe, expect, test } from "bun:test";
import { MAX_RETRY_DELAY_MS } from "../../../src/node/defaults";
import { sortedById } from "../../../src/node/ring/sim/simulation";
import { HEARTBEAT_MS, RETRY_MS, World, type WorldNode, isOneRing } from "./world";

let world: World | null = null;
afterEach(() => {
  world?.close();
  world = null;
});

/** `count` nodes started one after another, each joining through whom the DNS lists, then maintained into one ring. */
async function ringOf(count: number, seed = 1): Promise<World> {
  world = new World(seed);
  for (let i = 0; i < count; i++) await world.start(world.addNode(i + 1));
  await world.roundsUntil(() => isOneRing(world!.nodes), 200);
  return world;
}

const smallestId = (nodes: readonly WorldNode[]) => sortedById(nodes.map((node) => node.ring))[0]!.self.id;

describe("joining", () => {
  test("the first node founds a ring when the DNS knows nobody, and the next ones join it through the peers it lists", async () => {
    const net = await ringOf(4);
    expect(net.nodes.map((node) => node.presence.founded)).toEqual([true, false, false, false]);
    expect(net.nodes.every((node) => node.presence.joined && node.maintaining)).toBe(true);
    expect([...net.dns.registered.keys()].sort()).toEqual(net.nodes.map((node) => node.ring.self.address).sort());
  });

  test("with every DNS down, a restarted node joins through the peers it saved in known-peers.json", async () => {
    const net = await ringOf(3);
    // Saved at the join, and again once the tables have filled.
    await net.advance(5_000);
    const [first, second, restarted] = net.nodes as [WorldNode, WorldNode, WorldNode];
    net.remove(restarted);
    net.dns.down = true;

    const back = net.addNode(3, restarted.dataDir);
    await net.start(back);
    expect(back.presence.founded).toBe(false);
    await net.roundsUntil(() => isOneRing(net.nodes), 100);
    const addresses = (nodes: readonly WorldNode[]) => nodes.map((node) => node.ring.self.address);
    expect(addresses(net.nodes)).toEqual(addresses([first, second, back]));
    expect(back.ring.self.address).toBe(restarted.ring.self.address);
  });

  test("with the DNS down and no peer known, a node asks again after pauses that double, and joins once the DNS answers", async () => {
    const net = await ringOf(1);
    const late = net.addNode(2);
    net.dns.down = true;
    const started = late.presence.start();
    // Awaited below; a failure before that must not surface as an unhandled rejection between tests.
    started.catch(() => {});
    await net.advance(40_000);
    const times = net.dns.joins.filter((join) => join.address === late.ring.self.address).map((join) => join.at);
    const pauses = times.slice(1).map((time, i) => time - times[i]!);
    expect(pauses).toEqual([RETRY_MS, 2 * RETRY_MS, 4 * RETRY_MS, 8 * RETRY_MS, 16 * RETRY_MS, MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS]);

    net.dns.down = false;
    await net.advance(MAX_RETRY_DELAY_MS);
    await started;
    expect(late.presence.founded).toBe(false);
    await net.roundsUntil(() => isOneRing(net.nodes), 100);
  });
});

describe("merging", () => {
  test("two rings that hear of each other through the DNS become one: a node of the ring with the larger smallest id re-joins the other", async () => {
    world = new World(3);
    const net = world;
    const inFirst = (peer: { address: string }) => net.nodes.slice(0, 3).some((node) => node.ring.self.address === peer.address);
    // The DNS lists each half only its own: two rings form.
    net.dns.lists = (asker, peer) => inFirst(asker) === inFirst(peer);
    for (let i = 0; i < 6; i++) await net.start(net.addNode(i + 10));
    const [first, second] = [net.nodes.slice(0, 3), net.nodes.slice(3)];
    await net.roundsUntil(() => isOneRing(first) && isOneRing(second), 200);
    expect(first.filter((node) => node.presence.founded)).toHaveLength(1);
    expect(second.filter((node) => node.presence.founded)).toHaveLength(1);

    net.dns.lists = () => true;
    await net.roundsUntil(() => isOneRing(net.nodes), 400);
    const [stayed, yielded] = smallestId(first) < smallestId(second) ? [first, second] : [second, first];
    expect(yielded.some((node) => node.merges > 0)).toBe(true);
    expect(stayed.every((node) => node.merges === 0)).toBe(true);
  });

  test("after a partition heals, the two rings it left merge back into one", async () => {
    const net = await ringOf(6, 5);
    const side = new Set(net.nodes.slice(0, 3).map((node) => node.ring.self.address));
    net.blocked = (from, to) => side.has(from) !== side.has(to);
    const [left, right] = [net.nodes.slice(0, 3), net.nodes.slice(3)];
    await net.roundsUntil(() => isOneRing(left) && isOneRing(right), 400);
    expect(net.nodes.every((node) => node.merges === 0)).toBe(true);

    net.blocked = () => false;
    await net.roundsUntil(() => isOneRing(net.nodes), 400);
    expect(net.nodes.some((node) => node.merges > 0)).toBe(true);
  });
});

describe("stopping", () => {
  test("stops a node's heartbeat, resave and merge timers and its ring maintenance, all at once", async () => {
    const net = await ringOf(2);
    expect(net.time.pendingCount).toBeGreaterThan(0);
    for (const node of net.nodes) node.stopping.abort();
    expect(net.time.pendingCount).toBe(0);
    expect(net.nodes.some((node) => node.maintaining)).toBe(false);
    const asked = net.dns.joins.length;
    await net.advance(10 * HEARTBEAT_MS);
    expect(net.dns.joins.length).toBe(asked);
  });

  test("stopped while joining, a node gives up with CLOSED and leaves no timer behind", async () => {
    world = new World(1);
    const node = world.addNode(1);
    world.dns.down = true;
    const started = node.presence.start();
    started.catch(() => {});
    await world.advance(3 * RETRY_MS);
    expect(world.time.pendingCount).toBe(1);
    node.stopping.abort();
    await expect(started).rejects.toMatchObject({ code: "CLOSED" });
    expect(world.time.pendingCount).toBe(0);
    expect(node.presence.joined).toBe(false);
  });
});
