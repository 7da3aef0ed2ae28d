// Attacks on connection reversal: a hostile peer presenting a guessed or replayed REVERSED token gets nothing.

import { afterEach, expect, test } from "bun:test";
import type { ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { dialReversal, newReversalToken, Reversals } from "../../src/protocol/reversal";
import { type OpTable, serve, type ServedConnection } from "../../src/protocol/server";
import { formatAddress } from "../../src/protocol/address";
import { loopbackAddress } from "../helpers/wait";
import { hostileLink } from "./hostile";

const opened: ProtocolClient[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const client of opened.splice(0)) client.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Each side names itself, so the test sees whose connection the reachable side got. */
const serving = (who: string): OpTable => ({ WHO: { usage: "WHO", minArgs: 0, maxArgs: 0, handle: () => ({ lines: [who] }) } });

async function reachableSide() {
  const reversals = new Reversals();
  const hostname = loopbackAddress();
  const server = await serve({ listen: { hostname, port: 0 }, ops: reversals.ops() });
  cleanups.push(() => server.stop(), () => reversals.close());
  return { reversals, server, target: { hostname, port: server.port }, address: formatAddress(hostname, server.port) };
}

function keep(served: ServedConnection): ServedConnection {
  cleanups.push(() => served.close());
  return served;
}

test("a hostile peer presenting a guessed token gets 404, and the pending reversal still goes to the peer given the token", async () => {
  const { reversals, address, target } = await reachableSide();
  const token = newReversalToken();
  const waiting = reversals.expectReversal(token, 5_000);
  const hostile = await hostileLink(address, opened);
  for (const guess of [newReversalToken(), "0".repeat(32), token.slice(0, 31) + (token.endsWith("0") ? "1" : "0"), token.toUpperCase()]) {
    const answer = await hostile.send("REVERSED", [guess]);
    expect({ guess, status: answer.status }).toEqual({ guess, status: 404 });
  }
  // The hostile connection stayed an ordinary server connection: it can still be answered, and was never handed over.
  expect((await hostile.send("REVERSED", ["x"])).status).toBe(404);
  keep(await dialReversal(target, token, { ops: serving("holder") }));
  const link = await waiting;
  opened.push(link);
  expect(decodeLines((await link.request("WHO")).body)).toEqual(["holder"]);
});

test("a hostile peer replaying a token that was already used gets 404 and no second link", async () => {
  const { reversals, address, target } = await reachableSide();
  const token = newReversalToken();
  const waiting = reversals.expectReversal(token, 5_000);
  keep(await dialReversal(target, token, { ops: serving("holder") }));
  opened.push(await waiting);
  const hostile = await hostileLink(address, opened);
  expect((await hostile.send("REVERSED", [token])).status).toBe(404);
  await expect(dialReversal(target, token, { ops: serving("hostile") })).rejects.toMatchObject({ code: "NOT_FOUND" });
  expect(reversals.size).toBe(0);
});

test("a peer that sends requests after REVERSED instead of waiting for its answer gets the connection closed, not a link", async () => {
  const { reversals, address } = await reachableSide();
  const token = newReversalToken();
  const waiting = reversals.expectReversal(token, 5_000);
  const hostile = await hostileLink(address, opened);
  // Pipelined: the server would otherwise take the PING as the first reply of a link it sends requests on.
  const answers = Promise.allSettled([hostile.send("REVERSED", [token]), hostile.send("PING")]);
  await expect(waiting).rejects.toMatchObject({ code: "MALFORMED" });
  const [reversed, ping] = await answers;
  expect(reversed.status === "fulfilled" ? reversed.value.status : "rejected").toBe(200);
  expect(ping.status === "fulfilled" ? ping.value.status : ping.reason.code).not.toBe(200);
});
