// A transfer through an edge's relay moves to a direct path that opens later, over real sockets: a stand-in relay
// answers CIRCUIT and then, on that connection, every request as "relayed"; a stand-in edge answers "direct".

import { afterEach, describe, expect, test } from "bun:test";
import { connect, type ProtocolClient } from "../../../src/protocol/client";
import { type OpTable, type ProtocolServer, serve } from "../../../src/protocol/server";
import { TcpTransport } from "../../../src/node/tcp-transport";
import { DIRECT_RETRY_PAUSE_MS, MAX_DIRECT_RETRY_PAUSE_MS, QUICK_FAILURE_MS, RelayedUpgrades } from "../../../src/node/relay/relayed-upgrade";
import { loopbackAddress, waitFor } from "../../helpers/wait";

const EDGE_ID = "e".repeat(40);

const servers: ProtocolServer[] = [];
const transports: TcpTransport[] = [];
afterEach(async () => {
  for (const transport of transports.splice(0)) transport.close();
  for (const server of servers.splice(0)) await server.stop();
});

const answering = (name: string): OpTable => ({
  WHO: { usage: "WHO", minArgs: 0, maxArgs: 0, handle: () => ({ lines: [name] }) },
  CIRCUIT: { usage: "CIRCUIT <edge id>", minArgs: 1, maxArgs: 1, handle: () => ({ lines: ["circuit open"] }) },
});

/** A relay stand-in, an edge stand-in, and a transport whose reversals fail until `pathOpen` is set. */
async function setup() {
  const hostname = loopbackAddress();
  const relay = await serve({ listen: { hostname, port: 0 }, ops: answering("relayed") });
  const edge = await serve({ listen: { hostname, port: 0 }, ops: answering("direct") });
  servers.push(relay, edge);
  const logged: string[] = [];
  const transport = new TcpTransport({ localAddress: hostname, info: (message) => logged.push(message) });
  transports.push(transport);
  const state = { pathOpen: false, tries: [] as boolean[] };
  transport.connectBack = async (_relayed, again = false): Promise<ProtocolClient | null> => {
    state.tries.push(again);
    return state.pathOpen ? connect({ hostname, port: edge.port }) : null;
  };
  const address = `${relay.address}/${EDGE_ID}`;
  const who = async (channel: "bulk" | "ring") => new TextDecoder().decode(await transport.request(address, "WHO", [], { channel, stream: channel === "bulk" ? "d1" : undefined })).trim();
  return { relay, edge, transport, state, logged, address, who };
}

describe("a relayed transfer and a direct path found later", () => {
  test("a transfer's link through the relay moves to the edge's direct link once one opens, and the relayed link closes", async () => {
    const { relay, transport, state, logged, address, who } = await setup();
    expect(await who("bulk")).toBe("relayed");
    expect(transport.pathTo(address)).toBe("relayed");
    // While no path opens, the transfer goes on through the relay and tries again now and then.
    await waitFor("two more tries while the path stays shut", async () => (await who("bulk")) === "relayed" && state.tries.filter(Boolean).length >= 2, 10_000);
    state.pathOpen = true;
    await waitFor("the transfer to go straight to the edge", async () => (await who("bulk")) === "direct", 10_000);
    expect(transport.pathTo(address)).toBe("reversed");
    expect(logged.some((line) => line === `the link to ${address} moved from its relay to a reversed connection`)).toBe(true);
    // The relayed link had nothing outstanding: it is closed at once, which frees the relay's circuit.
    await waitFor("the relayed link to close", () => relay.connectionCount === 0, 5_000);
    expect(await who("bulk")).toBe("direct");
  }, 30_000);

  test("the first try after opening waits a pause: the open itself has just tried the direct paths", async () => {
    const { state, who } = await setup();
    await who("bulk");
    await who("bulk");
    expect(state.tries).toEqual([false]);
    await Bun.sleep(DIRECT_RETRY_PAUSE_MS + 50);
    await who("bulk");
    await waitFor("a second try", () => state.tries.length === 2, 5_000);
    expect(state.tries).toEqual([false, true]);
  }, 20_000);

  test("ring upkeep's link through a relay stays on it: only transfers look for a direct path", async () => {
    const { state, who } = await setup();
    state.pathOpen = false;
    await who("ring");
    await Bun.sleep(DIRECT_RETRY_PAUSE_MS + 50);
    state.pathOpen = true;
    for (let call = 0; call < 5; call += 1) expect(await who("ring")).toBe("relayed");
    expect(state.tries).toEqual([false]);
  }, 20_000);
});

describe("how often a relayed link tries for a direct path", () => {
  /** Calls `consider` every 100 ms of a fake clock for `untilMs`; returns when each try began. */
  async function triesOver(untilMs: number, tryTakesMs: number): Promise<number[]> {
    let now = 0;
    const tries: number[] = [];
    const upgrades = new RelayedUpgrades({
      tryDirect: async () => {
        tries.push(now);
        now += tryTakesMs;
        return null;
      },
      swap: async () => false,
      info: () => {},
      clock: () => now,
    });
    const link = { isClosed: false } as unknown as ProtocolClient;
    upgrades.markRelayed(link);
    for (let step = 0; step < 10_000 && now < untilMs; step += 1) {
      upgrades.consider("bulk/x", "x", link);
      await Bun.sleep(0);
      now += 100;
    }
    return tries;
  }

  test("tries that fail at once (nothing was tried on the wire) double the pause, up to MAX_DIRECT_RETRY_PAUSE_MS", async () => {
    expect(await triesOver(70_000, 0)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 32_000 + MAX_DIRECT_RETRY_PAUSE_MS]);
  });

  test("tries that ran (a reversal waited for, a punch's SYNs) keep the short pause, so a path that opens is taken within one try and a pause", async () => {
    const tries = await triesOver(20_000, QUICK_FAILURE_MS + 2_500);
    expect(tries.slice(0, 4)).toEqual([1_000, 5_000, 9_000, 13_000]);
  });
});
