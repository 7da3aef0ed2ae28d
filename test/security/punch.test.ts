// A hostile edge's CONNECT names another host as its LAN address: the dialler's link there is refused unless it answers KEY as the edge.

import { afterEach, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { type ProtocolServer, serve } from "../../src/protocol/server";
import { edgeIdOf, formatRelayed } from "../../src/protocol/relayed-address";
import { punchVia } from "../../src/node/relay/punch-dial";
import { opTable, serveOp } from "../../src/wire/op";
import { RELAY } from "../../src/wire/relay";
import { RING } from "../../src/wire/ring";
import { loopbackAddress } from "../helpers/wait";

const servers: ProtocolServer[] = [];
const clients: ProtocolClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
});

/** A node at `ip` that answers KEY with `publicKey` (and nothing else a punch needs). */
async function keyHolder(ip: string, publicKey: string): Promise<string> {
  const server = await serve({ listen: { hostname: ip, port: 0 }, ops: opTable(serveOp(RING.KEY, () => publicKey)) });
  servers.push(server);
  return `${ip}:${server.port}`;
}

/** A hostile edge's end of a circuit: it answers CONNECT with the same observed IP as the dialler's and `lanAddress` as its own. */
async function hostileEdge(ip: string, observedIp: string, lanAddress: string): Promise<ProtocolClient> {
  const server = await serve({
    listen: { hostname: ip, port: 0 },
    ops: opTable(serveOp(RELAY.PUNCH, (line) => (line === "SYNC" ? null : `CONNECT ${observedIp}:4000 ${lanAddress}`))),
  });
  servers.push(server);
  const circuit = await connect({ hostname: ip, port: server.port });
  clients.push(circuit);
  return circuit;
}

test("a hostile edge naming another p2p host as its LAN address gets the dialler's link refused (KEY not the edge's) and the dialler stays on the relay", async () => {
  const [dialler, edgeIp, thirdIp] = [loopbackAddress(), loopbackAddress(), loopbackAddress()];
  const edgeKey = randomBytes(32).toString("hex");
  const third = await keyHolder(thirdIp, randomBytes(32).toString("hex"));
  const sameNat = "127.0.0.250";
  const circuit = await hostileEdge(edgeIp, sameNat, third);
  const relay = `${loopbackAddress()}:7000`;
  const said: string[] = [];
  const dial = punchVia({ observe: async () => ({ ip: sameNat, randomPorts: false }), localAddress: dialler, lanIp: dialler, info: (message) => said.push(message) });
  const link = await dial(circuit, { relay, edgeId: edgeIdOf(edgeKey) }, formatRelayed(relay, edgeIdOf(edgeKey)));
  expect(link).toBeNull();
  expect(said.join("\n")).toContain("hole punch to");
  expect(said.join("\n")).toContain("KEY");
});

test("an edge whose LAN address answers KEY with the edge's own key gets the dialler's punched link", async () => {
  const [dialler, edgeIp] = [loopbackAddress(), loopbackAddress()];
  const edgeKey = randomBytes(32).toString("hex");
  const lan = await keyHolder(edgeIp, edgeKey);
  const sameNat = "127.0.0.250";
  const circuit = await hostileEdge(edgeIp, sameNat, lan);
  const relay = `${loopbackAddress()}:7000`;
  const dial = punchVia({ observe: async () => ({ ip: sameNat, randomPorts: false }), localAddress: dialler, lanIp: dialler, info: () => {} });
  const link = await dial(circuit, { relay, edgeId: edgeIdOf(edgeKey) }, formatRelayed(relay, edgeIdOf(edgeKey)));
  expect(link).not.toBeNull();
  clients.push(link!.client);
  // A connection made straight to the edge's LAN address is a direct link, not a punched hole.
  expect(link!.path).toBe("direct");
  expect(RING.KEY.decodeReply((await link!.client.request(RING.KEY.name)).body, "the edge", undefined)).toBe(edgeKey);
});
