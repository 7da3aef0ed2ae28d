// A hostile relay against a real network: it cannot answer KEY for an edge node, so it cannot forge or withdraw the edge's signed announcements.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { loadIdentity } from "../../src/node/identity";
import { TcpTransport } from "../../src/node/tcp-transport";
import { ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import type { ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type ProtocolServer, serve } from "../../src/protocol/server";
import { type Testnet, createTestnet } from "../../src/testnet";
import { opTable, PING, serveOp } from "../../src/wire/op";
import { RELAY } from "../../src/wire/relay";
import { RING } from "../../src/wire/ring";
import { loopbackAddress, tempDir } from "../helpers/wait";
import { fetchFile, hostileLink, share } from "./hostile";

const FAST = ["--stabilize", "200", "--stabilize-max", "2000", "--rpc-timeout", "1000"];
const clients: ProtocolClient[] = [];
const servers: ProtocolServer[] = [];
const transports: TcpTransport[] = [];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
  for (const transport of transports.splice(0)) transport.close();
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const text = (body: Uint8Array) => new TextDecoder().decode(body);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("a hostile relay", () => {
  test("cannot answer KEY for an edge, so entries it signs under the edge's relayed address, and tombstones of the edge's own, are refused", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const edge = await net.addNode(undefined, { args: ["--edge"] });
    const realBytes = randomBytes(200_000);
    const realId = await share(net, edge, dir.path, "edge-notes.bin", realBytes);
    const edgeStatus = await net.status(edge);
    const edgeId = edgeStatus.id;

    // The relay the attacker runs: it opens any circuit, then answers as if it were the edge, with its own key.
    const attacker = loadIdentity(join(dir.path, "attacker"));
    const circuitOpen = serveOp(RELAY.CIRCUIT, () => undefined);
    const hostile = await serve({ listen: { hostname: loopbackAddress(), port: 0 }, ops: opTable(circuitOpen, serveOp(RING.KEY, () => attacker.publicKey), serveOp(PING, () => undefined)) });
    servers.push(hostile);
    const claimed = `${hostile.address}/${edgeId}`;

    // Asked through the transport, the relay's KEY answer does not hash to the edge id in the address.
    const transport = new TcpTransport({ rpcTimeoutMs: 2_000 });
    transports.push(transport);
    await expect(transport.send(claimed, RING.KEY, undefined)).rejects.toMatchObject({ code: "MALFORMED", message: expect.stringMatching(new RegExp(`whose edge id is [0-9a-f]{40}, not ${edgeId}`)) });

    const key = ringId("name:edge-notes.bin");
    const primaryAddress = (JSON.parse(text(await net.control(net.nodes[0]!, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
    const primary = await hostileLink(primaryAddress, clients);
    const [stored] = (JSON.parse(text((await primary.request("GET_RECORDS", [key])).body)) as RecordEntry[]).filter((entry) => entry.member.endsWith(edgeStatus.address));
    expect(stored!.member).toBe(`${realId}@${edgeStatus.address}`);
    const now = Date.now();
    const fakeId = "d".repeat(64);
    const forged = attacker.signEntry({
      key, member: `${fakeId}@${claimed}`, updatedAt: now, expiresAt: now + 600_000, deleted: false,
      value: JSON.stringify({ kind: "file", name: "edge-notes.bin", size: 9, fileId: fakeId, holder: claimed }),
    });
    const altered = attacker.signEntry({ ...stored!, member: `${realId}@${claimed}`, value: stored!.value.replace(edgeStatus.address, claimed), updatedAt: now + 1 });
    const withdrawn = attacker.signEntry({ ...stored!, value: "", deleted: true, updatedAt: now + 2, expiresAt: now + 600_000 });
    const attempts: Array<[string, RecordEntry, RegExp]> = [
      ["a file announced for the edge under the hostile relay's address", forged, /does not answer KEY/],
      ["the edge's announcement moved to the hostile relay's address", altered, /does not answer KEY/],
      ["a tombstone of the edge's announcement signed by someone else", withdrawn, /not signed by its holder/],
    ];
    for (const [what, entry, reason] of attempts) {
      const reply = await primary.send("PUT_RECORDS", [], { body: json([entry]) });
      expect(`${what}: ${reply.status}`).toBe(`${what}: 422`);
      expect(decodeLines(reply.body)[0]).toMatch(reason);
    }

    const downloader = net.nodes.find((node) => node !== edge && !edgeStatus.address.startsWith(`${node.address}/`))!;
    const fetched = await fetchFile(net, downloader, "edge-notes.bin", join(dir.path, "edge-notes-copy.bin"));
    expect(fetched.id).toBe(realId);
    expect(sha256(fetched.bytes)).toBe(sha256(realBytes));
  }, 120_000);
});
