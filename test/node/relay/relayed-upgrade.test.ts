// A transfer through an edge's relay moves to a direct path that opens later, over real sockets: a stand-in relay
// answers CIRCUIT and then, on that connection, every request as "relayed"; a stand-in edge answers "direct".

import { afterEach, describe, expect, test } from "bun:test";
import { connect, type ProtocolClient } from "../../../src/protocol/client";
import { type OpTable, type ProtocolServer, serve } from "../../../src/protocol/server";
import { TcpTransport } from "../../../src/node/tcp-transport";
import { DIRECT_RETRY_PAUSE_MS } from "../../../src/node/relay/relayed-upgrade";
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
