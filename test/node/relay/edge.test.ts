// Edge nodes through real `p2p dns` and `p2p node` processes on loopback: an `--edge` node joins through a relay, owns no place on the ring, shares, downloads and searches; its relay dies and it finds another.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Testnet, type TestnetNode, createTestnet } from "../../../src/testnet";
import type { NodeStatus } from "../../../src/node/node";
import type { TransferEntry } from "../../../src/wire/control";
import { fetchFile, share } from "../../security/hostile";
import { NOTICE_SILENCE_TIMEOUT_MS } from "../../../src/node/relay/edge-link";
import { nameKey } from "../../../src/node/files/names";
import { tempDir, waitFor } from "../../helpers/wait";

const FAST = ["--stabilize", "200", "--stabilize-max", "2000", "--rpc-timeout", "1000"];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const text = (body: Uint8Array) => new TextDecoder().decode(body);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
/** The relay an edge's status names: `unreachable: relayed through <address>`. */
const relayOf = (status: NodeStatus) => /^unreachable: relayed through (\S+)$/.exec(status.reachability ?? "")?.[1] ?? null;

async function startWithEdge(members: number, key = false): Promise<{ net: Testnet; edge: TestnetNode }> {
  const started = (net = await createTestnet({ nodes: members, nodeArgs: FAST, key }));
  await started.waitForConsistentRing(30_000);
  const edge = await started.addNode(undefined, { args: ["--edge"] });
  return { net: started, edge };
}

