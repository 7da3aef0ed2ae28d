// Attacks on the introducer replayed against real `p2p dns` (and node) processes: an outsider cannot evict or replace a live peer.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { join } from "node:path";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type Testnet, createTestnet } from "../../src/testnet";
import { startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";
import { countingListener } from "./hostile";

const clients: ProtocolClient[] = [];
const listeners: TCPSocketListener[] = [];
const stops: Array<() => void> = [];
const dirs: Array<{ remove(): void }> = [];
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const listener of listeners.splice(0)) listener.stop(true);
  for (const stop of stops.splice(0)) stop();
  await net?.close();
  net = null;
  await stopAllProcesses();
});
afterAll(() => dirs.forEach((dir) => dir.remove()));

async function startDns() {
  const dir = tempDir();
  dirs.push(dir);
  const hostname = loopbackAddress();
  const proc = startP2P(["dns", "--host", hostname, "--port", "0", "--db", join(dir.path, "dns.db")]);
  const port = Number((await proc.waitForStderr(/listening on [\d.]+:(\d+)/))[1]);
  const client = await connect({ hostname, port });
  clients.push(client);
  /** A connection from `ip`, as a peer at that address makes its own JOIN. */
  const from = async (ip: string) => {
    const own = await connect({ hostname, port }, { localAddress: ip });
    clients.push(own);
    return own;
  };
  return { client, from, peers: async () => decodeLines((await client.request("PEERS", [])).body) };
}

/** A live "peer": it answers PING at a loopback address, as a p2p node does. */
function livePeer(): { ip: string; port: number; stop(): void } {
  const ip = loopbackAddress();
  const listener = countingListener(ip, "p2p");
  stops.push(listener.stop);
  return { ip, port: listener.port, stop: listener.stop };
}

describe("the introducer under attack", () => {
  test("an outsider's LEAVE or DELETE of a live peer is refused 409 and the peer stays listed", async () => {
    const dns = await startDns();
    const peer = livePeer();
    await (await dns.from(peer.ip)).request("JOIN", ["victim", peer.ip, String(peer.port)]);
    for (const op of ["LEAVE", "DELETE"]) {
      const reply = await dns.client.send(op, ["victim"]);
      expect(reply.status).toBe(409);
      expect(decodeLines(reply.body)[0]).toMatch(/still answers/);
    }
    expect(await dns.peers()).toEqual([`1,victim,${peer.ip},${peer.port}`]);
  }, 20_000);

  test("the original client's 3-argument JOIN and its DELETE of itself, sent from its own address, still work", async () => {
    const dns = await startDns();
    // This test connects from 127.0.0.1, so a peer registered at 127.0.0.1 is "itself" to the DNS.
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {}, open(socket) { socket.end(); } } });
    listeners.push(listener);
    const joined = await dns.client.request("JOIN", ["7", "127.0.0.1", String(listener.port)]);
    expect(decodeLines(joined.body)).toEqual([]);
    const deleted = await dns.client.request("DELETE", ["7"]);
    expect(decodeLines(deleted.body)).toEqual(["removed 7"]);
    expect(await dns.peers()).toEqual([]);
  }, 20_000);

  test("a JOIN that claims a live peer's address under another id is refused 409; a dead peer's address may be taken", async () => {
    const dns = await startDns();
    const peer = livePeer();
    await (await dns.from(peer.ip)).request("JOIN", ["victim", peer.ip, String(peer.port)]);
    const hijack = await dns.client.send("JOIN", ["attacker", peer.ip, String(peer.port)]);
    expect(hijack.status).toBe(409);
    expect(decodeLines(hijack.body)[0]).toMatch(/held by live peer victim/);
    const moved = await dns.client.send("JOIN", ["victim", loopbackAddress(), "9"]);
    expect(moved.status).toBe(409);
    expect(await dns.peers()).toEqual([`1,victim,${peer.ip},${peer.port}`]);
    peer.stop();
    // The DNS reuses a liveness answer for a few seconds (CHECK_CACHE_MS) rather than connect again each time.
    await waitFor("the dead peer's address to be free", async () => (await dns.client.send("JOIN", ["successor", peer.ip, String(peer.port)])).status === 200, 20_000, 500);
    expect(await dns.peers()).toEqual([`1,successor,${peer.ip},${peer.port}`]);
  }, 40_000);

  test("after an outsider sends LEAVE for every node, the DNS still lists them and a new node joins the existing ring", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: ["--stabilize", "200", "--rpc-timeout", "1000"] });
    await net.waitForConsistentRing(30_000);
    const [host, port] = net.dnsAddress.split(":");
    const outsider = await connect({ hostname: host!, port: Number(port) });
    clients.push(outsider);
    for (const node of net.nodes) expect((await outsider.send("LEAVE", [node.id])).status).toBe(409);
    expect(decodeLines((await outsider.request("PEERS", [])).body)).toHaveLength(3);
    const newcomer = await net.addNode();
    await net.waitForConsistentRing(30_000);
    const status = await net.status(newcomer);
    expect(status.successors.length).toBeGreaterThan(0);
    expect(status.successors[0]!.id).not.toBe(newcomer.id);
  }, 60_000);
});
