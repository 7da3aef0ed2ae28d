// A link with nothing under way is kept for reuse past the idle timeout (its quiet timeout); one with work under way still times out at the idle timeout.

import { afterAll, afterEach, expect, test } from "bun:test";
import type { Socket } from "bun";
import type { FramedConnection } from "../../src/protocol/connection";
import { responseDecoder, type ResponseHead } from "../../src/protocol/frame";
import { IDLE_TIMEOUT_SECONDS, QUIET_LINK_TIMEOUT_SECONDS, quietTimeoutFor } from "../../src/protocol/limits";
import { connectionHandlers } from "../../src/protocol/socket-handlers";
import { frameConnection } from "../../src/protocol/take-over";
import { waitFor } from "../helpers/wait";

const IDLE_MS = 300;
const QUIET_MS = 3_000;

/** A peer that accepts and never says a word. */
const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
const opened: FramedConnection<ResponseHead>[] = [];

afterEach(() => {
  for (const connection of opened.splice(0)) connection.end();
});
afterAll(() => silent.stop(true));

/** A connection to the silent peer; resolves with when it closed, measured from its opening, and why. */
async function linkTo(busy: () => boolean) {
  const socket = (await Bun.connect({ hostname: "127.0.0.1", port: silent.port, socket: connectionHandlers<ResponseHead>() })) as unknown as Socket<FramedConnection<ResponseHead>>;
  const startedAt = performance.now();
  const closed = { afterMs: 0, reason: "" };
  const connection = frameConnection(socket, responseDecoder(), {
    frame() {},
    malformed() {},
    closed: (reason) => Object.assign(closed, { afterMs: performance.now() - startedAt, reason: reason?.message ?? "" }),
  }, { idleTimeoutMs: IDLE_MS, quietTimeoutMs: QUIET_MS, busy });
  opened.push(connection);
  return { connection, closed };
}

test("a link with nothing under way outlives the idle timeout and closes as idle only after its quiet timeout", async () => {
  const { closed } = await linkTo(() => false);
  await waitFor("the quiet link to close", () => closed.afterMs > 0, QUIET_MS + 5_000);
  expect(closed.afterMs).toBeGreaterThanOrEqual(QUIET_MS - 50);
  expect(closed.reason).toContain("idle for too long");
});

test("a link with work under way (a request waiting for its reply) times out at the idle timeout, not the quiet one", async () => {
  const { closed } = await linkTo(() => true);
  await waitFor("the busy link to close", () => closed.afterMs > 0, QUIET_MS + 5_000);
  expect(closed.afterMs).toBeLessThan(QUIET_MS / 2);
});

test("work that starts on a link after a quiet spell still times out within about one idle timeout of starting", async () => {
  let busy = false;
  const { closed } = await linkTo(() => busy);
  const quietFor = 2 * IDLE_MS;
  setTimeout(() => (busy = true), quietFor);
  await waitFor("the link to close once busy", () => closed.afterMs > 0, QUIET_MS + 5_000);
  expect(closed.afterMs).toBeGreaterThanOrEqual(quietFor);
  expect(closed.afterMs).toBeLessThan(quietFor + 2 * IDLE_MS + 500);
});

test("only connections with the default idle timeout get the quiet one: a caller that chose its own gets exactly that", () => {
  expect(quietTimeoutFor(IDLE_TIMEOUT_SECONDS * 1000)).toBe(QUIET_LINK_TIMEOUT_SECONDS * 1000);
  expect(QUIET_LINK_TIMEOUT_SECONDS).toBeGreaterThanOrEqual(IDLE_TIMEOUT_SECONDS);
  expect(quietTimeoutFor(1_000)).toBeUndefined();
});