describe("an edge node", () => {
  test("joins through a relay, appears in no member's tables, and its shared file downloads by reversal to a member and over a direct LAN connection to another edge, with the right bytes", async () => {
    const { net, edge } = await startWithEdge(3);
    const status = await net.status(edge);
    const relay = relayOf(status);
    expect(relay).not.toBeNull();
    expect(net.nodes.slice(0, 3).map((node) => node.address)).toContain(relay!);
    expect(status.address).toMatch(new RegExp(`^${relay!.replaceAll(".", "\\.")}/[0-9a-f]{40}$`));
    expect(status.successors).toEqual([]);

    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const id = await share(net, edge, dir.path, "from-edge.bin", bytes);
    const downloader = net.nodes.find((node) => node !== edge && node.address !== relay)!;
    const fetched = await fetchFile(net, downloader, "from-edge.bin", join(dir.path, "from-edge-copy.bin"));
    expect(fetched.id).toBe(id);
    expect(sha256(fetched.bytes)).toBe(sha256(bytes));
    const transfers = JSON.parse(text(await net.control(downloader, "TRANSFERS"))) as { downloads: TransferEntry[] };
    const entry = transfers.downloads.find((download) => download.id === id)!;
    // The member can be reached: the edge dialled it back (connection reversal), no byte through the relay.
    expect(entry.mode).toBe("reversed");
    expect(entry.sources).toEqual([status.address]);

    // Another edge cannot be dialled back either. The two start a hole punch over the circuit; both are seen at
    // their own IPs (no NAT between them, as two edges behind one firewall), so the dialler connects straight to
    // the edge's LAN address instead (a simultaneous open would never open here: the other kernel resets the
    // early SYN). No byte goes through the relay.
    const other = await net.addNode(undefined, { args: ["--edge"] });
    const lanCopy = await fetchFile(net, other, "from-edge.bin", join(dir.path, "from-edge-lan.bin"));
    expect(sha256(lanCopy.bytes)).toBe(sha256(bytes));
    const otherTransfers = JSON.parse(text(await net.control(other, "TRANSFERS"))) as { downloads: TransferEntry[] };
    expect(otherTransfers.downloads.find((download) => download.id === id)!.mode).toBe("direct");

    // No member lists the edge, or anything relayed, as a neighbour or finger.
    for (const member of net.nodes.filter((node) => node !== edge && node !== other)) {
      const { predecessor, successors, fingers } = await net.status(member);
      const named = [predecessor, ...successors, ...fingers].flatMap((peer) => (peer ? [peer.address] : []));
      expect(named.filter((address) => address.includes("/") || address.startsWith(`${edge.ip}:`))).toEqual([]);
    }
  }, 120_000);

  test("on a private network (--key) joins through a keyed relay, and its file downloads by reversal to a member and over a direct LAN link to another edge, each hop keyed", async () => {
    const { net, edge } = await startWithEdge(2, true);
    expect(relayOf(await net.status(edge))).not.toBeNull();
    const bytes = randomBytes(2 * 1024 * 1024 + 3);
    const id = await share(net, edge, dir.path, "keyed-edge.bin", bytes);
    const relay = relayOf(await net.status(edge))!;
    const member = net.nodes.find((node) => node !== edge && node.address !== relay)!;
    const fetched = await fetchFile(net, member, "keyed-edge.bin", join(dir.path, "keyed-edge-copy.bin"));
    expect(fetched.id).toBe(id);
    expect(sha256(fetched.bytes)).toBe(sha256(bytes));
    const modeAt = async (node: TestnetNode) => (JSON.parse(text(await net.control(node, "TRANSFERS"))) as { downloads: TransferEntry[] }).downloads.find((download) => download.id === id)!.mode;
    expect(await modeAt(member)).toBe("reversed");
    const other = await net.addNode(undefined, { args: ["--edge"] });
    const lanCopy = await fetchFile(net, other, "keyed-edge.bin", join(dir.path, "keyed-edge-lan.bin"));
    expect(sha256(lanCopy.bytes)).toBe(sha256(bytes));
    expect(await modeAt(other)).toBe("direct");
  }, 120_000);

  test("downloads a file a ring member holds, and finds files by search and list", async () => {
    const { net, edge } = await startWithEdge(3);
    const bytes = randomBytes(1024 * 1024 + 5);
    const holder = net.nodes[1]!;
    const id = await share(net, holder, dir.path, "member file.bin", bytes);
    const fetched = await fetchFile(net, edge, "member file.bin", join(dir.path, "member-copy.bin"));
    expect(fetched.id).toBe(id);
    expect(sha256(fetched.bytes)).toBe(sha256(bytes));
    const transfers = JSON.parse(text(await net.control(edge, "TRANSFERS"))) as { downloads: TransferEntry[] };
    expect(transfers.downloads.find((download) => download.id === id)?.mode).toBe("direct");
    const found = JSON.parse(text(await net.control(edge, "SEARCH", ["member"]))) as { name: string; id: string }[];
    expect(found.map((file) => file.id)).toEqual([id]);
    const listed = JSON.parse(text(await net.control(edge, "LIST"))) as { name: string }[];
    expect(listed.map((file) => file.name)).toContain("member file.bin");
  }, 120_000);

  test(`whose relay freezes (SIGSTOP) reserves with another member once it has been silent ${NOTICE_SILENCE_TIMEOUT_MS / 1000} s, without asking the frozen one again, and withdraws what it announced there`, async () => {
    const { net, edge } = await startWithEdge(3);
    await share(net, edge, dir.path, "frozen.bin", randomBytes(64 * 1024));
    const oldAddress = (await net.status(edge)).address;
    const relay = relayOf(await net.status(edge))!;
    const relayNode = net.nodes.find((node) => node.address === relay)!;
    // A frozen process's kernel still accepts connections, and the DNS still lists it: asked again, it would hold the
    // edge for another silence timeout. The testnet's close kills it with SIGKILL, which a stopped process takes.
    process.kill(relayNode.process.pid, "SIGSTOP");
    const started = performance.now();
    const next = await waitFor("the edge to reserve with another relay", async () => {
      const now = relayOf(await net.status(edge));
      return now !== null && now !== relay ? now : null;
    }, NOTICE_SILENCE_TIMEOUT_MS + 15_000, 200);
    expect(next).not.toBe(relay);
    expect(performance.now() - started).toBeLessThan(NOTICE_SILENCE_TIMEOUT_MS + 8_000);
    // Announced again under the new address, and withdrawn under the old one: no downloader is sent to the frozen relay.
    const reader = net.nodes.find((node) => node !== edge && node !== relayNode)!;
    const holders = async () => (JSON.parse(text(await net.control(reader, "GET", [nameKey("frozen.bin")]))) as { member: string }[]).map((entry) => entry.member.slice(entry.member.indexOf("@") + 1));
    const newAddress = (await net.status(edge)).address;
    await waitFor("the file's only holder to be the edge's new address", async () => (await holders()).join() === newAddress, 10_000, 200);
    expect(await holders()).not.toContain(oldAddress);
  }, 120_000);

  test("whose relay is killed reserves with another member within 30 s, and its file downloads again", async () => {
    const { net, edge } = await startWithEdge(3);
    const bytes = randomBytes(512 * 1024 + 3);
    await share(net, edge, dir.path, "survivor.bin", bytes);
    const relay = relayOf(await net.status(edge))!;
    const relayNode = net.nodes.find((node) => node.address === relay)!;
    await net.stopNode(relayNode, "SIGKILL");
    const started = performance.now();
    const next = await waitFor("the edge to reserve with another relay", async () => {
      const now = relayOf(await net.status(edge));
      return now !== null && now !== relay ? now : null;
    }, 30_000);
    expect(next).not.toBe(relay);
    expect(performance.now() - started).toBeLessThan(30_000);
    const downloader = net.nodes.find((node) => node !== edge && node !== relayNode)!;
    const fetched = await waitFor("the edge's file to download through its new relay", async () => {
      try {
        return await fetchFile(net, downloader, "survivor.bin", join(dir.path, `survivor-${Math.random()}.bin`));
      } catch {
        return null;
      }
    }, 30_000, 500);
    expect(sha256(fetched.bytes)).toBe(sha256(bytes));
  }, 120_000);
});
