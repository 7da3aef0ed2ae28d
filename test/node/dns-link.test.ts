// A node speaks to each DNS over one kept connection: heartbeats open no new TCP connection, and a link the DNS
// dropped while it rested costs one retry, not a failed heartbeat.

import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { DnsClient } from "../../src/node/dns-client";
import { peerAt } from "../../src/model/peer";
import { loopbackAddress } from "../helpers/wait";

type FakeDns = { port: number; connections: number; requests: string[]; listener: TCPSocketListener<{ answered: number; buffered: string }> };
const listeners: FakeDns["listener"][] = [];
const clients: DnsClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const listener of listeners.splice(0)) listener.stop(true);
});

/**
 * A DNS speaking the wire format by hand: every request is answered `200 OK 0` (no peers), except that after
 * `answersPerLink` answers on one connection it hangs up on the next request without a word, as a DNS that
 * closed a resting link at the moment the request arrived.
 */
function fakeDns(hostname: string, answersPerLink = Infinity): FakeDns {
  const dns = { port: 0, connections: 0, requests: [] as string[] } as FakeDns;
  dns.listener = Bun.listen<{ answered: number; buffered: string }>({
    hostname,
    port: 0,
    socket: {
      open(socket) {
        dns.connections += 1;
        socket.data = { answered: 0, buffered: "" };
      },
      data(socket: Socket<{ answered: number; buffered: string }>, bytes) {
        socket.data.buffered += new TextDecoder().decode(bytes);
        let end: number;
        while ((end = socket.data.buffered.indexOf("\r\n")) >= 0) {
          const line = socket.data.buffered.slice(0, end);
          socket.data.buffered = socket.data.buffered.slice(end + 2);
          dns.requests.push(line);
          if (socket.data.answered >= answersPerLink) return void socket.end();
          socket.data.answered += 1;
          socket.write("200 OK 0\r\n");
        }
      },
    },
  });
  dns.port = dns.listener.port;
  listeners.push(dns.listener);
  return dns;
}

function dnsClient(dns: FakeDns, hostname: string): DnsClient {
  const client = new DnsClient({ hostname, port: dns.port }, { timeoutMs: 5_000, localAddress: hostname });
  clients.push(client);
  return client;
}

describe("the DNS link", () => {
  test("heartbeats to one DNS travel over one kept connection", async () => {
    const hostname = loopbackAddress();
    const dns = fakeDns(hostname);
    const client = dnsClient(dns, hostname);
    for (let beat = 0; beat < 4; beat += 1) await client.join(peerAt(`${hostname}:7495`));
    const self = peerAt(`${hostname}:7495`);
    expect(dns.requests).toEqual(Array(4).fill(`JOIN ${self.id} ${hostname} 7495`));
    expect(dns.connections).toBe(1);
  }, 20_000);

  test("a request on a link the DNS dropped is sent once more on a new connection and answered", async () => {
    const hostname = loopbackAddress();
    const dns = fakeDns(hostname, 1);
    const client = dnsClient(dns, hostname);
    await client.join(peerAt(`${hostname}:7495`));
    await client.join(peerAt(`${hostname}:7495`));
    // The second JOIN reached the first link, which hung up on it; the retry opened the second.
    expect(dns.requests).toHaveLength(3);
    expect(dns.connections).toBe(2);
  }, 20_000);

  test("a request that fails on a fresh connection is not repeated", async () => {
    const hostname = loopbackAddress();
    const dns = fakeDns(hostname, 0);
    const client = dnsClient(dns, hostname);
    await expect(client.join(peerAt(`${hostname}:7495`))).rejects.toMatchObject({ code: "CLOSED" });
    expect(dns.requests).toHaveLength(1);
    expect(dns.connections).toBe(1);
  }, 20_000);

  test("close ends the kept connection and a later request opens a new one", async () => {
    const hostname = loopbackAddress();
    const dns = fakeDns(hostname);
    const client = dnsClient(dns, hostname);
    await client.join(peerAt(`${hostname}:7495`));
    client.close();
    await client.join(peerAt(`${hostname}:7495`));
    expect(dns.connections).toBe(2);
  }, 20_000);
});
