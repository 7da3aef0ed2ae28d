// Spellings of one address replayed against real nodes and a real DNS: ::FFFF:a.b.c.d and its kin are that IPv4 address, so they mint no ids, no holders, no DNS rows.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadIdentity } from "../../src/node/identity";
import { IDS_PER_IP, inOpenInterval, nodeId, ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { type ProtocolServer, serve } from "../../src/protocol/server";
import { type Testnet, createTestnet } from "../../src/testnet";
import { opTable, serveOp } from "../../src/wire/op";
import { RING } from "../../src/wire/ring";
import { startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";
import { countingListener, hostileLink, ipv6Spellings, share } from "./hostile";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const clients: ProtocolClient[] = [];
const servers: ProtocolServer[] = [];
const listeners: { stop(closeActive?: boolean): void }[] = [];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
  for (const listener of listeners.splice(0)) listener.stop(true);
  await stopAllProcesses();
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const text = (body: Uint8Array) => new TextDecoder().decode(body);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
type Peer = { id: string; address: string };
type Status = { id: string; address: string; predecessor: Peer | null };

/** The 8 ids an IPv4 address may have, whatever the port. */
const idsOf = (ip: string) => new Set(Array.from({ length: IDS_PER_IP }, (_, port) => nodeId(`${ip}:${port + 1}`)));

describe("spellings of one address", () => {
  test("an UPDATE_PREDECESSOR naming ::FFFF:<ipv4> under the id of that text is refused 422, and the predecessor stays", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    // The attacker really listens at its one IPv4 address, so the receiver's PING of the named peer succeeds.
    const attackerIp = loopbackAddress();
    servers.push(await serve({ listen: { hostname: attackerIp, port: 7495 }, ops: opTable(serveOp(RING.PING, () => undefined)) }));
    // A spelling whose phantom id falls between a node's predecessor and the node: taken, it would own that arc.
    // The arcs cover the circle, so some node's arc holds one; that node is the target.
    const statuses = (await Promise.all(net.nodes.map((node) => net!.status(node)))) as unknown as Status[];
    const inArc = (status: Status) => ipv6Spellings(attackerIp).find((candidate) => inOpenInterval(ringId(`${candidate}/7`), status.predecessor!.id, status.id));
    const at = statuses.findIndex((status) => inArc(status) !== undefined);
    const target = net.nodes[at]!;
    const before = statuses[at]!;
    const spelling = inArc(before);
    expect(spelling).toBeDefined();

    const link = await hostileLink(target.address, clients);
    const reply = await link.send("UPDATE_PREDECESSOR", [ringId(`${spelling}/7`), spelling!, "7495"]);
    expect(reply.status).toBe(422);
    expect(decodeLines(reply.body)[0]).toContain(`is not the id of ${attackerIp}:7495`);
    const after = (await net.status(target)) as unknown as Status;
    expect(after.predecessor?.address).toBe(before.predecessor!.address);

    // Named with its real id, the spelling is the IPv4 peer itself: whatever the target makes of it, it is written as IPv4.
    await link.send("UPDATE_PREDECESSOR", [nodeId(`${attackerIp}:7495`), spelling!, "7495"]);
    const named = (await net.status(target)) as unknown as Status;
    expect([before.predecessor!.address, `${attackerIp}:7495`]).toContain(named.predecessor!.address);
  }, 60_000);

  test("p2p node processes started on IPv6 spellings of one IPv4 address get that address's ids, not one id per spelling", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: FAST });
    const ip = loopbackAddress();
    // Ports that are all 7 mod 8: one id between them on one IPv4 address; before, one id per spelling.
    const spellings = ipv6Spellings(ip).slice(0, 3);
    const ports = [7495, 7503, 7511];
    const sockets = spellings.map((spelling, index) => {
      const data = join(dir.path, `spelled-${index}`);
      startP2P(["node", spelling, "--port", String(ports[index]), "--dns", net!.dnsAddress, "--data", data, ...FAST], { env: { P2P_HOME: net!.home } });
      return join(data, "node.sock");
    });
    const statuses = await Promise.all(
      sockets.map((socket) =>
        waitFor(`STATUS from ${socket}`, async () => {
          const client = await connect({ unix: socket });
          try {
            return JSON.parse(text((await client.request("STATUS", [])).body)) as Status;
          } finally {
            client.close();
          }
        }, 30_000),
      ),
    );
    const allowed = idsOf(ip);
    statuses.forEach((status, index) => {
      expect(status.address).toBe(`${ip}:${ports[index]}`);
      expect(allowed.has(status.id)).toBe(true);
    });
    expect(new Set(statuses.map((status) => status.id)).size).toBe(1);

    // The DNS has rows for that address only in its IPv4 form, under its ids.
    const dns = await hostileLink(net.dnsAddress, clients);
    await waitFor("the first spelled node in the DNS", async () => decodeLines((await dns.request("PEERS", [])).body).some((row) => row.includes(ip)), 30_000);
    const rows = decodeLines((await dns.request("PEERS", [])).body).map((row) => row.split(","));
    const others = rows.filter(([, id]) => id !== net!.nodes[0]!.id);
    expect(others.length).toBeGreaterThan(0);
    for (const [, id, rowIp] of others) {
      expect(rowIp).toBe(ip);
      expect(allowed.has(id!)).toBe(true);
    }
  }, 90_000);

  test("a fake file announced under 40 spellings and 2 ports of one address shows 1 holder in list, and stores keep only its canonical entries", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const [uploader, lister] = net.nodes as [typeof net.nodes[0], typeof net.nodes[0]];
    const realId = await share(net, uploader, dir.path, "secret-plans.txt", new TextEncoder().encode("the real plans\n"));
    const key = ringId("name:secret-plans.txt");

    // One insider, one IPv4 address, listening on two ports so that its KEY is learnt at every spelling.
    const insider = loadIdentity(join(dir.path, "insider"));
    const attackerIp = loopbackAddress();
    for (const port of [7495, 7503]) {
      servers.push(await serve({ listen: { hostname: attackerIp, port }, ops: opTable(serveOp(RING.KEY, () => insider.publicKey), serveOp(RING.PING, () => undefined)) }));
    }
    const fakeId = "e".repeat(64);
    const now = Date.now();
    const entryFor = (holder: string): RecordEntry =>
      insider.signEntry({
        key, member: `${fakeId}@${holder}`, updatedAt: now, expiresAt: now + 600_000, deleted: false,
        value: JSON.stringify({ kind: "file", name: "secret-plans.txt", size: 15, fileId: fakeId, holder }),
      });
    const spelled = ipv6Spellings(attackerIp).slice(0, 40).map((spelling) => `${spelling}:7495`);
    expect(spelled.length).toBe(40);
    const holders = [...spelled, `${attackerIp}:7495`, `${attackerIp}:7503`];
    const primaryAddress = (JSON.parse(text(await net.control(uploader, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
    const primary = await hostileLink(primaryAddress, clients);
    expect((await primary.send("PUT_RECORDS", [], { body: json(holders.map(entryFor)) })).status).toBe(200);

    const stored = JSON.parse(text((await primary.request("GET_RECORDS", [key])).body)) as RecordEntry[];
    expect(stored.map((entry) => entry.member).sort()).toEqual([`${fakeId}@${attackerIp}:7495`, `${fakeId}@${attackerIp}:7503`, `${realId}@${uploader.address}`].sort());
    const listed = JSON.parse(text(await net.control(lister, "LIST"))) as Array<{ name: string; id: string; holders: number }>;
    const byId = new Map(listed.filter((file) => file.name === "secret-plans.txt").map((file) => [file.id, file.holders]));
    expect(byId.get(fakeId)).toBe(1);
    expect(byId.get(realId)).toBe(1);
  }, 60_000);

  test("the DNS keeps one row per address, in its IPv4 form, whatever spelling a JOIN uses", async () => {
    net = await createTestnet({ nodes: 0 });
    const ip = loopbackAddress();
    // A live peer (it answers PING) that registers from its own address, so the DNS counts it as confirmed.
    const peer = countingListener(ip, "p2p");
    listeners.push(peer);
    const port = String(peer.port);
    const [first, second, third] = ipv6Spellings(ip);
    const own = await hostileLink(net.dnsAddress, clients, ip);
    const dns = await hostileLink(net.dnsAddress, clients);
    expect((await own.send("JOIN", ["holder", ip, port])).status).toBe(200);
    // Other ids at other spellings of the same live address: the same address, so refused.
    for (const [id, spelling] of [["spelled-1", first!], ["spelled-2", second!]] as const) {
      const reply = await dns.send("JOIN", [id, spelling, port]);
      expect(`${spelling}: ${reply.status}`).toBe(`${spelling}: 409`);
      expect(decodeLines(reply.body)[0]).toContain(`${ip}:${port} is held by live peer holder`);
    }
    // The holder itself under a spelling is its heartbeat, stored as IPv4.
    expect((await own.send("JOIN", ["holder", third!, port])).status).toBe(200);
    expect(decodeLines((await dns.request("PEERS", [])).body)).toEqual([`1,holder,${ip},${port}`]);
  }, 30_000);
});
