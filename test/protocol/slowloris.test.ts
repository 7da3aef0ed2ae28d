// A real `p2p dns` under a slowloris flood of 1,100 trickling connections still answers a legitimate PING.

import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { join } from "node:path";
import { connect } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS } from "../../src/protocol/limits";
import { builtBinary } from "../helpers/binary";
import { type ManagedProcess, startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";

/** Source addresses the flood comes from; each stays under the per-address cap so the server itself fills up. */
const FLOOD_ADDRESSES = 20;
const PER_ADDRESS = Math.min(55, MAX_CONNECTIONS_PER_ADDRESS - 1);
const FLOOD = FLOOD_ADDRESSES * PER_ADDRESS;
/** This process holds the flood, and the DNS (which inherits the limit) up to MAX_CONNECTIONS: both need the descriptors. */
const OPEN_FILES = Number(Bun.spawnSync(["sh", "-c", "ulimit -n"]).stdout.toString().trim());
const ENOUGH_FILES = OPEN_FILES === Number.POSITIVE_INFINITY || Number.isNaN(OPEN_FILES) || OPEN_FILES >= FLOOD + 200;
if (!ENOUGH_FILES) console.warn(`slowloris test skipped: ulimit -n is ${OPEN_FILES}, it needs ${FLOOD + 200} (raise it with ulimit -n)`);

const dir = tempDir();
const flood: net.Socket[] = [];
let trickle: ReturnType<typeof setInterval> | undefined;
let dns: ManagedProcess;
let hostname: string;

beforeAll(async () => {
  if (!ENOUGH_FILES) return;
  hostname = loopbackAddress();
  dns = startP2P(["dns", "--host", hostname, "--port", "7494", "--db", join(dir.path, "dns.db")], { executable: [await builtBinary()] });
  await dns.waitForStderr(/listening on/, 30_000);
}, 60_000);

afterAll(async () => {
  clearInterval(trickle);
  for (const socket of flood) socket.destroy();
  await stopAllProcesses();
  dir.remove();
});

test.skipIf(!ENOUGH_FILES)("a legitimate PING is answered while 1,100 slowloris connections from 20 addresses hold the server full", async () => {
  expect(FLOOD).toBeGreaterThan(MAX_CONNECTIONS);
  const subnet = hostname.split(".").slice(0, 3).join(".");
  let opened = 0;
  let closedByServer = 0;
  const opening: Array<Promise<void>> = [];
  for (let source = 0; source < FLOOD_ADDRESSES; source++) {
    for (let index = 0; index < PER_ADDRESS; index++) {
      opening.push(
        new Promise<void>((resolve) => {
          const socket = net.createConnection({ host: hostname, port: 7494, localAddress: `${subnet}.${100 + source}` });
          flood.push(socket);
          socket.on("error", () => {});
          socket.once("connect", () => {
            opened++;
            socket.write("P");
            resolve();
          });
          socket.once("close", () => {
            closedByServer++;
            resolve();
          });
        }),
      );
    }
  }
  await Promise.all(opening);
  // 1 byte a second each, never a whole line: the classic slowloris.
  trickle = setInterval(() => {
    for (const socket of flood) if (!socket.destroyed) socket.write("I");
  }, 1_000);
  expect(opened).toBeGreaterThan(MAX_CONNECTIONS);

  for (let attempt = 0; attempt < 3; attempt++) {
    const client = await connect({ hostname, port: 7494 });
    try {
      const reply = await client.request("PING", [], { timeoutMs: 5_000 });
      expect(decodeLines(reply.body)).toEqual(["PONG"]);
    } finally {
      client.close();
    }
  }
  // Room was made by evicting flood connections, oldest first; the process is alive and well.
  await waitFor("the server to evict some of the flood", () => closedByServer > 0, 5_000);
  expect(dns.proc.exitCode).toBeNull();
}, 60_000);
