// Real `p2p dns` and `p2p node` processes on loopback forming a Chord ring: joins, leaves, crashes, records.

import { afterEach, describe, expect, test } from "bun:test";
import { decodeLines } from "../../src/protocol/frame";
import { ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { type Testnet, createTestnet } from "../../src/testnet";
import { runP2P } from "../helpers/processes";
import { waitFor } from "../helpers/wait";

let net: Testnet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const json = <T>(body: Uint8Array) => JSON.parse(new TextDecoder().decode(body)) as T;

async function putRecords(testnet: Testnet, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, index) => `record-${index}`);
  const writer = testnet.nodes[0]!;
  for (const name of names) await testnet.control(writer, "PUT", [name, "member", `value of ${name}`]);
  return names;
}

async function readRecord(testnet: Testnet, name: string): Promise<string[]> {
  const reader = testnet.liveNodes()[0]!;
  return json<RecordEntry[]>(await testnet.control(reader, "GET", [name])).map((entry) => entry.value);
}

describe("the ring over real processes", () => {
  test("16 nodes started together form one consistent ring", async () => {
    net = await createTestnet({ nodes: 16, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    // Consistent means true successors and predecessors; each list fills in from the next node's, a round per place,
    // and fingers are fixed one per maintenance round: both follow within a few rounds.
    const sorted = [...net.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
    const place = sorted.indexOf(net.nodes[0]!);
    const trueSuccessors = [1, 2, 3, 4].map((step) => sorted[(place + step) % sorted.length]!.address);
    await waitFor("the true four successors", async () => (await net!.status(net!.nodes[0]!)).successors.map((peer) => peer.address).join() === trueSuccessors.join(), 10_000);
    await waitFor("fingers beyond the successor", async () => (await net!.status(net!.nodes[0]!)).fingers.length > 1, 10_000);
  }, 60_000);

  test("a lookup from any node reaches the true successor and reports its hops", async () => {
    net = await createTestnet({ nodes: 8, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const sorted = [...net.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const text of ["alpha", "beta", "gamma", "delta"]) {
      const key = ringId(text);
      const owner = sorted.find((node) => node.id >= key) ?? sorted[0]!;
      const answer = json<{ successor: { address: string }; hops: number }>(await net.control(net.nodes[3]!, "LOOKUP", [text]));
      expect(answer.successor.address).toBe(owner.address);
      expect(answer.hops).toBeGreaterThanOrEqual(0);
      expect(answer.hops).toBeLessThanOrEqual(8);
    }
  }, 60_000);

  test("records survive two adjacent nodes killed with SIGKILL, and the ring repairs", async () => {
    net = await createTestnet({ nodes: 7, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const names = await putRecords(net, 30);
    const sorted = [...net.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
    // Two neighbours on the ring, neither of them the node the test reads through.
    const victims = [sorted[2]!, sorted[3]!].filter((node) => node !== net!.nodes[0]);
    for (const victim of victims) await net.stopNode(victim, "SIGKILL");
    await net.waitForConsistentRing(30_000);
    for (const name of names) expect(await readRecord(net, name)).toEqual([`value of ${name}`]);
  }, 90_000);

  test("a node that leaves hands its records over and the ring closes around it", async () => {
    net = await createTestnet({ nodes: 5, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const names = await putRecords(net, 20);
    const leaver = net.nodes[2]!;
    const leave = await runP2P(["client", "leave", "--node", leaver.ip], { env: net.env });
    expect(leave.code).toBe(0);
    expect(await leaver.process.exited).toBe(0);
    await net.waitForConsistentRing(15_000);
    for (const name of names) expect(await readRecord(net, name)).toEqual([`value of ${name}`]);
  }, 60_000);

  test("status --json prints the documented shape", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const node = net.nodes[0]!;
    // Consistent means true successor and predecessor; the rest of the list fills in at the next stabilize.
    await waitFor("a full successor list", async () => (await net!.status(node)).successors.length === 2, 10_000);
    const result = await runP2P(["client", "status", "--json", "--node", node.ip], { env: net.env });
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.id).toBe(node.id);
    expect(status.id).toMatch(/^[0-9a-f]{40}$/);
    expect(status.address).toBe(node.address);
    expect(status.predecessor.address).toMatch(/^127\.\d+\.\d+\.\d+:7495$/);
    expect(status.successors.map((peer: { address: string }) => peer.address)).toContain(status.predecessor.address);
    expect(Array.isArray(status.fingers)).toBe(true);
    expect(status.records).toEqual({ primary: expect.any(Number), replica: expect.any(Number) });
  }, 60_000);

  test("the client finds the only running node by itself and names the choices when there are several", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const alone = await runP2P(["client", "status"], { env: net.env });
    expect(alone.code).toBe(0);
    expect(alone.stdout).toContain(net.nodes[0]!.address);
    await net.addNode();
    const ambiguous = await runP2P(["client", "status"], { env: net.env });
    expect(ambiguous.code).toBe(4); // ambiguous (src/cli/exit-codes.ts)
    expect(ambiguous.stderr).toMatch(/2 nodes run under .*--node/);
  }, 60_000);
});

describe("a node and its DNS", () => {
  test("a node started before the DNS retries, says so, and joins once the DNS is up", async () => {
    net = await createTestnet({ nodes: 0 });
    const dnsIp = net.dnsAddress.split(":")[0]!;
    const subnet = dnsIp.split(".").slice(0, 3).join(".");
    // Point this node at a DNS address where nothing listens yet.
    const lateDns = `${subnet}.250:7494`;
    const { startP2P, stopAllProcesses } = await import("../helpers/processes");
    try {
      const node = startP2P(["node", `${subnet}.2`, "--dns", lateDns, ...FAST], { env: net.env });
      await node.waitForStderr(/DNS at .* did not answer.*retrying/, 10_000);
      const dns = startP2P(["dns", "--host", `${subnet}.250`, "--db", `${net.home}/late.db`], { env: net.env });
      await dns.waitForStderr(/listening on/);
      await node.waitForStderr(/is in the ring/, 20_000);
      expect(node.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await stopAllProcesses();
    }
  }, 60_000);

  test("a node that leaves is removed from the DNS at once", async () => {
    net = await createTestnet({ nodes: 2, nodeArgs: FAST });
    const { connect } = await import("../../src/protocol/client");
    const [ip, port] = net.dnsAddress.split(":");
    const dns = await connect({ hostname: ip!, port: Number(port) });
    try {
      expect(decodeLines((await dns.request("PEERS")).body)).toHaveLength(2);
      await net.stopNode(net.nodes[1]!, "SIGTERM");
      expect(decodeLines((await dns.request("PEERS")).body).map((line) => line.split(",")[1])).toEqual([net.nodes[0]!.id]);
    } finally {
      dns.close();
    }
  }, 60_000);
});
