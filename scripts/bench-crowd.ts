// Benchmarks a crowd (N nodes downloading one file at once from rate-limited holders) and one long download from a slow holder.
//
// bun scripts/bench-crowd.ts [--downloaders 8] [--size-mib 64] [--limit-mb 10] [--slow-size-mib 200] [--slow-limit-mb 3] [--json]
//
// Every node runs at --upload-limit X, as every client did in the WebTorrent comparison
// (../shared/webtorrent-bench.md). Baseline, same run: one download alone from one holder, which
// takes about F/X; without swarming a crowd of N needs about N·F/X, since only complete copies serve.

import { join } from "node:path";
import { parseArgs } from "node:util";
import type { TestnetNode } from "../src/testnet";
import { benchWorkspace, buildBinary, sameContent, writeRandomFile } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    downloaders: { type: "string", default: "8" },
    "size-mib": { type: "string", default: "64" },
    "limit-mb": { type: "string", default: "10" },
    "slow-size-mib": { type: "string", default: "200" },
    "slow-limit-mb": { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const downloaders = Number(values.downloaders);
const sizeMiB = Number(values["size-mib"]);
const limitMB = Number(values["limit-mb"]);
const slowSizeMiB = Number(values["slow-size-mib"]);
const slowLimitMB = Number(values["slow-limit-mb"]);
/** A crowd this size fits one testnet beside the holder. */
const MAX_DOWNLOADERS = 64;
if (!(Number.isInteger(downloaders) && downloaders >= 1 && downloaders <= MAX_DOWNLOADERS)) fail(`--downloaders must be 1..${MAX_DOWNLOADERS}`);
for (const [flag, value] of [["--size-mib", sizeMiB], ["--slow-size-mib", slowSizeMiB]] as const) {
  if (!(Number.isInteger(value) && value >= 1 && value <= 4096)) fail(`${flag} must be a whole number of MiB, 1..4096`);
}
for (const [flag, value] of [["--limit-mb", limitMB], ["--slow-limit-mb", slowLimitMB]] as const) {
  if (!(value > 0 && value <= 1000)) fail(`${flag} must be more than 0 and at most 1000 (MB/s)`);
}

const binary = buildBinary();
const { work, cleanup, withNet, client } = benchWorkspace(binary);
const say = (line: string) => values.json || console.log(line);
type Report = { milliseconds: number; sources: string[] };

try {
  const source = join(work, "crowd.bin");
  writeRandomFile(source, sizeMiB);
  const ideal = (sizeMiB * 1024 * 1024) / (limitMB * 1e6);
  const limit = ["--upload-limit", String(limitMB)];

  // Baseline: one download alone, from one holder at the limit.
  const alone = await withNet(2, limit, async (net) => {
    const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
    await client(net, holder, ["upload", source]);
    const report = await client<Report>(net, downloader, ["download", "crowd.bin", "--out", join(work, "alone.out")]);
    return report.milliseconds / 1000;
  });
  say(`baseline: 1 download of ${sizeMiB} MiB from 1 holder at ${limitMB} MB/s: ${alone.toFixed(1)} s (F/X = ${ideal.toFixed(1)} s)`);

  // The crowd: every downloader starts at once.
  const crowd = await withNet(1 + downloaders, limit, async (net) => {
    const holder = net.nodes[0]!;
    await client(net, holder, ["upload", source]);
    const started = performance.now();
    const finished = await Promise.all(
      net.nodes.slice(1).map(async (node, index) => {
        const out = join(work, `crowd-${index}.out`);
        try {
          await client<Report>(net, node, ["download", "crowd.bin", "--out", out]);
          return { seconds: (performance.now() - started) / 1000, intact: sameContent(source, out), error: null };
        } catch (error) {
          return { seconds: (performance.now() - started) / 1000, intact: false, error: (error as Error).message };
        }
      }),
    );
    return finished;
  });
  const completed = crowd.filter((run) => run.error === null && run.intact).length;
  const slowest = Math.max(...crowd.map((run) => run.seconds));
  const fastest = Math.min(...crowd.map((run) => run.seconds));
  say(`crowd: ${downloaders} downloaders at once: ${completed}/${downloaders} completed intact; fastest ${fastest.toFixed(1)} s, slowest ${slowest.toFixed(1)} s = ${(slowest / alone).toFixed(2)} x the lone download (${(slowest / ideal).toFixed(2)} x F/X)`);
  for (const run of crowd.filter((entry) => entry.error !== null)) say(`  failed: ${run.error}`);

  // One long download from one slow holder: one command must do the whole job.
  const slowSource = join(work, "slow.bin");
  writeRandomFile(slowSource, slowSizeMiB);
  const slowIdeal = (slowSizeMiB * 1024 * 1024) / (slowLimitMB * 1e6);
  const slow = await withNet(2, ["--upload-limit", String(slowLimitMB)], async (net) => {
    const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
    await client(net, holder, ["upload", slowSource]);
    const out = join(work, "slow.out");
    const started = performance.now();
    try {
      await client<Report>(net, downloader, ["download", "slow.bin", "--out", out]);
      return { seconds: (performance.now() - started) / 1000, intact: sameContent(slowSource, out), error: null };
    } catch (error) {
      return { seconds: (performance.now() - started) / 1000, intact: false, error: (error as Error).message };
    }
  });
  say(`slow holder: ${slowSizeMiB} MiB at ${slowLimitMB} MB/s in one command: ${slow.intact ? "completed intact" : `FAILED (${slow.error})`} in ${slow.seconds.toFixed(1)} s = ${(slow.seconds / slowIdeal).toFixed(2)} x F/X`);

  if (values.json) {
    console.log(
      JSON.stringify({
        sizeMiB,
        limitMBps: limitMB,
        downloaders,
        aloneSeconds: alone,
        idealSeconds: ideal,
        crowdCompleted: completed,
        crowdSlowestSeconds: slowest,
        crowdFastestSeconds: fastest,
        slowestToAlone: slowest / alone,
        slowCompleted: slow.intact,
        slowSeconds: slow.seconds,
        slowToIdeal: slow.seconds / slowIdeal,
      }),
    );
  }
  if (completed < downloaders || !slow.intact) process.exitCode = 1;
} finally {
  await cleanup();
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
