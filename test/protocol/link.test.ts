// Server and client over real sockets: persistent connections, ordering, backpressure, limits and timeouts.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { isP2PError } from "../../src/protocol/errors";
import { decodeLines } from "../../src/protocol/frame";
import { type OpTable, type ProtocolServer, serve } from "../../src/protocol/server";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";

const opened: Array<ProtocolServer | ProtocolClient> = [];
const dirs: Array<{ remove(): void }> = [];

afterEach(async () => {
  for (const thing of opened.splice(0)) {
    if ("stop" in thing) await thing.stop();
    else thing.close();
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

const ops: OpTable = {
  ECHO: { usage: "ECHO <text>", minArgs: 1, maxArgs: 1, handle: ({ args }) => ({ lines: [args[0]!] }) },
  SLOW: {
    usage: "SLOW <ms> <text>",
    minArgs: 2,
    maxArgs: 2,
    handle: async ({ args }) => {
      await Bun.sleep(Number(args[0]));
      return { lines: [args[1]!] };
    },
  },
  BLOB: {
    usage: "BLOB <bytes>",
    minArgs: 1,
    maxArgs: 1,
    handle: ({ args }) => ({ body: pattern(Number(args[0])) }),
  },
  SUM: {
    usage: "SUM <length>",
    minArgs: 0,
    maxArgs: 0,
    body: true,
    handle: ({ body }) => ({ lines: [String(body.length), String(checksum(body))] }),
  },
  NEVER: { usage: "NEVER", minArgs: 0, maxArgs: 0, handle: () => new Promise(() => {}) },
  COUNT: {
    usage: "COUNT <n>",
    minArgs: 1,
    maxArgs: 1,
    handle: async ({ args, progress }) => {
      for (let step = 1; step <= Number(args[0]); step++) {
        await Bun.sleep(150);
        progress([`step ${step}`]);
      }
      return { lines: ["done"] };
    },
  },
};

async function start(options: { idleTimeoutSeconds?: number; maxConnections?: number } = {}) {
  const hostname = loopbackAddress();
  const server = await serve({ listen: { hostname, port: 0 }, ops, ...options });
  opened.push(server);
  const open = async () => {
    const client = await connect({ hostname, port: server.port });
    opened.push(client);
    return client;
  };
  return { server, open };
}

describe("a protocol link", () => {
  test("one connection carries many requests in turn", async () => {
    const { open } = await start();
    const client = await open();
    for (let index = 0; index < 50; index++) {
      const reply = await client.request("ECHO", [`hello ${index} ünïcode`]);
      expect(decodeLines(reply.body)).toEqual([`hello ${index} ünïcode`]);
    }
  });

  test("pipelined replies come back in request order even when handlers finish out of order", async () => {
    const { open } = await start();
    const client = await open();
    const replies = await Promise.all([
      client.request("SLOW", ["80", "first"]),
      client.request("SLOW", ["1", "second"]),
      client.request("ECHO", ["third"]),
    ]);
    expect(replies.map((reply) => decodeLines(reply.body)[0])).toEqual(["first", "second", "third"]);
  });

  test("a 12 MiB body crosses both ways intact despite partial writes", async () => {
    const { open } = await start();
    const client = await open();
    const size = 12 * 1024 * 1024;
    const down = await client.request("BLOB", [String(size)], { timeoutMs: 30_000 });
    expect(down.body.length).toBe(size);
    expect(checksum(down.body)).toBe(checksum(pattern(size)));
    const up = await client.request("SUM", [], { body: pattern(size), timeoutMs: 30_000 });
    expect(decodeLines(up.body)).toEqual([String(size), String(checksum(pattern(size)))]);
  });

  test("an unknown op gets the unknown-operation status and the connection stays usable", async () => {
    const { open } = await start();
    const client = await open();
    const reply = await client.send("FROB", []);
    expect(reply.status).toBe(400);
    expect(reply.reason).toBe("UNKNOWN OPERATION");
    expect(decodeLines((await client.request("ECHO", ["still here"])).body)).toEqual(["still here"]);
  });

  test("wrong argument counts get 422 with the op's usage", async () => {
    const { open } = await start();
    const client = await open();
    const reply = await client.send("ECHO", []);
    expect(reply.status).toBe(422);
    expect(decodeLines(reply.body)[0]).toContain("usage: ECHO <text>");
  });

  test("garbage gets 422 and a closed connection while another client is served", async () => {
    const { open } = await start();
    const bad = await open();
    const good = await open();
    const answer = bad.send("X".repeat(9000), []).catch((error) => error);
    const reply = await answer;
    expect(reply.status).toBe(422);
    await waitFor("the bad connection to close", () => bad.isClosed);
    expect(decodeLines((await good.request("ECHO", ["fine"])).body)).toEqual(["fine"]);
  });

  test("an idle connection is closed after the idle timeout", async () => {
    const { open } = await start({ idleTimeoutSeconds: 1 });
    const client = await open();
    await client.request("ECHO", ["hi"]);
    await waitFor("the idle connection to be closed", () => client.isClosed, 8_000);
  });

  test("a frame that stalls half-sent is closed after the idle timeout", async () => {
    const { open, server } = await start({ idleTimeoutSeconds: 1 });
    const client = await open();
    client.sendRaw(new TextEncoder().encode("SUM 100\r\nonly part of the body"));
    await waitFor("the stalled connection to be closed", () => server.connectionCount === 0 && client.isClosed, 8_000);
  });

  test("a reply that never comes fails the request with TIMEOUT", async () => {
    const { open } = await start();
    const client = await open();
    const error = await client.request("NEVER", [], { timeoutMs: 200 }).catch((failure) => failure);
    expect(isP2PError(error, "TIMEOUT")).toBe(true);
  });

  test("interim 202 replies reach the caller in order and keep a slow request from timing out", async () => {
    const { open } = await start();
    const client = await open();
    const seen: string[] = [];
    const reply = await client.request("COUNT", ["4"], { timeoutMs: 400, onProgress: (lines) => seen.push(...lines) });
    expect(seen).toEqual(["step 1", "step 2", "step 3", "step 4"]);
    expect(decodeLines(reply.body)).toEqual(["done"]);
    expect(decodeLines((await client.request("ECHO", ["after"])).body)).toEqual(["after"]);
  });

  test("a full server closes its longest-idle connection to serve a newcomer", async () => {
    const { open } = await start({ maxConnections: 2 });
    const first = await open();
    await first.request("ECHO", ["1"]);
    const second = await open();
    await second.request("ECHO", ["2"]);
    const third = await open();
    expect(decodeLines((await third.request("ECHO", ["3"])).body)).toEqual(["3"]);
    await waitFor("the longest-idle connection to be closed", () => first.isClosed);
    expect(second.isClosed).toBe(false);
  });

  test("connecting to a port where nothing listens fails with UNREACHABLE", async () => {
    const error = await connect({ hostname: loopbackAddress(), port: 9 }).catch((failure) => failure);
    expect(isP2PError(error, "UNREACHABLE")).toBe(true);
  });
});

describe("a Unix socket link", () => {
  test("a stale socket file left by a crash is reclaimed, and the socket is private to its owner", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir.path, "node.sock");
    writeFileSync(path, "");
    const server = await serve({ listen: { unix: path }, ops });
    opened.push(server);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const client = await connect({ unix: path });
    opened.push(client);
    expect(decodeLines((await client.request("ECHO", ["via unix"])).body)).toEqual(["via unix"]);
  });

  test("a socket another live server owns is never taken over", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir.path, "node.sock");
    opened.push(await serve({ listen: { unix: path }, ops }));
    const error = await serve({ listen: { unix: path }, ops }).catch((failure) => failure);
    expect(isP2PError(error, "CONFLICT")).toBe(true);
    expect(existsSync(path)).toBe(true);
  });
});

function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let index = 0; index < size; index++) out[index] = (index * 2654435761) >>> 24;
  out.set(new TextEncoder().encode("\r\n200 OK 5\r\n"), Math.min(10, Math.max(0, size - 12)));
  return out;
}

function checksum(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}
