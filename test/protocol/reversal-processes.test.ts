// Connection reversal between real processes on loopback: a holder process that listens on no port serves a chunk and its KEY to this process, after a relay stand-in carried the notice.

import { afterAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatAddress } from "../../src/protocol/address";
import { connect } from "../../src/protocol/client";
import { encodeReversalNotice, newReversalToken, Reversals } from "../../src/protocol/reversal";
import { serve } from "../../src/protocol/server";
import { RING } from "../../src/wire/ring";
import { REPO_ROOT, startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir } from "../helpers/wait";

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  await stopAllProcesses();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a holder process with no listener serves a 1 MiB chunk and its KEY to the node that asked, through a relay's notice and a reversed connection", async () => {
  const { path: dir, remove } = tempDir();
  cleanups.push(remove);
  const chunk = new Uint8Array(randomBytes(1024 * 1024));
  const file = join(dir, "chunk.bin");
  writeFileSync(file, chunk);
  const publicKey = Buffer.from(randomBytes(32)).toString("hex");
  const relayIp = loopbackAddress();
  const relayPort = 20_000 + Math.floor(Math.random() * 20_000);
  const script = (name: string) => [process.execPath, join(REPO_ROOT, "scripts", "lib", name)];
  const relay = startP2P([relayIp, String(relayPort)], { executable: script("punch-rendezvous.ts") });
  await relay.waitForStderr(/rendezvous listening/, 10_000);
  const holder = startP2P([formatAddress(relayIp, relayPort), "room1", file, publicKey], { executable: script("reversal-holder.ts") });
  await holder.waitForStderr(/holder waiting for a notice/, 10_000);

  // The reachable side: this process's peer server answers REVERSED.
  const reversals = new Reversals();
  const hostname = loopbackAddress();
  const server = await serve({ listen: { hostname, port: 0 }, ops: reversals.ops() });
  cleanups.push(() => server.stop(), () => reversals.close());
  const token = newReversalToken();
  const waiting = reversals.expectReversal(token, 15_000);
  // The relay stand-in carries the notice to the holder, as a relay would down its reservation.
  const toRelay = await connect({ hostname: relayIp, port: relayPort });
  cleanups.push(() => toRelay.close());
  await toRelay.request("SEND", ["room1", "holder", encodeReversalNotice({ address: formatAddress(hostname, server.port), token })]);

  const link = await waiting;
  const reply = await link.request("GET_CHUNK", ["0"], { timeoutMs: 10_000 });
  expect(Buffer.from(reply.body).equals(chunk)).toBe(true);
  expect(RING.KEY.decodeReply((await link.request("KEY")).body, link.target, undefined)).toBe(publicKey);
  link.close();
  await holder.waitForStderr(/holder done/, 10_000);
  expect(holder.stderr()).toContain(`holder serving ${formatAddress(hostname, server.port)} over the reversed connection`);
}, 60_000);
