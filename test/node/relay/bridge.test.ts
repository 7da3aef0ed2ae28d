// A dual-stack relay (`--also ::1`) through a real `p2p node` and raw wire requests: both addresses registered, BRIDGE between the families for its own edges only, no reversal across them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeLines } from "../../../src/protocol/frame";
import type { ProtocolClient } from "../../../src/protocol/client";
import { edgeIdOf } from "../../../src/protocol/relayed-address";
import { newReversalToken } from "../../../src/protocol/reversal";
import { nodeId } from "../../../src/model/id";
import { type Testnet, type TestnetNode, createTestnet } from "../../../src/testnet";
import { anyPublicKey, countingListener, hostileLink, reserveAt } from "../../security/hostile";
import { hasIpv6Loopback, loopbackAddress, waitFor } from "../../helpers/wait";

const FAST = ["--stabilize", "200", "--stabilize-max", "2000", "--rpc-timeout", "1000"];
const clients: ProtocolClient[] = [];
let net: Testnet | null = null;
let dual: TestnetNode | null = null;
/** The dual-stack node's IPv6 address: ::1 on its ring port (ring nodes of a testnet each have an IPv4 address of their own). */
let dualV6 = "";

const reserve = (address: string, key: string, from?: string) => reserveAt(address, key, clients, from);
const someKey = anyPublicKey;
const lines = (reply: { body: Uint8Array }) => decodeLines(reply.body);

describe.skipIf(!hasIpv6Loopback())("a dual-stack relay (skipped: this host has no IPv6 loopback)", () => {
  beforeAll(async () => {
    net = await createTestnet({ nodes: 2, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    dual = await net.addNode(undefined, { args: ["--also", "::1"] });
    dualV6 = `[::1]:${dual.address.split(":")[1]}`;
  }, 90_000);

  afterAll(async () => {
    for (const client of clients.splice(0)) client.close();
    await net?.close();
  });

  test("listens on its --also address too and registers it with the DNS under the id bound to it, while its ring address stays IPv4", async () => {
    expect((await net!.status(dual!)).address).toBe(dual!.address);
    const v6 = await hostileLink(dualV6, clients);
    expect(lines(await v6.request("PING"))).toEqual(["PONG"]);
    const dns = await hostileLink(net!.dnsAddress, clients);
    const rows = await waitFor("the DNS to list the IPv6 address", async () => {
      const listed = lines(await dns.request("PEERS"));
      return listed.some((line) => line.endsWith(",::1,7495")) ? listed : null;
    }, 20_000, 200);
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^\\d+,${nodeId(dualV6)},::1,7495$`)));
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^\\d+,${(await net!.status(dual!)).id},${dual!.ip},7495$`)));
  }, 30_000);

  test("an edge reserved over IPv6 is named by the relay's IPv4 ring address, and its BRIDGE becomes a pipe to an IPv4 member", async () => {
    const key = someKey();
    const edgeId = edgeIdOf(key);
    expect(await reserve(dualV6, key, "::1")).toBe(`RESERVED ${dual!.address}/${edgeId}`);
    const member = net!.nodes[0]!;
    const bridge = await hostileLink(dualV6, clients, "::1");
    expect(lines(await bridge.request("BRIDGE", [edgeId, member.address]))).toEqual(["bridge open"]);
    // The same connection now reaches the member, which sees it come from the relay's IPv4 address.
    const [observed] = lines(await bridge.request("OBSERVED"));
    expect(observed).toMatch(new RegExp(`^${dual!.ip.replaceAll(".", "\\.")}:\\d+$`));
  }, 30_000);

  test("refuses a BRIDGE for an edge it does not hold (404), from another IP (409), to the edge's own family (409), and to a port that is no p2p peer (503)", async () => {
    const key = someKey();
    const edgeId = edgeIdOf(key);
    const member = net!.nodes[1]!;
    const unknown = await hostileLink(dualV6, clients, "::1");
    await expect(unknown.request("BRIDGE", [edgeIdOf(someKey()), member.address])).rejects.toMatchObject({ code: "NOT_FOUND" });
    await reserve(dualV6, key, "::1");
    const stranger = await hostileLink(dual!.address, clients, loopbackAddress());
    await expect(stranger.request("BRIDGE", [edgeId, member.address])).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/from the address it reserved from/) });
    const sameFamily = await hostileLink(dualV6, clients, "::1");
    await expect(sameFamily.request("BRIDGE", [edgeId, dualV6])).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/own address family \(IPv6\): connect to it directly/) });
    const ssh = countingListener(loopbackAddress(), "ssh");
    try {
      const toSsh = await hostileLink(dualV6, clients, "::1");
      await expect(toSsh.request("BRIDGE", [edgeId, ssh.address], { timeoutMs: 20_000 })).rejects.toMatchObject({ code: "UNAVAILABLE", message: `${ssh.address} did not answer as a p2p peer; the relay opened no bridge` });
      expect(ssh.accepted()).toBe(1);
    } finally {
      ssh.stop();
    }
  }, 60_000);

  test("refuses to have an IPv6 edge dial an IPv4 caller back (409), so the caller takes a circuit at once", async () => {
    const key = someKey();
    const edgeId = edgeIdOf(key);
    await reserve(dualV6, key, "::1");
    const caller = await hostileLink(dual!.address, clients, loopbackAddress());
    await expect(caller.request("CONNECT_BACK", [edgeId, "7495", newReversalToken()])).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/reached this relay over IPv6 and cannot dial an IPv4 address back/),
    });
  }, 30_000);
});
