// A relay states where it sees each side of a circuit, so a birthday punch's SYNs go only to an IP the relay saw, not one a peer announced.

import { afterAll, expect, test } from "bun:test";
import { decodeLines } from "../../../src/protocol/frame";
import type { ProtocolClient } from "../../../src/protocol/client";
import { type Testnet, createTestnet } from "../../../src/testnet";
import { anyPublicKey, hostileLink } from "../../security/hostile";
import { loopbackAddress, waitFor } from "../../helpers/wait";

const FAST = ["--stabilize", "200", "--stabilize-max", "2000", "--rpc-timeout", "1000"];
const clients: ProtocolClient[] = [];
let net: Testnet | null = null;

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  await net?.close();
});

test("a relay names the IP it sees the edge at in its CIRCUIT reply, and the dialler's in the INCOMING notice it pushes to the edge", async () => {
  net = await createTestnet({ nodes: 1, nodeArgs: FAST });
  await net.waitForConsistentRing(30_000);
  const relay = net.nodes[0]!.address;

  // The edge side: a reservation made from an address of the test's own, whose notices the test reads.
  const edgeIp = loopbackAddress();
  const notices: string[] = [];
  const reservation = await hostileLink(relay, clients, edgeIp);
  void reservation.request("RESERVE", [anyPublicKey()], { timeoutMs: 60_000, onProgress: (lines) => void notices.push(...lines) }).catch(() => {});
  const reserved = await waitFor("the RESERVED notice", () => notices.find((line) => line.startsWith("RESERVED ")));
  const edgeId = reserved.slice(reserved.lastIndexOf("/") + 1);

  // The dialler side, from another address: this edge never accepts, so the CIRCUIT itself ends in 503.
  const diallerIp = loopbackAddress();
  const dialler = await hostileLink(relay, clients, diallerIp);
  const circuit = dialler.request("CIRCUIT", [edgeId], { timeoutMs: 10_000 }).catch((error) => error);
  expect(await waitFor("the INCOMING notice", () => notices.find((line) => line.startsWith("INCOMING ")))).toMatch(new RegExp(`^INCOMING [0-9a-f]{32} ${diallerIp.replaceAll(".", "\\.")}$`));
  expect(await circuit).toMatchObject({ code: "UNAVAILABLE" });

  // A real edge accepts: the reply's second line is where the relay sees it (its own loopback address here).
  const edge = await net.addNode(undefined, { args: ["--edge"] });
  const realEdgeId = (await net.status(edge)).id;
  const opened = await (await hostileLink(relay, clients, diallerIp)).request("CIRCUIT", [realEdgeId], { timeoutMs: 10_000 });
  expect(decodeLines(opened.body)).toEqual(["circuit open", edge.ip]);
}, 60_000);
