// Connection reversal over real loopback sockets: a side that does not listen serves the reachable side on a connection it dialled.

import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import type { ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { decodeReversalNotice, dialReversal, encodeReversalNotice, MAX_PENDING_REVERSALS, newReversalToken, Reversals } from "../../src/protocol/reversal";
import { type OpTable, type ProtocolServer, serve } from "../../src/protocol/server";
import type { ServedConnection } from "../../src/protocol/server";
import { opTable, serveOp } from "../../src/wire/op";
import { RING } from "../../src/wire/ring";
import { loopbackAddress, waitFor } from "../helpers/wait";

const CHUNK_BYTES = 1024 * 1024;
const chunk = new Uint8Array(randomBytes(CHUNK_BYTES));

/** What the side that cannot be reached serves: a chunk of a file and a line naming itself. */
const holderOps: OpTable = {
  GET_CHUNK: { usage: "GET_CHUNK <index>", minArgs: 1, maxArgs: 1, handle: () => ({ body: chunk }) },
  WHO: { usage: "WHO", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["holder"] }) },
};

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The reachable side: a peer server whose only op of interest is REVERSED. */
async function reachableSide(networkKey?: Uint8Array) {
  const reversals = new Reversals();
  const hostname = loopbackAddress();
  const server: ProtocolServer = await serve({ listen: { hostname, port: 0 }, ops: reversals.ops(), networkKey });
  cleanups.push(() => server.stop(), () => reversals.close());
  return { reversals, server, target: { hostname, port: server.port } };
}

function keep<T extends ServedConnection | ProtocolClient>(thing: T): T {
  cleanups.push(() => thing.close());
  return thing;
}

describe("connection reversal", () => {
  for (const keyed of [false, true]) {
    test(`a side with no listener serves a 1 MiB chunk to the side that waited for its reversal${keyed ? " (private network)" : ""}`, async () => {
      const networkKey = keyed ? new Uint8Array(randomBytes(32)) : undefined;
      const { reversals, server, target } = await reachableSide(networkKey);
      const token = newReversalToken();
      const waiting = reversals.expectReversal(token, 5_000);
      const served = keep(await dialReversal(target, token, { ops: holderOps, networkKey }));
      const link = keep(await waiting);
      // Pipelined: the replies come back in order over the one reversed connection.
      const [first, who, second] = await Promise.all([link.request("GET_CHUNK", ["0"]), link.request("WHO"), link.request("GET_CHUNK", ["1"])]);
      expect(Buffer.from(first.body).equals(chunk)).toBe(true);
      expect(decodeLines(who.body)).toEqual(["holder"]);
      expect(Buffer.from(second.body).equals(chunk)).toBe(true);
      // The link is the reachable side's own now: its server no longer counts it.
      expect(server.connectionCount).toBe(0);
      expect(reversals.size).toBe(0);
      link.close();
      await served.whenClosed;
    });
  }

  test("a request for an op the holder does not serve gets the holder's 400 answer, and the reversed link stays usable", async () => {
    const { reversals, target } = await reachableSide();
    const token = newReversalToken();
    const waiting = reversals.expectReversal(token, 5_000);
    keep(await dialReversal(target, token, { ops: holderOps }));
    const link = keep(await waiting);
    expect((await link.send("NO_SUCH_OP")).status).toBe(400);
    expect(decodeLines((await link.request("WHO")).body)).toEqual(["holder"]);
  });

  test("a reversal nobody dials back for rejects with TIMEOUT and its token is then refused", async () => {
    const { reversals, target } = await reachableSide();
    const token = newReversalToken();
    await expect(reversals.expectReversal(token, 100)).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(dialReversal(target, token, { ops: holderOps })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  test("expecting a reversal with a malformed or already waited-for token, or past the limit, is a clear error", async () => {
    const reversals = new Reversals();
    cleanups.push(() => reversals.close());
    await expect(reversals.expectReversal("not-hex", 1_000)).rejects.toMatchObject({ code: "MALFORMED" });
    const token = newReversalToken();
    const first = reversals.expectReversal(token, 1_000);
    first.catch(() => {});
    await expect(reversals.expectReversal(token, 1_000)).rejects.toMatchObject({ code: "CONFLICT" });
    for (let i = 1; i < MAX_PENDING_REVERSALS; i++) reversals.expectReversal(newReversalToken(), 1_000).catch(() => {});
    await expect(reversals.expectReversal(newReversalToken(), 1_000)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    reversals.close();
    await expect(first).rejects.toMatchObject({ code: "CLOSED" });
  });

  test("the holder's side ends when the reachable side closes the link", async () => {
    const { reversals, target } = await reachableSide();
    const token = newReversalToken();
    const waiting = reversals.expectReversal(token, 5_000);
    const served = keep(await dialReversal(target, token, { ops: holderOps }));
    (await waiting).close();
    await waitFor("the holder's served connection to close", async () => (await Promise.race([served.whenClosed.then(() => true), Bun.sleep(50).then(() => false)])), 5_000);
  });
});

test("a holder with no listener answers KEY, through the ring op's own definition, over the link it dialled back", async () => {
  const { reversals, target } = await reachableSide();
  const publicKey = "ab".repeat(32);
  const token = newReversalToken();
  const waiting = reversals.expectReversal(token, 5_000);
  keep(await dialReversal(target, token, { ops: opTable(serveOp(RING.KEY, () => publicKey)) }));
  const link = keep(await waiting);
  const reply = await link.request(RING.KEY.name, RING.KEY.encodeArgs(undefined).args);
  expect(RING.KEY.decodeReply(reply.body, link.target, undefined)).toBe(publicKey);
});

test("a first request that arrives in the same read as the 200 to REVERSED is served, not misread as a reply", async () => {
  const hostname = loopbackAddress();
  let received = "";
  let answered: (text: string) => void = () => {};
  const answer = new Promise<string>((resolve) => (answered = resolve));
  // A reachable side written by hand, so the 200 and the first request leave in one write.
  const listener = Bun.listen<undefined>({
    hostname,
    port: 0,
    socket: {
      data(socket, bytes) {
        received += bytes.toString();
        if (received.startsWith("REVERSED ") && received.endsWith("\r\n") && !received.includes("200")) {
          socket.write("200 OK 0\r\nWHO\r\n");
          received = "200";
          return;
        }
        if (received.startsWith("200") && received.includes("holder\r\n")) answered(received.slice(3));
      },
    },
  });
  cleanups.push(() => listener.stop(true));
  keep(await dialReversal({ hostname, port: listener.port }, newReversalToken(), { ops: holderOps }));
  expect(await answer).toBe("200 OK 8\r\nholder\r\n");
});

test("a reversal notice round-trips as one line, and a malformed one is a clear MALFORMED error", () => {
  const token = newReversalToken();
  for (const address of ["203.0.113.2:7495", "[2001:db8::2]:7495"]) expect(decodeReversalNotice(encodeReversalNotice({ address, token }))).toEqual({ address, token });
  for (const line of ["", "203.0.113.2:7495", `203.0.113.2 ${token}`, `203.0.113.2:7495 ${token.toUpperCase()}`, `203.0.113.2:7495 ${token} extra`, `0.0.0.0:7495 ${token}`]) {
    expect(() => decodeReversalNotice(line)).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  }
});
