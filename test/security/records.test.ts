// Poisoned announcements replayed against real nodes: unsigned, wrongly signed and future-dated entries are refused, and the real file still downloads.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadIdentity } from "../../src/node/identity";
import { ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import type { ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type ProtocolServer, serve } from "../../src/protocol/server";
import { type Testnet, createTestnet } from "../../src/testnet";
import { opTable, serveOp } from "../../src/wire/op";
import { RING } from "../../src/wire/ring";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";
import { fetchFile, hostileLink, share } from "./hostile";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;
const clients: ProtocolClient[] = [];
const servers: ProtocolServer[] = [];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const text = (body: Uint8Array) => new TextDecoder().decode(body);

describe("poisoned announcements", () => {
  test("forged entries and tombstones sent straight to a name's primary are refused, and the real file downloads with its real bytes", async () => {
    net = await createTestnet({ nodes: 4, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const [uploader, , , downloader] = net.nodes as [typeof net.nodes[0], unknown, unknown, typeof net.nodes[0]];
    const realBytes = new TextEncoder().encode("the real small file, as its uploader shared it\n");
    const realId = await share(net, uploader, dir.path, "small.txt", realBytes);
    const key = ringId("name:small.txt");
    const primaryAddress = (JSON.parse(text(await net.control(uploader, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
    const primary = await hostileLink(primaryAddress, clients);
    const [stored] = JSON.parse(text((await primary.request("GET_RECORDS", [key])).body)) as RecordEntry[];
    expect(stored!.member).toBe(`${realId}@${uploader.address}`);

    // An attacker with its own key pair, but no node at the address it claims.
    const attacker = loadIdentity(join(dir.path, "attacker"));
    const fakeId = "f".repeat(64);
    const fakeHolder = `${loopbackAddress()}:4242`;
    const now = Date.now();
    const fake = (member: string, extra: Partial<RecordEntry>): RecordEntry => ({
      key, member, value: JSON.stringify({ kind: "file", name: "small.txt", size: 51, fileId: fakeId, holder: fakeHolder }), updatedAt: now, expiresAt: now + 600_000, deleted: false, ...extra,
    });
    const attempts: Array<[string, RecordEntry, RegExp]> = [
      ["an unsigned fake entry", fake(`${fakeId}@${fakeHolder}`, {}), /not signed/],
      ["a fake entry for a holder that does not answer KEY", attacker.signEntry(fake(`${fakeId}@${fakeHolder}`, {})), /does not answer KEY/],
      ["the real holder's tombstone dated 10 years ahead", attacker.signEntry({ ...stored!, value: "", deleted: true, updatedAt: now + TEN_YEARS_MS, expiresAt: now + TEN_YEARS_MS + 1 }), /ahead of this node's clock/],
      ["the real holder's tombstone signed by someone else", attacker.signEntry({ ...stored!, value: "", deleted: true, updatedAt: now + 1_000, expiresAt: now + 600_000 }), /not signed by its holder/],
      ["the real entry re-dated without re-signing", { ...stored!, updatedAt: now + 1_000 }, /not signed by its holder/],
    ];
    for (const [what, entry, reason] of attempts) {
      const reply = await primary.send("PUT_RECORDS", [], { body: json([entry]) });
      expect(`${what}: ${reply.status}`).toBe(`${what}: 422`);
      expect(decodeLines(reply.body)[0]).toMatch(reason);
    }
    // The refusal for the date is in the receiver's log too, not only in the reply: a writer's wrong clock shows on both sides.
    const primaryNode = net.nodes.find((node) => node.address === primaryAddress)!;
    await waitFor("the primary to log the future-dated refusal", () => /ahead of this node's clock.*the writer's clock \(or this node's\) is off/.test(primaryNode.log()));
    const fetched = await fetchFile(net, downloader, "small.txt", join(dir.path, "small-1.txt"));
    expect(fetched.id).toBe(realId);
    expect(text(fetched.bytes)).toBe(text(realBytes));
  }, 60_000);

  test("an insider's validly signed entry under a popular name only adds a choice: the real name@id still downloads the real bytes", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const [uploader, , downloader] = net.nodes as [typeof net.nodes[0], unknown, typeof net.nodes[0]];
    const realBytes = new TextEncoder().encode("popular and real\n");
    const realId = await share(net, uploader, dir.path, "popular.txt", realBytes);
    const key = ringId("name:popular.txt");

    // The insider runs something at its own address that answers KEY, so its own signed entries are believed.
    const insider = loadIdentity(join(dir.path, "insider"));
    const server = await serve({ listen: { hostname: loopbackAddress(), port: 0 }, ops: opTable(serveOp(RING.KEY, () => insider.publicKey)) });
    servers.push(server);
    const fakeId = "e".repeat(64);
    const now = Date.now();
    const entry = insider.signEntry({
      key, member: `${fakeId}@${server.address}`, updatedAt: now, expiresAt: now + 600_000, deleted: false,
      value: JSON.stringify({ kind: "file", name: "popular.txt", size: 9, fileId: fakeId, holder: server.address }),
    });
    const primaryAddress = (JSON.parse(text(await net.control(uploader, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
    const primary = await hostileLink(primaryAddress, clients);
    expect((await primary.send("PUT_RECORDS", [], { body: json([entry]) })).status).toBe(200);

    const ambiguous = await fetchFile(net, downloader, "popular.txt", join(dir.path, "popular-1.txt")).catch((error: Error) => error);
    expect(String(ambiguous)).toMatch(/popular\.txt@/);
    const fetched = await fetchFile(net, downloader, `popular.txt@${realId.slice(0, 12)}`, join(dir.path, "popular-2.txt"));
    expect(fetched.id).toBe(realId);
    expect(text(fetched.bytes)).toBe(text(realBytes));
  }, 60_000);
});
