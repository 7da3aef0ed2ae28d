// Real processes: peers that pipeline GET_CHUNK and never read cannot make a holder's memory grow without bound.

import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { createTestnet, type Testnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { tempDir, waitFor } from "../helpers/wait";

const ATTACKERS = 16;
const PIPELINE = 64;
const FILE_MIB = 64;
/**
 * Far above what the bounded holder needs (~16 x 4 MiB over its ~50 MB idle), far below what it took before
 * the bound (every chunk asked for, held: 16 x 64 MiB). Figures belong to scripts/bench-abuse.ts.
 */
const RSS_BOUND_MB = 600;

const dir = tempDir();
const attackers: Array<Socket<undefined>> = [];
let net: Testnet;
let binary: string;

beforeAll(async () => {
  binary = await builtBinary();
  net = await createTestnet({ nodes: 1, executable: [binary] });
}, 60_000);

afterAll(async () => {
  for (const socket of attackers) socket.terminate();
  await net?.close();
  dir.remove();
});

test("16 connections pipelining 64 GET_CHUNK each and never reading leave the holder bounded and answering PING", async () => {
  const holder = net.nodes[0]!;
  const source = join(dir.path, "shared.bin");
  writeFileSync(source, randomBytes(FILE_MIB * 1024 * 1024));
  const upload = Bun.spawn([binary, "client", "upload", source, "--json", "--node", holder.ip], { env: net.env, stdout: "pipe", stderr: "pipe" });
  const [code, out] = await Promise.all([upload.exited, new Response(upload.stdout).text()]);
  expect(code).toBe(0);
  const { id } = JSON.parse(out) as { id: string };

  let peakMb = 0;
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(holder.process.pid))), 50);
  try {
    for (let index = 0; index < ATTACKERS; index++) {
      const socket = await Bun.connect({ hostname: holder.ip, port: 7495, socket: { data() {} } });
      socket.pause();
      socket.write(Array.from({ length: PIPELINE }, (_, at) => `GET_CHUNK ${id} ${(index + at) % FILE_MIB}\r\n`).join(""));
      attackers.push(socket);
    }
    // The holder has read every request by the time it has sent its first MiBs; give it time to misbehave.
    await waitFor("the holder to be busy", () => rssMb(holder.process.pid) > 0 && peakMb > 0);
    await Bun.sleep(1_500);
    const client = await connect({ hostname: holder.ip, port: 7495 });
    try {
      expect(decodeLines((await client.request("PING", [], { timeoutMs: 5_000 })).body)).toEqual(["PONG"]);
    } finally {
      client.close();
    }
  } finally {
    clearInterval(sampler);
  }
  const peak = Math.max(peakMb, hwmMb(holder.process.pid));
  console.log(`holder peak RSS under ${ATTACKERS} x ${PIPELINE} unread GET_CHUNK: ${peak.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB)`);
  expect(peak).toBeLessThan(RSS_BOUND_MB);
  expect(holder.process.exitCode).toBeNull();
}, 60_000);

function rssMb(pid: number): number {
  return statusField(pid, "VmRSS");
}

function hwmMb(pid: number): number {
  return statusField(pid, "VmHWM");
}

function statusField(pid: number, field: string): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
