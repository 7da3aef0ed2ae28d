// The private network's secure link over real sockets: keyed peers talk, outsiders get cut off without a byte.

import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { randomBytes } from "node:crypto";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { isP2PError } from "../../src/protocol/errors";
import { decodeLines } from "../../src/protocol/frame";
import { MAX_RECORD_BYTES } from "../../src/protocol/limits";
import { PREAMBLE, SecureLink } from "../../src/protocol/secure-link";
import { type OpTable, type ProtocolServer, serve } from "../../src/protocol/server";
import { loopbackAddress, waitFor } from "../helpers/wait";

const opened: Array<ProtocolServer | ProtocolClient | TCPSocketListener<unknown>> = [];

afterEach(async () => {
  for (const thing of opened.splice(0)) {
    if ("port" in thing && "stop" in thing && "connectionCount" in thing) await thing.stop();
    else if ("close" in thing) thing.close();
    else thing.stop(true);
  }
});

const ops: OpTable = {
  ECHO: { usage: "ECHO <text>", minArgs: 1, maxArgs: 1, handle: ({ args }) => ({ lines: [args[0]!] }) },
  BLOB: { usage: "BLOB <bytes>", minArgs: 1, maxArgs: 1, handle: ({ args }) => ({ body: pattern(Number(args[0])) }) },
  SUM: { usage: "SUM <length>", minArgs: 0, maxArgs: 0, body: true, handle: ({ body }) => ({ lines: [String(body.length), String(checksum(body))] }) },
};

const key = new Uint8Array(randomBytes(32));

async function start(networkKey: Uint8Array | undefined) {
  const hostname = loopbackAddress();
  const warnings: string[] = [];
  const server = await serve({ listen: { hostname, port: 0 }, ops, networkKey, warn: (line) => warnings.push(line) });
  opened.push(server);
  const open = async (clientKey: Uint8Array | undefined, connectTimeoutMs?: number) => {
    const client = await connect({ hostname, port: server.port }, { networkKey: clientKey, connectTimeoutMs });
    opened.push(client);
    return client;
  };
  return { server, hostname, warnings, open };
}

/** Sends `bytes` on a raw socket and collects whatever comes back until the peer closes (or the deadline). */
async function rawExchange(hostname: string, port: number, bytes: Uint8Array): Promise<{ received: number; closed: boolean }> {
  let received = 0;
  let closed = false;
  const socket = await Bun.connect({
    hostname,
    port,
    socket: {
      data(_socket: Socket, chunk: Uint8Array) {
        received += chunk.length;
      },
      close() {
        closed = true;
      },
    },
  });
  socket.write(bytes);
  await waitFor("the keyed server to close the connection", () => closed, 5_000, 10).catch(() => {});
  socket.terminate();
  return { received, closed };
}

