// Benchmarks what signed records cost: Ed25519 sign/verify per entry, and put (announce), get and lookup latency on a real ring.
//
// bun scripts/bench-trust.ts [--nodes 5] [--count 200] [--json]
// A put whose member names the writing node (`x@<its address>`) is signed by it and verified by every store;
// a member that names no holder is neither, so the two medians, measured in the same run, give the cost.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadIdentity, verifyEntry } from "../src/node/identity";
import { ringId } from "../src/model/id";
import { createTestnet, type Testnet, type TestnetNode } from "../src/testnet";
import { median } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { nodes: { type: "string", default: "5" }, count: { type: "string", default: "200" }, json: { type: "boolean", default: false } },
  strict: true,
});
const nodeCount = Number(values.nodes);
const count = Number(values.count);
if (!(Number.isInteger(nodeCount) && nodeCount >= 2 && nodeCount <= 50) || !(Number.isInteger(count) && count >= 10 && count <= 10_000)) {
  console.error("--nodes must be 2..50 and --count 10..10000");
  process.exit(1);
}

const figures: Record<string, number> = {};
const scratch = mkdtempSync(join(tmpdir(), "p2p-bench-trust-"));
try {
  // In process: one entry signed and verified, as a store does for each entry of a PUT_RECORDS.
  const identity = loadIdentity(scratch);
  const entry = { key: ringId("k"), member: `f@127.0.0.2:7495`, value: "x".repeat(200), updatedAt: Date.now(), expiresAt: null, deleted: false };
  const rounds = 5_000;
  let started = performance.now();
  let signed = identity.signEntry(entry);
  for (let i = 1; i < rounds; i++) signed = identity.signEntry({ ...entry, updatedAt: entry.updatedAt + i });
  figures.signMicroseconds = ((performance.now() - started) * 1000) / rounds;
  started = performance.now();
  for (let i = 0; i < rounds; i++) if (!verifyEntry(signed, identity.publicKey)) throw new Error("a signature did not verify");
  figures.verifyMicroseconds = ((performance.now() - started) * 1000) / rounds;

  const net = await createTestnet({ nodes: nodeCount });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void net.close().finally(() => process.exit(130)));
  try {
    await net.waitForConsistentRing(60_000);
    const writer = net.nodes[0]!;
    // Warm every connection first, then interleave the two kinds so drift on a shared machine hits both alike.
    await timed(20, (i) => net.control(writer, "PUT", [`warm-${i}`, `f@${writer.address}`, "v"]));
    const [putPlain, putSigned] = await interleaved(
      count,
      (i) => net.control(writer, "PUT", [`plain-${i}`, "plain-member", "v"]),
      (i) => net.control(writer, "PUT", [`signed-${i}`, `f@${writer.address}`, "v"]),
    );
    figures.putUnsignedMs = median(putPlain);
    figures.putSignedMs = median(putSigned);
    const reader = net.nodes[1]!;
    const [getPlain, getSigned] = await interleaved(
      count,
      (i) => net.control(reader, "GET", [`plain-${i}`]),
      (i) => net.control(reader, "GET", [`signed-${i}`]),
    );
    figures.getUnsignedMs = median(getPlain);
    figures.getSignedMs = median(getSigned);
    figures.lookupMs = median(await timed(count, (i) => net.control(reader, "LOOKUP", [`any-${i}`])));
    await checkStored(net, reader, count);
  } finally {
    await net.close();
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (values.json) console.log(JSON.stringify(figures));
else {
  console.log(`Ed25519 per entry: sign ${figures.signMicroseconds!.toFixed(1)} us, verify ${figures.verifyMicroseconds!.toFixed(1)} us`);
  console.log(`put (announce), median of ${count}: signed ${figures.putSignedMs!.toFixed(2)} ms vs plain ${figures.putUnsignedMs!.toFixed(2)} ms (x${(figures.putSignedMs! / figures.putUnsignedMs!).toFixed(2)})`);
  console.log(`get, median of ${count}: signed ${figures.getSignedMs!.toFixed(2)} ms vs plain ${figures.getUnsignedMs!.toFixed(2)} ms (x${(figures.getSignedMs! / figures.getUnsignedMs!).toFixed(2)})`);
  console.log(`lookup (no signatures involved), median of ${count}: ${figures.lookupMs!.toFixed(2)} ms`);
}

async function timed(times: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await call(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

async function interleaved(times: number, first: (i: number) => Promise<unknown>, second: (i: number) => Promise<unknown>): Promise<[number[], number[]]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < times; i++) {
    a.push(...(await timed(1, () => first(i))));
    b.push(...(await timed(1, () => second(i))));
  }
  return [a, b];
}

/** The signed puts must really be stored and readable, or the figures measure refusals. */
async function checkStored(net: Testnet, reader: TestnetNode, times: number): Promise<void> {
  for (const i of [0, times - 1]) {
    const entries = JSON.parse(new TextDecoder().decode(await net.control(reader, "GET", [`signed-${i}`]))) as unknown[];
    if (entries.length !== 1) throw new Error(`signed-${i} reads back ${entries.length} entries, expected 1`);
  }
}
