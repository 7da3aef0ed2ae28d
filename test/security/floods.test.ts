// Record floods and replays against real nodes: a flood by others never locks out an honest announcement, and a replayed entry never settles where nobody looks after its key.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { bigIntToId, idToBigInt, ringDistance, ringId, type RingId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import type { ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import { DEFAULT_SUCCESSORS } from "../../src/node/defaults";
import { MAX_MEMBERS_PER_KEY } from "../../src/node/ring/record-quota";
import { MAX_RECORDS_PER_MESSAGE } from "../../src/wire/records";
import { tempDir, waitFor } from "../helpers/wait";
import { fetchFile, hostileLink, share } from "./hostile";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
/** Enough batches to fill a node's whole store (100,000 records) with room to spare: a bound on the flood, not a target. */
const MAX_FLOOD_BATCHES_PER_NODE = 55;
const clients: ProtocolClient[] = [];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const text = (body: Uint8Array) => new TextDecoder().decode(body);

/** The `count` keys spread over the arc (from, to]: keys a node whose predecessor is `from` holds as primary. */
function keysIn(from: RingId, to: RingId, count: number, salt: number): RingId[] {
  const span = ringDistance(from, to);
  return Array.from({ length: count }, (_, index) => bigIntToId(idToBigInt(from) + 1n + ((span - 1n) * BigInt(index * 7919 + salt)) / BigInt(count * 7919 + 7919)));
}

/** Each node of the ring with its predecessor, in ring order. */
async function ringOrder(testnet: Testnet): Promise<{ node: TestnetNode; predecessor: RingId }[]> {
  const sorted = [...testnet.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
  return sorted.map((node, index) => ({ node, predecessor: sorted[(index - 1 + sorted.length) % sorted.length]!.id }));
}

/** Waits until every node's successor list holds the next DEFAULT_SUCCESSORS nodes of the ring (or all others), in order. */
async function waitForFullSuccessorLists(testnet: Testnet, timeoutMs: number): Promise<void> {
  const sorted = [...testnet.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
  const wanted = Math.min(DEFAULT_SUCCESSORS, sorted.length - 1);
  await waitFor("every successor list to be full", async () => {
    const statuses = await Promise.all(sorted.map((node) => testnet.status(node)));
    return statuses.every((status, index) =>
      Array.from({ length: wanted }, (_, step) => sorted[(index + 1 + step) % sorted.length]!.address).join() === status.successors.slice(0, wanted).map((peer) => peer.address).join());
  }, timeoutMs);
}

describe("record floods", () => {
  test("after a flood of unsigned and never-expiring records sent to every node, and of members under the names about to be shared, an honest upload and its download succeed on every node", async () => {
    net = await createTestnet({ nodes: 4, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    // Every name about to be shared crowded with as many plain members as a key may hold, at its primary.
    const nodes = net.nodes;
    for (let index = 0; index < nodes.length; index++) {
      const key = ringId(`name:honest-${index}.txt`);
      const primary = (JSON.parse(text(await net.control(nodes[0]!, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
      const now = Date.now();
      const crowd = Array.from({ length: MAX_MEMBERS_PER_KEY }, (_, at) => ({ key, member: `crowd-${at}`, value: "{}", updatedAt: now, expiresAt: now + 3_600_000, deleted: false }));
      const reply = await (await hostileLink(primary, clients)).send("PUT_RECORDS", [], { body: json(crowd) });
      expect(`${reply.status} ${decodeLines(reply.body)[0]}`).toBe(`200 ${MAX_MEMBERS_PER_KEY}`);
    }
    const outcomes: string[] = [];
    for (const { node, predecessor } of await ringOrder(net)) {
      const link = await hostileLink(node.address, clients);
      for (let batch = 0; batch < MAX_FLOOD_BATCHES_PER_NODE; batch++) {
        // Half the flood never expires; the rest expires as late as anything may. No member names a holder: none is signed.
        const forever = batch % 2 === 0;
        const now = Date.now();
        const entries = keysIn(predecessor, node.id, MAX_RECORDS_PER_MESSAGE, batch).map((key, index) => ({
          key, member: `flood-${batch}-${index}`, value: "x".repeat(32), updatedAt: now, expiresAt: forever ? null : now + 47 * 3_600_000, deleted: false,
        }));
        const reply = await link.send("PUT_RECORDS", [], { body: json(entries) });
        if (reply.status !== 200) outcomes.push(`${reply.status} ${decodeLines(reply.body)[0]}`);
      }
    }

    const ids: string[] = [];
    for (const [index, node] of nodes.entries()) {
      ids.push(await share(net, node, dir.path, `honest-${index}.txt`, new TextEncoder().encode(`honest file ${index}\n`)));
    }
    for (const [index, node] of nodes.entries()) {
      const name = `honest-${(index + 1) % nodes.length}.txt`;
      const fetched = await fetchFile(net, node, name, join(dir.path, `got-${index}.txt`));
      expect(fetched.id).toBe(ids[(index + 1) % nodes.length]!);
      expect(text(fetched.bytes)).toBe(`honest file ${(index + 1) % nodes.length}\n`);
    }
    // The flood was refused along the way (for its lifetime, then for the unsigned budget).
    expect(outcomes.some((line) => /never expires/.test(line))).toBe(true);
    expect(outcomes.some((line) => /unsigned records \(plain puts\), its limit/.test(line))).toBe(true);
  }, 240_000);
});

describe("replayed entries", () => {
  test("a signed entry replayed after unshare to nodes that are not its key's primary or replicas is refused 409, and list and search do not show it", async () => {
    net = await createTestnet({ nodes: 6, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    // A node refuses a key only on evidence: the nodes between the key and it, known from its successor list.
    await waitForFullSuccessorLists(net, 30_000);
    const order = await ringOrder(net);
    const uploader = order[0]!.node;
    await share(net, uploader, dir.path, "replayed.txt", new TextEncoder().encode("shared once, then withdrawn\n"));
    const key = ringId("name:replayed.txt");
    const primaryAddress = (JSON.parse(text(await net.control(uploader, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
    const primary = await hostileLink(primaryAddress, clients);
    const [captured] = JSON.parse(text((await primary.request("GET_RECORDS", [key])).body)) as RecordEntry[];
    expect(captured!.signature).toBeDefined();

    await net.control(uploader, "UNSHARE", ["replayed.txt"]);
    await waitFor("the withdrawal to reach the primary", async () => (JSON.parse(text((await primary.request("GET_RECORDS", [key])).body)) as RecordEntry[]).length === 0);

    // The key's primary and the two replicas after it hold the tombstone; the other three nodes never saw the key.
    const at = order.findIndex(({ node }) => node.address === primaryAddress);
    const strangers = [3, 4, 5].map((offset) => order[(at + offset) % order.length]!.node);
    for (const stranger of strangers) {
      const link = await hostileLink(stranger.address, clients);
      const reply = await link.send("PUT_RECORDS", [], { body: json([captured]) });
      expect(`${stranger.address}: ${reply.status} ${decodeLines(reply.body)[0]}`).toMatch(/: 409 .*neither the primary nor a replica/);
    }
    for (const node of net.nodes) {
      const listed = JSON.parse(text(await net.control(node, "LIST"))) as { name: string }[];
      expect(listed.map((file) => file.name)).not.toContain("replayed.txt");
      const found = JSON.parse(text(await net.control(node, "SEARCH", ["replayed"]))) as { name: string }[];
      expect(found.map((file) => file.name)).not.toContain("replayed.txt");
    }
  }, 120_000);
});
