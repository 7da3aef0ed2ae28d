// How a node learns, before a punch, whether its NAT keeps ports: the relay's OBSERVED on a connection from a port it chose.

import { afterEach, expect, test } from "bun:test";
import { type ProtocolServer, serve } from "../../../src/protocol/server";
import { observeThrough } from "../../../src/node/relay/punch-observe";
import { opTable, serveOp } from "../../../src/wire/op";
import { REACH } from "../../../src/wire/reach";
import { loopbackAddress } from "../../helpers/wait";

const servers: ProtocolServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

/** A relay answering OBSERVED with the caller's address, its port shifted by `shift` (what a port-randomising NAT in between would show). */
async function relay(shift: number): Promise<string> {
  const ip = loopbackAddress();
  const server = await serve({ listen: { hostname: ip, port: 0 }, ops: opTable(serveOp(REACH.OBSERVED, (_, request) => ({ ip: request.remoteAddress, port: ((request.remotePort + shift - 1) % 65535) + 1 }))) });
  servers.push(server);
  return `${ip}:${server.port}`;
}

test("a node whose relay sees the port it connected from (no NAT, or one that keeps ports) is not marked random-ports", async () => {
  const localAddress = loopbackAddress();
  expect(await observeThrough(await relay(0), { localAddress, timeoutMs: 3_000 })).toEqual({ ip: localAddress, randomPorts: false });
});

test("a node whose relay sees another port than the one it connected from (a symmetric NAT) is marked random-ports", async () => {
  const localAddress = loopbackAddress();
  expect(await observeThrough(await relay(1), { localAddress, timeoutMs: 3_000 })).toEqual({ ip: localAddress, randomPorts: true });
});
