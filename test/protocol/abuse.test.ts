// Links under slow, silent and hostile peers: idle time counts both directions, keepalives, bounded queues, fair slots.

import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import net from "node:net";
import { connect } from "../../src/protocol/client";
import { isP2PError } from "../../src/protocol/errors";
import { decodeLines } from "../../src/protocol/frame";
import { MAX_CONCURRENT_REQUESTS_PER_CONNECTION, MAX_QUEUED_REPLY_BYTES } from "../../src/protocol/limits";
import { type OpTable, type ServeOptions, serve } from "../../src/protocol/server";
import { loopbackAddress, waitFor } from "../helpers/wait";

const closers: Array<() => unknown> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const MIB = 1024 * 1024;
let blobsStarted = 0;
let parked = Promise.withResolvers<void>();

const ops: OpTable = {
  ECHO: { usage: "ECHO <text>", minArgs: 1, maxArgs: 1, handle: ({ args }) => ({ lines: [args[0]!] }) },
  PING: { usage: "PING", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["PONG"] }) },
  SLOW: {
    usage: "SLOW <ms> <text>",
    minArgs: 2,
    maxArgs: 2,
    handle: async ({ args }) => {
      await Bun.sleep(Number(args[0]));
      return { lines: [args[1]!] };
    },
  },
  CHATTY: {
    usage: "CHATTY <ms>",
    minArgs: 1,
    maxArgs: 1,
    handle: async ({ args, progress }) => {
      const until = Date.now() + Number(args[0]);
      while (Date.now() < until) {
        await Bun.sleep(200);
        progress(["still working"]);
      }
      return { lines: ["done"] };
    },
  },
  PARK: {
    usage: "PARK <length>",
    minArgs: 0,
    maxArgs: 0,
    body: true,
    handle: async ({ body }) => {
      await parked.promise;
      return { lines: [String(body.length)] };
    },
  },
  BLOB: {
    usage: "BLOB <index>",
    minArgs: 1,
    maxArgs: 1,
    handle: ({ args }) => {
      blobsStarted++;
      const body = new Uint8Array(MIB);
      body.fill(Number(args[0]) & 0xff);
      return { body };
    },
  },
};

async function start(options: Partial<ServeOptions> = {}) {
  const hostname = loopbackAddress();
  const server = await serve({ listen: { hostname, port: 0 }, ops, ...options });
  closers.push(() => server.stop());
  const open = async (connectOptions: { idleTimeoutSeconds?: number } = {}) => {
    const client = await connect({ hostname, port: server.port }, connectOptions);
    closers.push(() => client.close());
    return client;
  };
  return { server, hostname, open };
}

/** A raw TCP connection from a chosen loopback source address (Bun.connect always uses 127.0.0.1). */
function rawFrom(localAddress: string, hostname: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: hostname, port, localAddress });
    socket.on("error", () => {});
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
    closers.push(() => socket.destroy());
  });
}

describe("idle time and long requests", () => {
  test("a server's progress replies count as traffic, so a long request outlives the idle timeout", async () => {
    const { open } = await start({ idleTimeoutSeconds: 1 });
    const client = await open({ idleTimeoutSeconds: 1 });
    const reply = await client.request("CHATTY", ["5000"], { timeoutMs: 2_000 });
    expect(decodeLines(reply.body)).toEqual(["done"]);
  }, 15_000);

  test("a handler that sends nothing is covered by keepalives, and the caller sees no progress lines", async () => {
    const { open } = await start({ idleTimeoutSeconds: 1, keepaliveIntervalMs: 200 });
    const client = await open({ idleTimeoutSeconds: 1 });
    const progress: string[][] = [];
    const reply = await client.request("SLOW", ["2000", "late"], { timeoutMs: 700, onProgress: (lines) => progress.push(lines) });
    expect(decodeLines(reply.body)).toEqual(["late"]);
    expect(progress).toEqual([]);
  }, 15_000);

  test("an idle connection still closes after the server's idle timeout when the client's is longer", async () => {
    const { open, server } = await start({ idleTimeoutSeconds: 1 });
    const client = await open({ idleTimeoutSeconds: 30 });
    await client.request("ECHO", ["hi"]);
    await waitFor("the idle connection to be closed", () => client.isClosed && server.connectionCount === 0, 8_000);
  }, 15_000);
});

