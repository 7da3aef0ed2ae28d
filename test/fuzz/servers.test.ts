// Every server of a real network (DNS, a node's peer port, its control socket) survives 10,000 generated hostile inputs.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { createTestnet, type Testnet, type TestnetNode } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { tempDir } from "../helpers/wait";
import { drive, type FuzzStats } from "./drive";
import { type FuzzTarget, inputGenerator, prng } from "./generate";

/** Inputs per server, as the issue asks. */
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 10_000);
/** Each run stops here even short of INPUTS (then the count assertion fails, loudly). */
const DEADLINE_MS = 30_000;
/** A server's RSS must stay under this while it is fuzzed (a node idles at ~60-90 MB). */
const RSS_BOUND_MB = 400;
const WORKERS = 6;
/** Fixed so a failure can be replayed; FUZZ_SEED overrides. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);

let net: Testnet;
let node: TestnetNode;
let dnsProcess: Subprocess | null = null;
const scratch = tempDir("p2p-fuzz-");

beforeAll(async () => {
  const binary = await builtBinary();
  net = await createTestnet({
    nodes: 1,
    executable: [binary],
    onSpawn: (role, proc) => {
      if (role === "dns") dnsProcess = proc;
    },
  });
  node = net.nodes[0]!;
  writeFileSync(join(scratch.path, "small.bin"), new Uint8Array(70_000).fill(7));
  mkdirSync(join(scratch.path, "sub"));
}, 60_000);

afterAll(async () => {
  await net?.close();
  scratch.remove();
});

function subnetOf(ip: string): string {
  return ip.split(".").slice(0, 3).join(".");
}

function report(name: string, stats: FuzzStats): void {
  console.log(
    `fuzz ${name}: ${stats.inputs} inputs over ${stats.connections} connections, ${stats.replies} replies ${JSON.stringify(stats.byStatus)}, peak RSS ${stats.peakRssMb.toFixed(0)} MB, seed ${SEED}`,
  );
}

function expectSurvived(stats: FuzzStats, proc: Subprocess): void {
  expect(stats.violations).toEqual([]);
  expect(stats.inputs).toBeGreaterThanOrEqual(INPUTS);
  expect(proc.exitCode).toBeNull();
  expect(proc.signalCode).toBeNull();
  expect(stats.peakRssMb).toBeGreaterThan(0);
  expect(stats.peakRssMb).toBeLessThan(RSS_BOUND_MB);
}

describe("fuzzing every server", () => {
  test("the DNS answers 10,000 generated inputs without a 500 or a crash, then still answers PING", async () => {
    const [hostname, port] = net.dnsAddress.split(":") as [string, string];
    const target: FuzzTarget = { kind: "dns", subnet: subnetOf(hostname), ports: [7495, 7494] };
    const random = prng(SEED);
    const stats = await drive({ connect: { hostname, port: Number(port) }, next: inputGenerator(target, random), random, inputs: INPUTS, deadlineMs: DEADLINE_MS, workers: WORKERS, pid: dnsProcess!.pid });
    report("dns", stats);
    expectSurvived(stats, dnsProcess!);
    const client = await connect({ hostname, port: Number(port) });
    try {
      expect(decodeLines((await client.request("PING")).body)).toEqual(["PONG"]);
    } finally {
      client.close();
    }
  }, 60_000);

  test("a node's peer port answers 10,000 generated inputs without a 500 or a crash, then still answers PING", async () => {
    const target: FuzzTarget = { kind: "peer", subnet: subnetOf(node.ip), ports: [7495, 7494] };
    const random = prng(SEED + 1);
    const stats = await drive({ connect: { hostname: node.ip, port: 7495 }, next: inputGenerator(target, random), random, inputs: INPUTS, deadlineMs: DEADLINE_MS, workers: WORKERS, pid: node.process.pid });
    report("peer port", stats);
    expectSurvived(stats, node.process);
    const client = await connect({ hostname: node.ip, port: 7495 });
    try {
      expect(decodeLines((await client.request("PING")).body)).toEqual(["PONG"]);
    } finally {
      client.close();
    }
  }, 60_000);

  test("a node's control socket answers 10,000 generated inputs without a 500 or a crash, then still reports its STATUS", async () => {
    const target: FuzzTarget = { kind: "control", subnet: subnetOf(node.ip), ports: [7495, 7494], scratchDir: scratch.path };
    const random = prng(SEED + 2);
    const stats = await drive({ connect: { unix: node.socketPath }, next: inputGenerator(target, random), random, inputs: INPUTS, deadlineMs: DEADLINE_MS, workers: WORKERS, pid: node.process.pid });
    report("control socket", stats);
    expectSurvived(stats, node.process);
    const status = JSON.parse(new TextDecoder().decode(await net.control(node, "STATUS"))) as { id: string };
    expect(status.id).toBe(node.id);
  }, 60_000);
});

describe("malformed bodies", () => {
  test("LEAVING with a JSON body of null is 422 with the reason, not 500", async () => {
    const client = await connect({ hostname: node.ip, port: 7495 });
    try {
      const reply = await client.send("LEAVING", [node.id, node.ip, "7495"], { body: new TextEncoder().encode("null") });
      expect(reply.status).toBe(422);
      expect(decodeLines(reply.body)[0]).toContain("LEAVING body must be a JSON object");
    } finally {
      client.close();
    }
  }, 15_000);
});