describe("a private-network link (--key)", () => {
  test("keyed peers exchange requests and multi-record bodies both ways, intact", async () => {
    const { open } = await start(key);
    const client = await open(key);
    for (let index = 0; index < 20; index++) {
      expect(decodeLines((await client.request("ECHO", [`hello ${index}`])).body)).toEqual([`hello ${index}`]);
    }
    // Sizes around the record limit and a chunk-sized body: records split and join at every boundary.
    for (const size of [MAX_RECORD_BYTES - 16, MAX_RECORD_BYTES, 3 * 1024 * 1024 + 7]) {
      const down = await client.request("BLOB", [String(size)], { timeoutMs: 20_000 });
      expect(down.body.length).toBe(size);
      expect(checksum(down.body)).toBe(checksum(pattern(size)));
      const up = await client.request("SUM", [], { body: pattern(size), timeoutMs: 20_000 });
      expect(decodeLines(up.body)).toEqual([String(size), String(checksum(pattern(size)))]);
    }
  });

  test("a peer with another key is refused at the handshake and the server logs one line", async () => {
    const { open, warnings } = await start(key);
    const error = await open(new Uint8Array(randomBytes(32))).catch((caught) => caught);
    expect(isP2PError(error, "REFUSED")).toBe(true);
    expect(error.message).toContain("does not use this network's key");
    await waitFor("the refusal warning", () => warnings.length > 0, 2_000, 10);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^refused 127\.\d+\.\d+\.\d+:\d+: it does not use this network's key \(--key\)$/);
  });

  test("a clear-text client gets no reply at all, only a closed connection", async () => {
    const { server, hostname, warnings } = await start(key);
    const { received, closed } = await rawExchange(hostname, server.port, new TextEncoder().encode("PING\r\nGET_RECORDS 0 1\r\n"));
    expect(closed).toBe(true);
    expect(received).toBe(0);
    expect(warnings).toEqual([expect.stringMatching(/^refused .*: it does not use this network's key \(--key\)$/)]);
  });

  test("a keyed client reaching an open server fails at once with a clear error instead of hanging", async () => {
    const { open } = await start(undefined);
    const began = performance.now();
    const error = await open(key).catch((caught) => caught);
    expect(isP2PError(error, "REFUSED")).toBe(true);
    expect(error.message).toContain("does not use this network's key");
    // The open server answers the hello's newline with a clear-text error line: no timeout is involved.
    expect(performance.now() - began).toBeLessThan(4_000);
  });

  test("a peer that never answers the handshake is given up after the connect timeout", async () => {
    const hostname = loopbackAddress();
    const silent = Bun.listen({ hostname, port: 0, socket: { data() {} } });
    opened.push(silent);
    const error = await connect({ hostname, port: silent.port }, { networkKey: key, connectTimeoutMs: 300 }).catch((caught) => caught);
    expect(isP2PError(error, "TIMEOUT")).toBe(true);
    expect(error.message).toContain("handshake");
  });

  test("a record changed on the way ends the link", async () => {
    // A man in the middle flips one bit in the server's first reply record.
    const { server, hostname } = await start(key);
    const relayHost = loopbackAddress();
    // Server to client: message 2 (2 + 96 bytes), the confirmation record (2 + 16), then the reply's record.
    const flipAt = 98 + 18 + 2 + 1;
    let forwarded = 0;
    type Relay = { upstream?: Socket; early: Uint8Array[] };
    const relay = Bun.listen<Relay>({
      hostname: relayHost,
      port: 0,
      socket: {
        async open(downstream) {
          downstream.data = { early: [] };
          const upstream = await Bun.connect({
            hostname,
            port: server.port,
            socket: {
              data(_socket, chunk: Uint8Array) {
                const copy = new Uint8Array(chunk);
                if (flipAt >= forwarded && flipAt < forwarded + copy.length) copy[flipAt - forwarded]! ^= 1;
                forwarded += copy.length;
                downstream.write(copy);
              },
              close() {
                downstream.end();
              },
            },
          });
          for (const bytes of downstream.data.early) upstream.write(bytes);
          downstream.data.upstream = upstream;
        },
        data(downstream, chunk: Uint8Array) {
          if (downstream.data.upstream) downstream.data.upstream.write(chunk);
          else downstream.data.early.push(new Uint8Array(chunk));
        },
        close(downstream) {
          downstream.data.upstream?.end();
        },
      },
    });
    opened.push(relay);
    const client = await connect({ hostname: relayHost, port: relay.port }, { networkKey: key });
    opened.push(client);
    const error = await client.request("ECHO", ["hello"]).catch((caught) => caught);
    expect(isP2PError(error)).toBe(true);
    expect(error.message).toContain("fails authentication");
  });
});

describe("a secure link fed hostile bytes", () => {
  test("random bytes, after a valid preamble or not, only ever end in REFUSED or MALFORMED, and the responder sends nothing but its handshake", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 2_000; round++) {
      const sent: Uint8Array[] = [];
      const initiator = round % 4 === 3;
      const link = new SecureLink({ key, initiator, peer: "127.0.0.9:1", handshakeTimeoutMs: 60_000 });
      link.start({ send: (bytes) => sent.push(bytes), fail: () => {} });
      const noise = new Uint8Array(randomBytes(1 + Math.floor(random() * 300)));
      // Half the responders get the real preamble and a plausible length, to reach the Noise messages themselves.
      if (!initiator && round % 2 === 0) noise.set(PREAMBLE.subarray(0, Math.min(PREAMBLE.length, noise.length)));
      if (!initiator && round % 2 === 0 && noise.length > PREAMBLE.length + 2) noise.set([0, 48], PREAMBLE.length);
      const before = sent.length;
      try {
        for (let offset = 0; offset < noise.length; ) {
          const size = 1 + Math.floor(random() * 40);
          expect(link.receive(noise.subarray(offset, offset + size))).toEqual([]);
          offset += size;
        }
      } catch (error) {
        expect(isP2PError(error, "REFUSED") || isP2PError(error, "MALFORMED")).toBe(true);
      } finally {
        link.close(null);
      }
      // Only the responder's message 2 may go out (to a real message 1); random bytes are never one.
      expect(sent.length).toBe(before);
    }
  });
});

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 31 + 7) & 0xff;
  return bytes;
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let index = 0; index < bytes.length; index++) sum = (sum * 33 + bytes[index]!) >>> 0;
  return sum;
}