describe("a caller's reply timeout", () => {
  test("a pipelined request's timer starts only when the reply before it has arrived", async () => {
    const { open } = await start();
    const client = await open();
    const [first, second] = await Promise.all([
      client.request("SLOW", ["1200", "first"], { timeoutMs: 3_000 }),
      client.request("ECHO", ["second"], { timeoutMs: 400 }),
    ]);
    expect(decodeLines(first.body)).toEqual(["first"]);
    expect(decodeLines(second.body)).toEqual(["second"]);
  });

  test("a reply body trickling in slower than the timeout is progress, not silence", async () => {
    const hostname = loopbackAddress();
    const body = "0123456789abcdef";
    let timer: ReturnType<typeof setInterval> | undefined;
    const listener: TCPSocketListener<undefined> = Bun.listen({
      hostname,
      port: 0,
      socket: {
        data(socket: Socket<undefined>) {
          socket.write(`200 OK ${body.length}\r\n`);
          let sent = 0;
          timer = setInterval(() => {
            socket.write(body[sent++]!);
            if (sent === body.length) clearInterval(timer);
          }, 100);
        },
      },
    });
    closers.push(() => {
      clearInterval(timer);
      listener.stop(true);
    });
    const client = await connect({ hostname, port: listener.port });
    closers.push(() => client.close());
    const reply = await client.request("TRICKLE", [], { timeoutMs: 500 });
    expect(new TextDecoder().decode(reply.body)).toBe(body);
  });

  test("a reply that never comes still fails with TIMEOUT", async () => {
    const { open } = await start({ keepaliveIntervalMs: 60_000 });
    const client = await open();
    const error = await client.request("SLOW", ["5000", "x"], { timeoutMs: 300 }).catch((failure) => failure);
    expect(isP2PError(error, "TIMEOUT")).toBe(true);
  });
});

describe("a peer that pipelines and never reads", () => {
  test("costs a bounded number of running handlers, and is served in full once it reads", async () => {
    blobsStarted = 0;
    const { hostname, server } = await start();
    const received: Uint8Array[] = [];
    const socket = await Bun.connect({
      hostname,
      port: server.port,
      socket: { data: (_socket, chunk) => void received.push(chunk.slice()) },
    });
    closers.push(() => socket.terminate());
    socket.pause();
    const requests = Array.from({ length: 64 }, (_, index) => `BLOB ${index}\r\n`).join("");
    expect(socket.write(requests)).toBe(requests.length);
    // The kernel's socket buffers absorb some replies; everything past them must wait in the request queue.
    const kernelSlack = 24;
    const bound = MAX_QUEUED_REPLY_BYTES / MIB + MAX_CONCURRENT_REQUESTS_PER_CONNECTION + kernelSlack;
    await waitFor("some replies to be produced", () => blobsStarted >= MAX_CONCURRENT_REQUESTS_PER_CONNECTION, 5_000);
    await Bun.sleep(500);
    console.log(`handlers started while the peer did not read: ${blobsStarted} of 64`);
    expect(blobsStarted).toBeLessThanOrEqual(bound);
    expect(blobsStarted).toBeLessThan(64);

    socket.resume();
    const expected = 64 * (MIB + "200 OK 1048576\r\n".length);
    await waitFor("every reply to arrive", () => received.reduce((sum, chunk) => sum + chunk.length, 0) >= expected, 15_000);
    expect(blobsStarted).toBe(64);
    const all = Buffer.concat(received);
    for (let index = 0; index < 64; index++) {
      const at = index * (MIB + 16);
      expect(all.subarray(at, at + 16).toString()).toBe("200 OK 1048576\r\n");
      expect(all[at + 16 + MIB - 1]).toBe(index & 0xff);
    }
  }, 30_000);
});

