// Benchmarks swarms in one process and virtual time: 1 seeder and N downloaders, every uplink at X, driving the production scheduler.
//
// bun scripts/bench-swarm-sim.ts [--downloaders 8,16,50,200] [--chunks 64] [--seed 1] [--jitter 0.5] [--json]
//
// The figure is the slowest downloader's time over F/X, the time the seeder needs to send the file
// once (the fluid model's bound); virtual time, so the figure does not depend on this machine's load.
// Where the time went: when the seeder had sent every chunk once, the copies it sent twice before
// that, its idle time, and how busy the downloaders' uplinks were.

import { parseArgs } from "node:util";
import { simulateSwarm } from "../src/node/files/swarm/simulation";

/** Target from issue 9: the slowest of 50 and of 200 downloaders within this many F/X. */
const TARGET = 1.3;
const MAX_DOWNLOADERS = 1_000;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    downloaders: { type: "string", default: "8,16,50,200" },
    chunks: { type: "string", default: "64" },
    seed: { type: "string", default: "1" },
    jitter: { type: "string", default: "0.5" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const sizes = values.downloaders.split(",").map(Number);
const chunks = Number(values.chunks);
const seed = Number(values.seed);
const jitter = Number(values.jitter);
if (!sizes.every((size) => Number.isInteger(size) && size >= 1 && size <= MAX_DOWNLOADERS)) fail(`--downloaders takes sizes 1..${MAX_DOWNLOADERS}, e.g. 8,16,50`);
if (!(Number.isInteger(chunks) && chunks >= 1 && chunks <= 4096)) fail("--chunks must be 1..4096");
if (!Number.isInteger(seed)) fail("--seed must be a whole number");
if (!(jitter >= 0 && jitter < 1)) fail("--jitter is a fraction of the latency, 0 (exact delays) to below 1");

const rows = [];
for (const downloaders of sizes) {
  const started = performance.now();
  const result = simulateSwarm({ downloaders, chunks, chunkBytes: 1 << 20, uplinkBytesPerSecond: 10e6, seed, jitter });
  const finished = result.finishMs.filter((ms): ms is number => ms !== null);
  const slowest = Math.max(...finished) / result.idealMs;
  const median = finished.sort((a, b) => a - b)[Math.floor((finished.length - 1) / 2)]! / result.idealMs;
  const { profile } = result;
  const row = {
    downloaders,
    completed: finished.length,
    slowestToIdeal: slowest,
    medianToIdeal: median,
    seederChunksSent: result.seederChunksSent,
    seederAllSentToIdeal: profile.seederAllSentMs === null ? null : profile.seederAllSentMs / result.idealMs,
    seederEarlyDuplicates: profile.seederEarlyDuplicates,
    seederIdleToIdeal: Math.max(0, profile.seederIdleMs) / result.idealMs,
    downloaderUplinkUse: profile.downloaderUplinkUse,
    busyAnswers: profile.busyAnswers,
    events: profile.events,
    wallSeconds: (performance.now() - started) / 1000,
  };
  rows.push(row);
  if (!values.json) {
    console.log(
      `${String(downloaders).padStart(4)} downloaders: ${finished.length}/${downloaders} complete, slowest ${slowest.toFixed(2)} x F/X${downloaders >= 50 ? ` (target <= ${TARGET})` : ""}, median ${median.toFixed(2)}; seeder sent the file ${(result.seederChunksSent / chunks).toFixed(2)} times; ${row.wallSeconds.toFixed(1)} s to simulate`,
    );
    const allSent = row.seederAllSentToIdeal === null ? "never" : `${row.seederAllSentToIdeal.toFixed(2)} x F/X`;
    console.log(
      `      seeder: every chunk once by ${allSent}, ${row.seederEarlyDuplicates} sent twice before that, idle ${(100 * row.seederIdleToIdeal).toFixed(1)}% of F/X; downloaders' uplinks busy ${(100 * row.downloaderUplinkUse).toFixed(0)}% of the time`,
    );
  }
}
if (values.json) console.log(JSON.stringify({ chunks, seed, jitter, rows }));

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
