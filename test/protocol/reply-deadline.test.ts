// A reply's deadline: a peer that keeps saying it is busy cannot hold a request open past it.

import { afterEach, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { connect } from "../../src/protocol/client";
import { encodeResponse } from "../../src/protocol/frame";

const BUSY_EVERY_MS = 50;
type Busy = { timer?: ReturnType<typeof setInterval> };
let listener: TCPSocketListener<Busy> | undefined;

afterEach(() => listener?.stop(true));

/** A hostile holder: answers every request with interim 202 replies forever and never the reply. */
function foreverBusyPeer(): number {
  const busy: TCPSocketListener<Busy> = Bun.listen<Busy>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = {};
      },
      data(socket) {
        socket.data.timer ??= setInterval(() => {
          for (const part of encodeResponse(202, "IN PROGRESS", new Uint8Array())) socket.write(part);
        }, BUSY_EVERY_MS);
      },
      close(socket) {
        clearInterval(socket.data.timer);
      },
    },
  });
  listener = busy;
  return busy.port;
}

test("a request whose peer only ever says it is busy fails with TIMEOUT at its deadline", async () => {
  const port = foreverBusyPeer();
  const client = await connect({ hostname: "127.0.0.1", port });
  const started = performance.now();
  const outcome = await client.request("GET_CHUNK", ["f", "0"], { timeoutMs: 1_000, deadlineMs: 400 }).catch((error) => error);
  client.close();
  expect(outcome).toMatchObject({ code: "TIMEOUT" });
  expect(String(outcome.message)).toContain("took longer than 400 ms to answer GET_CHUNK");
  // Busy notices every 50 ms would have kept the silence timeout (1 s) from ever firing.
  expect(performance.now() - started).toBeGreaterThanOrEqual(390);
}, 10_000);

test("busy notices alone keep a request without a deadline alive past its silence timeout", async () => {
  const port = foreverBusyPeer();
  const client = await connect({ hostname: "127.0.0.1", port });
  let settled = false;
  const pending = client.request("GET_CHUNK", ["f", "0"], { timeoutMs: 300 }).then(() => (settled = true), () => (settled = true));
  const checkAt = performance.now() + 1_200;
  while (performance.now() < checkAt && !settled) await Bun.sleep(50);
  expect(settled).toBe(false);
  client.close();
  await pending;
}, 10_000);
