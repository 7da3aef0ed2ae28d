// The birthday punch's connection handling on loopback (the punch through a symmetric NAT itself runs in namespaces: test/demo/punch.test.ts).

import { expect, test } from "bun:test";
import { BIRTHDAY_BATCH, BIRTHDAY_MAX_CONNECTIONS, birthdayOpen, distinctRandomPorts, RANDOM_PORT_RANGE } from "../../src/protocol/birthday-open";
import { choosePunchPort } from "../../src/protocol/punch";
import type { PunchedSocket } from "../../src/protocol/simultaneous-open";
import { waitFor } from "../helpers/wait";

/** A listener that counts the connections it accepted and those that closed since. */
function countingListener() {
  const counts = { opened: 0, closed: 0 };
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: () => void counts.opened++, close: () => void counts.closed++, data() {} },
  });
  return { counts, port: listener.port, stop: () => listener.stop(true) };
}

test("the random-port side connects to the one announced address in batches, keeps the first link and closes every other", async () => {
  const listener = countingListener();
  let kept: PunchedSocket | undefined;
  try {
    kept = await birthdayOpen({ side: "random", localPort: 0, remote: { hostname: "127.0.0.1", port: listener.port } });
    // Only the first batch went out: the link opened before the next one was due.
    await waitFor("the first batch accepted and all but one closed", () => listener.counts.opened === BIRTHDAY_BATCH && listener.counts.closed === BIRTHDAY_BATCH - 1, 5_000);
    expect(kept.readyState).toBe(1);
  } finally {
    kept?.terminate();
    listener.stop();
  }
});

test("links that open after the first go to onLater (the responder serves them: the initiator may have kept one of those)", async () => {
  const listener = countingListener();
  const later: PunchedSocket[] = [];
  let kept: PunchedSocket | undefined;
  try {
    kept = await birthdayOpen({ side: "random", localPort: 0, remote: { hostname: "127.0.0.1", port: listener.port }, onLater: (socket) => void later.push(socket) });
    await waitFor("every later link handed over", () => later.length === BIRTHDAY_BATCH - 1, 5_000);
    expect(listener.counts.closed).toBe(0);
  } finally {
    kept?.terminate();
    for (const socket of later) socket.terminate();
    listener.stop();
  }
});

test("a birthday punch that meets nothing fails with UNREACHABLE naming how many connections it made, at the end of its window", async () => {
  const port = choosePunchPort("127.0.0.1"); // free again: every connection to it is refused
  const started = performance.now();
  const failure = await birthdayOpen({ side: "random", localPort: 0, remote: { hostname: "127.0.0.1", port }, windowMs: 800 }).catch((error) => error);
  expect(failure.code).toBe("UNREACHABLE");
  expect(failure.message).toContain(`from ${BIRTHDAY_MAX_CONNECTIONS} ports to 127.0.0.1:${port} within 800 ms (${BIRTHDAY_MAX_CONNECTIONS} refused`);
  expect(performance.now() - started).toBeGreaterThanOrEqual(790);
});

test("the port-keeping side's guesses are distinct ports a symmetric NAT may pick", () => {
  const guesses = distinctRandomPorts(BIRTHDAY_MAX_CONNECTIONS);
  expect(new Set(guesses).size).toBe(BIRTHDAY_MAX_CONNECTIONS);
  expect(guesses.every((port) => Number.isInteger(port) && port >= RANDOM_PORT_RANGE.first && port <= RANDOM_PORT_RANGE.last)).toBe(true);
});
