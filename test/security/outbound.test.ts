// Requests that try to make the DNS or a node connect out for an attacker (flood, scan, cut newcomers off), replayed against real processes.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadIdentity } from "../../src/node/identity";
import { ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { peerAt } from "../../src/model/peer";
import type { ProtocolClient, Response } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type Testnet, createTestnet } from "../../src/testnet";
import { RING } from "../../src/wire/ring";
import { startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";
import { type CountingListener, countingListener, hostileLink } from "./hostile";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
/** "A few": what one target may receive from one DNS or node in these attacks, whoever asks and however often. */
const A_FEW_CONNECTIONS = 6;
const clients: ProtocolClient[] = [];
const listeners: CountingListener[] = [];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const listener of listeners.splice(0)) listener.stop();
  await net?.close();
  net = null;
  await stopAllProcesses();
});
afterAll(() => dir.remove());

async function startDns(): Promise<string> {
  const hostname = loopbackAddress();
  const proc = startP2P(["dns", "--host", hostname, "--port", "0", "--db", join(dir.path, `dns-${Date.now()}-${Math.random()}.db`)]);
  return `${hostname}:${(await proc.waitForStderr(/listening on [\d.]+:(\d+)/))[1]}`;
}

function listen(ip: string, speaks: "p2p" | "ssh" | "nothing"): CountingListener {
  const listener = countingListener(ip, speaks);
  listeners.push(listener);
  return listener;
}

const accepted = (targets: CountingListener[]) => targets.reduce((sum, target) => sum + target.accepted(), 0);
const describeReply = (reply: Response) => `${reply.status} ${decodeLines(reply.body).join(" | ")}`;

describe("outbound connections on others' behalf", () => {
  test("a newcomer joins the existing ring while the DNS is flooded with JOINs of dead addresses", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    // 3,000 JOINs of dead addresses a round: 50 connections, 60 requests in flight on each (a connection's limit is 64).
    const links = await Promise.all(Array.from({ length: 50 }, () => hostileLink(net!.dnsAddress, clients)));
    const floodRound = (round: number) =>
      Promise.all(
        links.map((link, l) =>
          Promise.all(
            Array.from({ length: 60 }, (_, i) => {
              // Each a well-formed ring peer (its id is its address's), so a newcomer cannot skip it as junk.
              const dead = peerAt(`127.${200 + l}.${round % 4}.${i + 2}:9`);
              return link.send("JOIN", [dead.id, `127.${200 + l}.${round % 4}.${i + 2}`, "9"]);
            }),
          ),
        ),
      );
    await floodRound(0);
    let flooding = true;
    const flood = (async () => {
      // Refreshed while the newcomer joins, as the attack did (bounded: 40 rounds of 3,000).
      for (let round = 1; flooding && round <= 40; round++) await floodRound(round);
    })();
    try {
      const newcomer = await net.addNode();
      expect(newcomer.log()).toMatch(/joined the ring through/);
      expect(newcomer.log()).not.toMatch(/starting a new ring/);
      const status = await net.status(newcomer);
      expect(net.nodes.slice(0, 3).map((node) => node.id)).toContain(status.successors[0]!.id);
    } finally {
      flooding = false;
      await flood;
    }
  }, 90_000);

  test("repeated LEAVE of a peer registered at a victim's address makes the DNS connect there only a few times", async () => {
    const dnsAddress = await startDns();
    const victim = listen(loopbackAddress(), "p2p");
    const links = await Promise.all(Array.from({ length: 8 }, () => hostileLink(dnsAddress, clients)));
    await links[0]!.request("JOIN", ["fake", victim.ip, String(victim.port)]);
    let sent = 0;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && sent < 8_000) {
      const replies = await Promise.all(links.map((link) => link.send("LEAVE", ["fake"])));
      sent += replies.length;
      // Removed: register it again, so every LEAVE has a peer at the victim's address to ask about.
      if (replies.some((reply) => reply.status === 200 || reply.status === 404)) await links[0]!.request("JOIN", ["fake", victim.ip, String(victim.port)]);
    }
    expect(sent).toBeGreaterThan(100);
    expect(victim.accepted()).toBeLessThanOrEqual(A_FEW_CONNECTIONS);
  }, 30_000);

  test("JOIN then LEAVE of an address gets the same answers whether a port there listens or not", async () => {
    const dnsAddress = await startDns();
    const link = await hostileLink(dnsAddress, clients);
    const ip = loopbackAddress();
    const listening = listen(ip, "ssh");
    const closed = countingListener(ip, "nothing");
    closed.stop();
    const answers: string[] = [];
    for (const target of [listening, closed]) {
      const joined = await link.send("JOIN", ["scan", ip, String(target.port)]);
      // Give the DNS time to look at the port, if it does (bounded: at most 2 s).
      for (let wait = 0; wait < 40 && target === listening && listening.accepted() === 0; wait++) await Bun.sleep(50);
      const left = await link.send("LEAVE", ["scan"]);
      answers.push(`JOIN ${describeReply(joined)}; LEAVE ${describeReply(left)}`);
    }
    expect(answers[0]).toBe(answers[1]!);
  }, 30_000);

  test("PUT_RECORDS batches whose bogus entries name holders at one victim make the node connect to it only a few times", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const [node] = net.nodes;
    const victimIp = loopbackAddress();
    const victims = Array.from({ length: 50 }, () => listen(victimIp, "nothing"));
    const attacker = loadIdentity(join(dir.path, "attacker"));
    const now = Date.now();
    const entries: RecordEntry[] = Array.from({ length: 2_000 }, (_, i) => {
      const fileId = i.toString(16).padStart(64, "0");
      const holder = victims[i % victims.length]!.address;
      const value = JSON.stringify({ kind: "file", name: `f${i}.txt`, size: 1, fileId, holder });
      return attacker.signEntry({ key: ringId(`name:f${i % 20}.txt`), member: `${fileId}@${holder}`, value, updatedAt: now, expiresAt: now + 600_000, deleted: false });
    });
    const body = Buffer.from(JSON.stringify(entries));
    const links = await Promise.all(Array.from({ length: 6 }, () => hostileLink(node!.address, clients)));
    const replies = await Promise.all(links.map((link) => link.send("PUT_RECORDS", [], { body })));
    for (const reply of replies) expect(reply.status).not.toBe(200);
    expect(accepted(victims)).toBeLessThanOrEqual(A_FEW_CONNECTIONS);
  }, 60_000);

  test("LEAVING that hands over many successors at one victim makes the node connect to it only a few times", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const [node] = net.nodes;
    const victimIp = loopbackAddress();
    const victims = Array.from({ length: 64 }, () => listen(victimIp, "p2p"));
    const leaving = RING.LEAVING.encodeArgs({
      leaver: peerAt(`${loopbackAddress()}:9`),
      predecessor: null,
      successors: victims.map((victim) => peerAt(victim.address)),
    });
    const link = await hostileLink(node!.address, clients);
    for (let round = 0; round < 5; round++) {
      const reply = await link.send("LEAVING", leaving.args, { body: leaving.body });
      expect([200, 503]).toContain(reply.status);
    }
    await waitFor("the node's checks to settle", () => link.send("PING").then((reply) => reply.status === 200), 5_000);
    expect(accepted(victims)).toBeLessThanOrEqual(A_FEW_CONNECTIONS);
  }, 60_000);
});
