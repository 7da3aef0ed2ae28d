// A punch's LAN listener: it takes one connection from the dialler's announced IP and turns every other host away.

import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { connectOnLan, listenOnLan, MAX_LAN_STRANGERS } from "../../src/protocol/punch-lan";
import { loopbackAddress, waitFor } from "../helpers/wait";

test("a host other than the announced dialler connecting to a LAN listener is closed at once, and the dialler's own connection is still accepted", async () => {
  const [edge, dialler, stranger] = [loopbackAddress(), loopbackAddress(), loopbackAddress()];
  const listener = listenOnLan(edge, [dialler]);
  const sockets: Socket<unknown>[] = [];
  try {
    let strangerClosed = false;
    sockets.push(await Bun.connect({ hostname: edge, port: Number(listener.address.split(":").at(-1)), localAddress: stranger, socket: { data() {}, close: () => void (strangerClosed = true) } } as never));
    await waitFor("the stranger's connection to be closed", async () => strangerClosed || null, 3_000);
    const { socket, address } = await connectOnLan([listener.address], dialler);
    sockets.push(socket as unknown as Socket<unknown>);
    expect(address).toBe(listener.address);
    expect((await listener.accepted).remoteAddress).toBe(dialler);
  } finally {
    listener.close();
    for (const socket of sockets) socket.terminate();
  }
});

test(`a LAN listener closes after ${MAX_LAN_STRANGERS} strangers: a scan cannot keep it open`, async () => {
  const [edge, dialler] = [loopbackAddress(), loopbackAddress()];
  const listener = listenOnLan(edge, [dialler]);
  try {
    for (let tries = 0; tries < MAX_LAN_STRANGERS; tries++) {
      await connectOnLan([listener.address], loopbackAddress(), 1_000).then(({ socket }) => socket.terminate(), () => {});
    }
    await expect(connectOnLan([listener.address], dialler, 1_000)).rejects.toMatchObject({ code: "UNREACHABLE" });
  } finally {
    listener.close();
  }
});

test("a LAN address where nothing listens fails with UNREACHABLE naming it", async () => {
  const edge = loopbackAddress();
  const closed = listenOnLan(edge, []);
  closed.close();
  await expect(connectOnLan([closed.address], undefined, 1_000)).rejects.toMatchObject({ code: "UNREACHABLE", message: expect.stringContaining(closed.address) });
});
