// Finding the network again without the DNS: known peers on disk, several introducers, and two rings merging into one.

import type { Subprocess } from "bun";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nameKey } from "../../src/node/files/names";
import { KNOWN_PEERS_FILE } from "../../src/node/known-peers";
import type { RecordEntry } from "../../src/model/record";
import { connect } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import { runP2P } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const HEARTBEAT = ["--heartbeat", "1000"];

let net: Testnet | null = null;
const dir = tempDir();
afterEach(async () => {
  // A stopped process ignores SIGKILL until continued on some kernels' views of it: continue first.
  for (const node of net?.liveNodes() ?? []) node.process.kill("SIGCONT");
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const json = <T>(body: Uint8Array) => JSON.parse(new TextDecoder().decode(body)) as T;

async function dnsRequest(testnet: Testnet, op: string, args: string[] = []): Promise<string[]> {
  const [hostname, port] = testnet.dnsAddress.split(":") as [string, string];
  const client = await connect({ hostname, port: Number(port) });
  try {
    return decodeLines((await client.request(op, args)).body);
  } finally {
    client.close();
  }
}

async function findable(testnet: Testnet, reader: TestnetNode, name: string): Promise<boolean> {
  return json<RecordEntry[]>(await testnet.control(reader, "GET", [nameKey(name)])).length > 0;
}

describe("a node without a DNS to ask", () => {
  test("restarted while the DNS is down, it joins through the peers it saved in its data dir", async () => {
    let dns: Subprocess | null = null;
    net = await createTestnet({ nodes: 3, nodeArgs: FAST, onSpawn: (role, proc) => (role === "dns" ? (dns = proc) : undefined) });
    await net.waitForConsistentRing(30_000);
    const restarted = net.nodes[2]!;
    const knownPeersFile = join(net.home, restarted.ip, KNOWN_PEERS_FILE);
    const saved = () => (existsSync(knownPeersFile) ? JSON.parse(readFileSync(knownPeersFile, "utf8")).peers.map((peer: { address: string }) => peer.address) : []);
    await waitFor("both other peers saved", () => saved().length === 2, 15_000, 200);
    expect(saved().sort()).toEqual([net.nodes[0]!.address, net.nodes[1]!.address].sort());

    (dns as Subprocess | null)?.kill("SIGKILL");
    await (dns as Subprocess | null)?.exited;
    await net.stopNode(restarted, "SIGTERM");
    const back = await net.restartNode(restarted, { waitForJoin: false });
    await waitFor("the node to join without the DNS", () => / is in the ring/.test(back.log()), 10_000);
    expect(back.log()).toMatch(/did not answer .*trying the 2 peers this node knew/);
    expect(back.log()).not.toMatch(/starting a new ring/);
    await net.waitForConsistentRing(15_000);
  }, 60_000);

  test("after the DNS forgot every peer, a restarted node joins through the peers it knew instead of founding a second ring", async () => {
    // The DNS forgets a peer that stops heartbeating after its TTL (an outsider's LEAVE of a live peer is refused).
    net = await createTestnet({ nodes: 0, nodeArgs: FAST, dnsArgs: ["--ttl", "2"] });
    // These two register once and never again in this test: the DNS stays empty once they expire.
    const quiet = { args: ["--heartbeat", "3600000"] };
    for (let quietNodes = 0; quietNodes < 2; quietNodes++) await net.addNode(undefined, quiet);
    const restarted = await net.addNode();
    await net.waitForConsistentRing(15_000);
    await waitFor("known peers saved", () => existsSync(join(net!.home, restarted.ip, KNOWN_PEERS_FILE)), 10_000);
    await net.stopNode(restarted, "SIGTERM");
    await waitFor("the DNS to forget every peer", async () => (await dnsRequest(net!, "PEERS")).length === 0, 10_000, 200);
    const back = await net.restartNode(restarted);
    expect(back.log()).toMatch(/the DNS knows no other peer; trying the \d peers this node knew/);
    expect(back.log()).not.toMatch(/starting a new ring/);
    await net.waitForConsistentRing(15_000);
  }, 60_000);

  test("given two introducers with one of them down, it registers with the other; P2P_DNS takes the same list", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const subnet = net.dnsAddress.split(".").slice(0, 3).join(".");
    const down = `${subnet}.250:7494`; // nothing listens there
    const viaFlag = await net.addNode(undefined, { dns: `${down},${net.dnsAddress}` });
    const viaEnv = await net.addNode(undefined, { dns: null, env: { P2P_DNS: `${net.dnsAddress},${down}` } });
    await net.waitForConsistentRing(15_000);
    expect(viaFlag.log()).toMatch(new RegExp(`DNS at ${down} did not answer .*using the others`));
    expect(viaEnv.log()).toMatch(/joined the ring through/);
    expect(await dnsRequest(net, "PEERS")).toHaveLength(3);
    expect((await net.status(viaEnv)).dns).toBe(`${net.dnsAddress},${down}`);
  }, 60_000);

  test("after the DNS forgot every peer, the ring a new node founds merges with the old one, and old files are findable", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: [...FAST, ...HEARTBEAT], dnsArgs: ["--ttl", "2"] });
    await net.waitForConsistentRing(30_000);
    const path = join(dir.path, "before-the-split.txt");
    writeFileSync(path, "shared before the DNS forgot everyone\n");
    await net.control(net.nodes[0]!, "UPLOAD", [path]);
    // Frozen, the old ring cannot re-register before the newcomer asks the DNS.
    for (const node of net.nodes) node.process.kill("SIGSTOP");
    await waitFor("the DNS to forget the frozen peers", async () => (await dnsRequest(net!, "PEERS")).length === 0, 10_000, 200);
    const newcomer = await net.addNode();
    expect(newcomer.log()).toMatch(/starting a new ring/);
    for (const node of net.nodes) node.process.kill("SIGCONT");

    await net.waitForConsistentRing(30_000);
    expect(net.nodes.map((node) => node.log()).join("\n")).toMatch(/found another ring through .*; merging into it/);
    await waitFor("the old file to be findable from the newcomer", () => findable(net!, newcomer, "before-the-split.txt"), 10_000, 200);
  }, 90_000);

  test("a --dns list with an empty entry, a repeated address or too many addresses is refused in one line", async () => {
    const ip = loopbackAddress();
    const cases: [string, RegExp][] = [
      ["127.0.0.1:7494,,127.0.0.2", /--dns .*empty address between commas/],
      ["127.0.0.1:7494,127.0.0.1:7494", /--dns names 127\.0\.0\.1:7494 twice/],
      [Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 1}`).join(","), /--dns takes at most 8 addresses/],
    ];
    for (const [dns, message] of cases) {
      const result = await runP2P(["node", ip, "--dns", dns, "--data", join(dir.path, "refused")]);
      expect(result.code).toBe(2); // a usage error (src/cli/exit-codes.ts)
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

