// A relay's bounds through real `p2p node` processes and raw wire requests: reservations past --relay-limit, --relay-limit 0, circuits to unknown edges, a circuit's byte cap.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import type { ProtocolClient } from "../../../src/protocol/client";
import { type Testnet, createTestnet } from "../../../src/testnet";
import { anyPublicKey, countingListener, hostileLink, reserveAt, share } from "../../security/hostile";
import { newReversalToken } from "../../../src/protocol/reversal";
import { MAX_CIRCUITS_PER_EDGE } from "../../../src/node/relay/relay";
import { loopbackAddress, tempDir, waitFor } from "../../helpers/wait";

const FAST = ["--stabilize", "200", "--stabilize-max", "2000", "--rpc-timeout", "1000"];
const dir = tempDir();
const clients: ProtocolClient[] = [];
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const someKey = anyPublicKey;
const reserve = (address: string, key: string) => reserveAt(address, key, clients);

describe("a relay's limits", () => {
  test("a reservation past --relay-limit is refused with 503 and the reason, and one is taken again once a place frees", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: [...FAST, "--relay-limit", "2"] });
    const relay = net.nodes[0]!.address;
    expect(await reserve(relay, someKey())).toMatch(new RegExp(`^RESERVED ${relay.replaceAll(".", "\\.")}/[0-9a-f]{40}$`));
    await reserve(relay, someKey());
    const refused = reserve(relay, someKey());
    await expect(refused).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/reservations are full \(2 of 2, --relay-limit\)/) });
    clients[0]!.close();
    await waitFor("a freed place to be taken", () => reserve(relay, someKey()).catch(() => null), 10_000, 100);
  }, 60_000);

  test("a node started with --relay-limit 0 refuses every reservation, saying it relays for nobody", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: [...FAST, "--relay-limit", "0"] });
    await expect(reserve(net.nodes[0]!.address, someKey())).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/relays for nobody \(--relay-limit 0\)/) });
  }, 60_000);

  test("a circuit to an edge the relay does not know is 404, and a bad edge id 422", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const link = await hostileLink(net.nodes[0]!.address, clients);
    await expect(link.request("CIRCUIT", ["ab".repeat(20)])).rejects.toMatchObject({ code: "NOT_FOUND", message: expect.stringMatching(/no edge (ab){20} holds a reservation at this relay/) });
    await expect(link.request("CIRCUIT", ["not-an-id"])).rejects.toMatchObject({ code: "MALFORMED" });
    await expect(link.request("CIRCUIT_ACCEPT", ["0".repeat(32)])).rejects.toMatchObject({ code: "NOT_FOUND" });
  }, 60_000);

  test("a connection reversal sends the edge to the caller's own IP only, and one for an edge the relay does not know is 404", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const edge = await net.addNode(undefined, { args: ["--edge"] });
    const edgeId = (await net.status(edge)).id;
    const relay = net.nodes[0]!.address;
    // CONNECT_BACK names a port, never an IP: the edge dials the IP the relay sees the request come from.
    const caller = countingListener(loopbackAddress(), "nothing");
    try {
      const link = await hostileLink(relay, clients, caller.ip);
      await link.request("CONNECT_BACK", [edgeId, String(caller.port), newReversalToken()]);
      await waitFor("the edge to dial the caller back", () => caller.accepted() >= 1 || null, 10_000);
      await expect(link.request("CONNECT_BACK", ["ab".repeat(20), String(caller.port), newReversalToken()])).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      caller.stop();
    }
  }, 60_000);

  test("a second reservation for an edge id reserved already is refused 409", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const key = someKey();
    await reserve(net.nodes[0]!.address, key);
    await expect(reserve(net.nodes[0]!.address, key)).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/holds a reservation here already/) });
  }, 60_000);

  test(`circuits to one edge past MAX_CIRCUITS_PER_EDGE (${MAX_CIRCUITS_PER_EDGE}) are refused 503 with the reason, and one opens again once another closes`, async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const edge = await net.addNode(undefined, { args: ["--edge"] });
    const edgeId = (await net.status(edge)).id;
    const relay = net.nodes[0]!.address;
    const open: ProtocolClient[] = [];
    for (let i = 0; i < MAX_CIRCUITS_PER_EDGE; i++) {
      const link = await hostileLink(relay, clients);
      await link.request("CIRCUIT", [edgeId], { timeoutMs: 10_000 });
      open.push(link);
    }
    const over = await hostileLink(relay, clients);
    await expect(over.request("CIRCUIT", [edgeId], { timeoutMs: 10_000 })).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(new RegExp(`has ${MAX_CIRCUITS_PER_EDGE} circuits open already`)) });
    open[0]!.close();
    await waitFor("a closed circuit's place to free", async () => {
      const again = await hostileLink(relay, clients);
      return again.request("CIRCUIT", [edgeId], { timeoutMs: 10_000 }).then(() => true, () => null);
    }, 10_000, 200);
  }, 60_000);

  test("a circuit that carries more than its byte cap is cut, while one under it answers", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST, env: { P2P_RELAY_CIRCUIT_BYTES: String(64 * 1024) } });
    await net.waitForConsistentRing(30_000);
    const edge = await net.addNode(undefined, { args: ["--edge"] });
    const fileId = await share(net, edge, dir.path, "big.bin", randomBytes(1024 * 1024));
    const edgeId = (await net.status(edge)).id;
    const relay = net.nodes[0]!;

    const small = await hostileLink(relay.address, clients);
    await small.request("CIRCUIT", [edgeId], { timeoutMs: 10_000 });
    expect(new TextDecoder().decode((await small.request("PING", [])).body)).toContain("PONG");

    const big = await hostileLink(relay.address, clients);
    await big.request("CIRCUIT", [edgeId], { timeoutMs: 10_000 });
    await expect(big.request("GET_CHUNK", [fileId, "0"], { timeoutMs: 10_000 })).rejects.toMatchObject({ code: "CLOSED" });
    await waitFor("the relay to log the cut", () => /circuit cut: .*more than 65536 bytes one way/.test(relay.log()));
  }, 60_000);
});
