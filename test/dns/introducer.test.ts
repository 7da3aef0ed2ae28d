// The P2P DNS as users run it: a real `p2p dns` process with a temporary database, spoken to over real TCP.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";

const clients: ProtocolClient[] = [];
const dirs: Array<{ remove(): void }> = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await stopAllProcesses();
});
afterAll(() => dirs.forEach((dir) => dir.remove()));

/** Starts `p2p dns` on a fresh loopback address and a free port; returns how to reach it. */
async function startDns(options: { ttl?: number; dbPath?: string } = {}) {
  const dir = tempDir();
  dirs.push(dir);
  const hostname = loopbackAddress();
  const dbPath = options.dbPath ?? join(dir.path, "p2pdns.db");
  const args = ["dns", "--host", hostname, "--port", "0", "--db", dbPath];
  if (options.ttl !== undefined) args.push("--ttl", String(options.ttl));
  const proc = startP2P(args);
  const match = await proc.waitForStderr(/listening on [\d.]+:(\d+)/);
  const port = Number(match[1]);
  const open = async () => {
    const client = await connect({ hostname, port });
    clients.push(client);
    return client;
  };
  return { proc, hostname, port, dbPath, open };
}

const lines = async (client: ProtocolClient, op: string, args: string[] = []) => decodeLines((await client.request(op, args)).body);

