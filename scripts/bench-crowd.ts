// Benchmarks flash crowds (1 seeder and N downloaders starting together), a late joiner, and one long download from a slow holder.
//
// bun scripts/bench-crowd.ts [--crowds 4,8,16] [--size-mib 64] [--limit-mb 10] [--slow-size-mib 200] [--slow-limit-mb 3] [--json]
//
// Every node runs at --upload-limit X, as every client did in the WebTorrent comparison
// (../shared/webtorrent-bench.md, where 1 seeder + 8 leechers took 2.4 × F/X). Baseline, same
// run: one download alone from one holder, which takes about F/X, the fluid model's bound for a
// whole crowd; without swarming a crowd of N would need N·F/X.

import { rmSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type { Testnet, TestnetNode } from "../src/testnet";
import { benchWorkspace, buildBinary, sameContent, writeRandomFile } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    crowds: { type: "string", default: "4,8,16" },
    "size-mib": { type: "string", default: "64" },
    "limit-mb": { type: "string", default: "10" },
    "slow-size-mib": { type: "string", default: "200" },
    "slow-limit-mb": { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const crowds = values.crowds.split(",").map(Number);
const sizeMiB = Number(values["size-mib"]);
const limitMB = Number(values["limit-mb"]);
const slowSizeMiB = Number(values["slow-size-mib"]);
const slowLimitMB = Number(values["slow-limit-mb"]);
/** Targets: the slowest of a crowd within this many F/X; a late joiner within this many F/X of its start. */
const CROWD_TARGET = 1.5;
const LATE_TARGET = 1.0;
/** The late joiner starts when the others are about this far along (as a fraction of F/X). */
const LATE_AFTER = 0.5;
/** A crowd this size fits one testnet beside the holder. */
const MAX_DOWNLOADERS = 64;
if (!crowds.every((size) => Number.isInteger(size) && size >= 1 && size <= MAX_DOWNLOADERS)) fail(`--crowds takes sizes 1..${MAX_DOWNLOADERS}, e.g. 4,8,16`);
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

  // Flash crowds: every downloader starts at once.
  const crowdResults: Array<{ downloaders: number; completed: number; fastest: number; slowest: number }> = [];
  for (const downloaders of crowds) {
    const runs = await withNet(1 + downloaders, limit, async (net) => {
      await client(net, net.nodes[0]!, ["upload", source]);
      const runs = await Promise.all(net.nodes.slice(1).map((node, index) => timedDownload(net, node, source, join(work, `crowd-${downloaders}-${index}.out`), 0)));
      return runs.map(verified);
    });
    for (let index = 0; index < downloaders; index++) rmSync(join(work, `crowd-${downloaders}-${index}.out`), { force: true });
    const completed = runs.filter((run) => run.intact).length;
    const slowest = Math.max(...runs.map((run) => run.seconds));
    const fastest = Math.min(...runs.map((run) => run.seconds));
    crowdResults.push({ downloaders, completed, fastest, slowest });
    say(`crowd of ${String(downloaders).padStart(2)}: ${completed}/${downloaders} intact; fastest ${fastest.toFixed(1)} s, slowest ${slowest.toFixed(1)} s = ${(slowest / ideal).toFixed(2)} x F/X (target <= ${CROWD_TARGET}; WebTorrent 2.4 at 8)`);
    for (const run of runs.filter((entry) => entry.error !== null)) say(`  failed: ${run.error}`);
  }

  // A late joiner: 8 start together, one more when they are about half done.
  const late = await withNet(1 + 8 + 1, limit, async (net) => {
    await client(net, net.nodes[0]!, ["upload", source]);
    const early = net.nodes.slice(1, 9).map((node, index) => timedDownload(net, node, source, join(work, `early-${index}.out`), 0));
    const joiner = timedDownload(net, net.nodes[9]!, source, join(work, "late.out"), LATE_AFTER * ideal * 1000);
    await Promise.all(early);
    return verified(await joiner);
  });
  say(`late joiner (starts at ${LATE_AFTER} x F/X beside 8 others): ${late.intact ? "intact" : `FAILED (${late.error})`} in ${late.seconds.toFixed(1)} s from its start = ${(late.seconds / ideal).toFixed(2)} x F/X (target <= ${LATE_TARGET})`);

  // One long download from one slow holder: one command must do the whole job.
  const slowSource = join(work, "slow.bin");
  writeRandomFile(slowSource, slowSizeMiB);
  const slowIdeal = (slowSizeMiB * 1024 * 1024) / (slowLimitMB * 1e6);
  const slow = await withNet(2, ["--upload-limit", String(slowLimitMB)], async (net) => {
    const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
    await client(net, holder, ["upload", slowSource]);
    return verified(await timedDownload(net, downloader, slowSource, join(work, "slow.out"), 0));
  });
  say(`slow holder: ${slowSizeMiB} MiB at ${slowLimitMB} MB/s in one command: ${slow.intact ? "completed intact" : `FAILED (${slow.error})`} in ${slow.seconds.toFixed(1)} s = ${(slow.seconds / slowIdeal).toFixed(2)} x F/X`);

  if (values.json) {
    console.log(
      JSON.stringify({
        sizeMiB,
        limitMBps: limitMB,
        aloneSeconds: alone,
        idealSeconds: ideal,
        crowds: crowdResults.map((crowd) => ({ ...crowd, slowestToIdeal: crowd.slowest / ideal })),
        lateJoinerSeconds: late.seconds,
        lateJoinerToIdeal: late.seconds / ideal,
        slowCompleted: slow.intact,
        slowSeconds: slow.seconds,
        slowToIdeal: slow.seconds / slowIdeal,
      }),
    );
  }
  if (crowdResults.some((crowd) => crowd.completed < crowd.downloaders) || !late.intact || !slow.intact) process.exitCode = 1;
} finally {
  await cleanup();
}

/**
 * One `p2p client download` of `source`'s file, started after `delayMs`: its time from its own
 * start. Whether the bytes match is checked later, by `verified`, once every download of the run
 * is done: hashing blocks this process, and would add to the times of the downloads still running.
 */
async function timedDownload(net: Testnet, node: TestnetNode, source: string, out: string, delayMs: number) {
  if (delayMs > 0) await Bun.sleep(delayMs);
  const started = performance.now();
  let error: string | null = null;
  try {
    await client<Report>(net, node, ["download", basename(source), "--out", out]);
  } catch (failure) {
    error = (failure as Error).message;
  }
  return { seconds: (performance.now() - started) / 1000, source, out, error };
}

function verified(run: Awaited<ReturnType<typeof timedDownload>>) {
  return { ...run, intact: run.error === null && sameContent(run.source, run.out) };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