describe("a peer that pipelines big bodies faster than they are handled", () => {
  test("is stopped from sending once a few MiB wait, and every request is still answered", async () => {
    parked = Promise.withResolvers<void>();
    const { hostname, server } = await start();
    let replies = "";
    let accepted = 0;
    const body = new Uint8Array(MIB).fill(0x61);
    const frames = Array.from({ length: 60 }, () => [new TextEncoder().encode(`PARK ${MIB}\r\n`), body]).flat();
    let next = 0;
    let offset = 0;
    const pushMore = (socket: Socket<undefined>) => {
      while (next < frames.length) {
        const part = frames[next]!.subarray(offset);
        const written = socket.write(part);
        accepted += Math.max(0, written);
        if (written < part.length) {
          offset += Math.max(0, written);
          return;
        }
        next++;
        offset = 0;
      }
    };
    const socket = await Bun.connect({
      hostname,
      port: server.port,
      socket: { data: (_socket, chunk) => void (replies += new TextDecoder().decode(chunk)), drain: pushMore },
    });
    closers.push(() => socket.terminate());
    pushMore(socket);
    // Whatever the kernel buffers hold, the server must not swallow all 60 MiB while two handlers are parked.
    let before = -1;
    await waitFor("the sender to be held back", async () => {
      const settled = accepted === before;
      before = accepted;
      await Bun.sleep(300);
      return settled && accepted < 60 * MIB;
    }, 10_000, 0);
    expect(accepted).toBeLessThan(40 * MIB);
    parked.resolve();
    await waitFor("all 60 replies", () => replies.split("200 OK").length - 1 === 60, 20_000);
  }, 30_000);
});

describe("connection slots", () => {
  test("a connection that sends no complete request is closed after the first-request deadline", async () => {
    const { hostname, server } = await start({ firstRequestTimeoutMs: 500 });
    const silent = await rawFrom(`${hostname.split(".").slice(0, 3).join(".")}.250`, hostname, server.port);
    silent.write("PI");
    let closedAt = 0;
    silent.on("close", () => (closedAt = Date.now()));
    const opened = Date.now();
    await waitFor("the silent connection to be closed", () => closedAt > 0, 5_000);
    expect(closedAt - opened).toBeLessThan(3_000);
  });

  test("a full server evicts a connection that never completed a request to serve a new one", async () => {
    const { hostname, server, open } = await start({ maxConnections: 8 });
    const subnet = hostname.split(".").slice(0, 3).join(".");
    const idle: net.Socket[] = [];
    for (let index = 0; index < 8; index++) idle.push(await rawFrom(`${subnet}.${100 + index}`, hostname, server.port));
    await waitFor("the server to be full", () => server.connectionCount === 8);
    const client = await open();
    expect(decodeLines((await client.request("PING")).body)).toEqual(["PONG"]);
    expect(server.connectionCount).toBe(8);
    await waitFor("the oldest idle connection to be evicted", () => idle[0]!.destroyed || idle[0]!.readableEnded);
  });

  test("one address past its connection cap is told 503 while other addresses are served", async () => {
    const { hostname, server, open } = await start({ maxConnectionsPerAddress: 3 });
    const subnet = hostname.split(".").slice(0, 3).join(".");
    const replies: string[] = [];
    for (let index = 0; index < 5; index++) {
      const socket = await rawFrom(`${subnet}.77`, hostname, server.port);
      socket.on("data", (chunk) => replies.push(chunk.toString()));
    }
    await waitFor("two connections to be refused", () => replies.filter((reply) => reply.startsWith("503 UNAVAILABLE")).length === 2);
    expect(replies.join("")).toContain("connections from");
    expect(server.connectionCount).toBe(3);
    const client = await open();
    expect(decodeLines((await client.request("PING")).body)).toEqual(["PONG"]);
  });
});