describe("p2p dns", () => {
  test("JOIN answers with the other live peers in the original format", async () => {
    const dns = await startDns();
    const client = await dns.open();
    expect(await lines(client, "JOIN", ["123", "127.0.0.2"])).toEqual([]);
    expect(await lines(client, "JOIN", ["abc", "127.0.0.3", "7600"])).toEqual(["1,123,127.0.0.2,7495"]);
    const third = await lines(client, "JOIN", ["c-3", "127.0.0.4"]);
    expect(third.map((line) => line.replace(/^\d+,/, "")).sort()).toEqual(["123,127.0.0.2,7495", "abc,127.0.0.3,7600"]);
    expect(third.map((line) => line.split(",")[0]).sort()).toEqual(["1", "2"]);
  }, 20_000);

  test("a JOIN with 'also' registers a dual-stack member's other address: PEERS lists it, JOIN never hands it out", async () => {
    const dns = await startDns();
    const client = await dns.open();
    await client.request("JOIN", ["v4-a", "127.0.0.2"]);
    await client.request("JOIN", ["v6-a", "::1", "7601", "also"]);
    // It is no ring contact: a node joining through it would meet a member under another id.
    expect(await lines(client, "JOIN", ["v4-b", "127.0.0.3"])).toEqual(["1,v4-a,127.0.0.2,7495"]);
    expect((await lines(client, "JOIN", ["v6-b", "::1", "7602"])).map((line) => line.split(",")[1]).sort()).toEqual(["v4-a", "v4-b"]);
    expect((await lines(client, "PEERS")).map((line) => line.split(",")[1]).sort()).toEqual(["v4-a", "v4-b", "v6-a", "v6-b"]);
    await expect(client.request("JOIN", ["v6-c", "::1", "7603", "relay"])).rejects.toMatchObject({ code: "MALFORMED", message: expect.stringMatching(/fourth argument 'relay': expected 'also' or nothing/) });
  }, 20_000);

  test("JOIN hands out at most five peers, spread at random", async () => {
    const dns = await startDns();
    const client = await dns.open();
    for (let index = 0; index < 12; index++) await client.request("JOIN", [`peer${index}`, `127.0.1.${index + 2}`]);
    const seen = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const reply = await lines(client, "JOIN", ["newcomer", "127.0.2.2"]);
      expect(reply).toHaveLength(5);
      expect(reply.some((line) => line.includes("newcomer"))).toBe(false);
      reply.forEach((line) => seen.add(line.split(",")[1]!));
    }
    expect(seen.size).toBeGreaterThan(5);
  }, 20_000);

  test("PEERS lists every live peer and LEAVE or DELETE removes one that no longer answers", async () => {
    const dns = await startDns();
    const client = await dns.open();
    // Nothing listens at these ports, so the DNS's connect-back finds the peers gone.
    await client.request("JOIN", ["a", "127.0.0.2", "9"]);
    await client.request("JOIN", ["b", "127.0.0.3", "9"]);
    await client.request("JOIN", ["c", "127.0.0.4", "9"]);
    expect(await lines(client, "PEERS")).toEqual(["1,a,127.0.0.2,9", "2,b,127.0.0.3,9", "3,c,127.0.0.4,9"]);
    await client.request("LEAVE", ["b"]);
    await client.request("DELETE", ["c"]);
    expect(await lines(client, "PEERS")).toEqual(["1,a,127.0.0.2,9"]);
    const missing = await client.send("LEAVE", ["b"]);
    expect(missing.status).toBe(404);
  }, 20_000);

  test("a peer re-joining from the same address under a new id replaces its old entry once nothing answers there", async () => {
    const dns = await startDns();
    const client = await dns.open();
    await client.request("JOIN", ["old", "127.0.0.2", "9"]);
    await client.request("JOIN", ["new", "127.0.0.2", "9"]);
    expect(await lines(client, "PEERS")).toEqual(["1,new,127.0.0.2,9"]);
  }, 20_000);

  test("a peer that stops heartbeating expires after the TTL while a heartbeating one stays", async () => {
    const dns = await startDns({ ttl: 1 });
    const client = await dns.open();
    await client.request("JOIN", ["quiet", "127.0.0.2"]);
    await client.request("JOIN", ["alive", "127.0.0.3"]);
    await waitFor(
      "the quiet peer to expire",
      async () => {
        await client.request("JOIN", ["alive", "127.0.0.3"]);
        const peers = await lines(client, "PEERS");
        return peers.length === 1 && peers[0] === "1,alive,127.0.0.3,7495";
      },
      8_000,
      200,
    );
  }, 20_000);

  test("a restart with the same database keeps the peers", async () => {
    const first = await startDns();
    const client = await first.open();
    await client.request("JOIN", ["kept", "127.0.0.2"]);
    await first.proc.stop("SIGTERM");
    const second = await startDns({ dbPath: first.dbPath });
    expect(await lines(await second.open(), "PEERS")).toEqual(["1,kept,127.0.0.2,7495"]);
  }, 20_000);

  test("200 concurrent JOINs are all answered", async () => {
    const dns = await startDns();
    const joins = Array.from({ length: 200 }, async (_, index) => {
      const client = await dns.open();
      const reply = await client.request("JOIN", [`n${index}`, `127.0.${Math.floor(index / 250) + 3}.${(index % 250) + 2}`]);
      client.close();
      return reply.status;
    });
    expect(await Promise.all(joins)).toEqual(Array(200).fill(200));
    expect(await lines(await dns.open(), "PEERS")).toHaveLength(200);
  }, 30_000);

  test("bad arguments are answered 422 with what is wrong", async () => {
    const dns = await startDns();
    const client = await dns.open();
    const cases: Array<[string[], RegExp]> = [
      [["JOIN", "bad id!", "127.0.0.2"], /invalid peer id/],
      [["JOIN", "x".repeat(65), "127.0.0.2"], /invalid peer id/],
      [["JOIN", "p", "127.0.0.999"], /invalid IP address/],
      [["JOIN", "p", "0.0.0.0"], /not an address a peer can be reached at/],
      [["JOIN", "p", "127.0.0.2", "70000"], /invalid port/],
      [["JOIN", "p"], /usage: JOIN <peer_id> <ip-addr> \[<port> \[also\]\]/],
    ];
    for (const [[op, ...args], message] of cases) {
      const reply = await client.send(op!, args);
      expect(reply.status).toBe(422);
      expect(decodeLines(reply.body)[0]).toMatch(message);
    }
    expect((await client.send("TELEPORT", [])).status).toBe(400);
  }, 20_000);

  test("garbage and oversized input get 422 while another client is served", async () => {
    const dns = await startDns();
    const good = await dns.open();
    const garbage = await dns.open();
    const oversized = await dns.open();
    const noise = new Uint8Array(4096).map((_, index) => (index * 7919) % 256);
    garbage.sendRaw(noise);
    const big = oversized.send("JOIN", ["p", "127.0.0.2", "x".repeat(20_000)]);
    expect((await good.request("JOIN", ["good", "127.0.0.2"])).status).toBe(200);
    expect((await big).status).toBe(422);
    await waitFor("the garbage connection to be closed", () => garbage.isClosed);
    expect(await lines(good, "PEERS")).toEqual(["1,good,127.0.0.2,7495"]);
    expect(dns.proc.proc.exitCode).toBeNull();
  }, 20_000);

  test("a DNS asked to listen on a port in use says so and exits 4 (in conflict)", async () => {
    const dns = await startDns();
    const dir = tempDir();
    dirs.push(dir);
    const clash = startP2P(["dns", "--host", dns.hostname, "--port", String(dns.port), "--db", join(dir.path, "x.db")]);
    expect(await clash.proc.exited).toBe(4);
    expect(clash.stderr()).toMatch(/already in use/);
    expect(clash.stderr()).not.toMatch(/at .*\.ts:\d+/);
  }, 20_000);

  test("an invalid flag is one clear error, not a stack trace", async () => {
    const bad = startP2P(["dns", "--port", "seventy"]);
    expect(await bad.proc.exited).toBe(2);
    expect(bad.stderr()).toMatch(/invalid --port 'seventy'/);
  }, 20_000);
});
