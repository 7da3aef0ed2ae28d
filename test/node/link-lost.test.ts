// The node's hint that a neighbour crashed: a pooled ring connection closed by the other side is reported by the neighbour's address.

import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { encodeResponse } from "../../src/protocol/frame";
import { TcpTransport } from "../../src/node/tcp-transport";
import { loopbackAddress, waitFor } from "../helpers/wait";

const listeners: TCPSocketListener<unknown>[] = [];
const transports: TcpTransport[] = [];
afterEach(() => {
  for (const listener of listeners.splice(0)) listener.stop(true);
  for (const transport of transports.splice(0)) transport.close();
});

/** A peer that answers each request `200 OK` and hangs up when told to. */
function peer(): { address: string; hangUp(): void } {
  const open: Socket<unknown>[] = [];
  const listener = Bun.listen<unknown>({
    hostname: loopbackAddress(),
    port: 0,
    socket: {
      open: (socket) => void open.push(socket),
      data: (socket) => {
        for (const part of encodeResponse(200, "OK", new TextEncoder().encode("PONG\r\n"))) socket.write(part);
      },
    },
  });
  listeners.push(listener as TCPSocketListener<unknown>);
  return { address: `${listener.hostname}:${listener.port}`, hangUp: () => open.forEach((socket) => socket.end()) };
}

describe("a ring link lost", () => {
  test("a neighbour that closes the ring connection is reported by its address", async () => {
    const neighbour = peer();
    const transport = new TcpTransport({ rpcTimeoutMs: 2_000 });
    transports.push(transport);
    const lost: string[] = [];
    transport.onRingLinkLost = (address) => lost.push(address);
    await transport.request(neighbour.address, "PING", []);
    neighbour.hangUp();
    await waitFor("the lost link to be reported", () => lost.length > 0, 5_000);
    expect(lost).toEqual([neighbour.address]);
  });
});
