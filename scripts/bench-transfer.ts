// Benchmarks transfers against `curl -o` from a Bun.serve static server, in the same run, to the same disk.
//
// bun scripts/bench-transfer.ts [--size-mib 1024] [--limit-mb 20] [--json]   (builds dist/p2p first)

import { join } from "node:path";
import { parseArgs } from "node:util";
import type { TestnetNode } from "../src/testnet";
import { benchWorkspace, buildBinary, curlSeconds, mbps, median, peakRss, residentMemory, sameContent, sampleMemory, writeRandomFile } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "size-mib": { type: "string", default: "1024" },
    "limit-mb": { type: "string", default: "20" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const sizeMiB = Number(values["size-mib"]);
const limitMB = Number(values["limit-mb"]);
if (!(Number.isInteger(sizeMiB) && sizeMiB >= 1 && sizeMiB <= 8192) || !(limitMB > 0 && limitMB <= 1000)) {
  console.error("--size-mib must be 1..8192 and --limit-mb more than 0");
  process.exit(1);
}

/** Each figure is the median of this many rounds (curl, curl + fsync, p2p): the disk here is shared and noisy. */
const RUNS = 3;

const binary = buildBinary();
const { work, cleanup, withNet, client } = benchWorkspace(binary);
const say = (line: string) => values.json || console.log(line);

try {
  const source = join(work, "source.bin");
  writeRandomFile(source, sizeMiB);
  const bytes = sizeMiB * 1024 * 1024;

  // One holder, unlimited, against two baselines: curl fetching the same file over loopback from Bun's static file
  // server to the same disk, and curl then fsync (p2p fsyncs a finished download before renaming it into place).
  // Each round runs the three back to back, so the disk's writeback of the last gigabyte weighs on all three alike.
  const curlRuns: number[] = [];
  const curlSyncRuns: number[] = [];
  const single = await withNet(2, [], async (net) => {
    const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
    const hashStart = performance.now();
    await client(net, holder, ["upload", source]);
    const hashSeconds = (performance.now() - hashStart) / 1000;
    const out = join(work, "p2p.out");
    const idle = residentMemory(downloader.process.pid);
    let firstRun: { rssMb: number; anonMb: number } | null = null;
    const runs = await repeat(async () => {
      curlRuns.push(await curlSeconds(source, join(work, "curl.out")));
      curlSyncRuns.push(await curlSeconds(source, join(work, "curl.out"), { fsync: true }));
      const memory = sampleMemory(downloader.process.pid);
      const report = await client<{ milliseconds: number }>(net, downloader, ["download", "source.bin", "--out", out, "--force"]);
      firstRun ??= memory.stop();
      memory.stop();
      verifySame(source, out);
      return report.milliseconds / 1000;
    });
    return { hashSeconds, seconds: median(runs), peakRssMb: peakRss(downloader.process.pid), idle, firstRun: firstRun! };
  });
  const curlMedian = median(curlRuns);
  const curlRate = bytes / curlMedian;
  say(`baseline: curl -o from Bun.serve      ${mbps(curlRate)} MB/s (${curlMedian.toFixed(2)} s for ${sizeMiB} MiB)`);
  const curlSyncSeconds = median(curlSyncRuns);
  const curlSyncRate = bytes / curlSyncSeconds;
  say(`baseline: curl -o, then fsync        ${mbps(curlSyncRate)} MB/s (${curlSyncSeconds.toFixed(2)} s)`);
  const singleRate = bytes / single.seconds;
  say(`p2p, 1 holder:                        ${mbps(singleRate)} MB/s (${single.seconds.toFixed(2)} s) = ${(singleRate / curlRate).toFixed(2)} x curl (target >= 0.8), ${(singleRate / curlSyncRate).toFixed(2)} x curl + fsync`);
  say(`  hashing on upload:                  ${mbps(bytes / single.hashSeconds)} MB/s`);
  say(`  peak RSS of the downloading node:   ${single.peakRssMb.toFixed(0)} MB over ${RUNS} downloads (target <= 100 MB); idle before them ${single.idle.rssMb.toFixed(0)} MB`);
  say(`    first download, sampled:          ${single.firstRun.rssMb.toFixed(0)} MB resident, of which private ${single.firstRun.anonMb.toFixed(0)} MB (idle: ${single.idle.anonMb.toFixed(0)} MB private; the rest is the executable's own pages)`);

  // Three holders, each capped at --upload-limit X: the download should approach 3 X.
  const limitedMiB = Math.min(sizeMiB, Math.max(8, Math.round(limitMB * 3 * 5)));
  const limitedSource = join(work, "limited.bin");
  writeRandomFile(limitedSource, limitedMiB);
  const multi = await withNet(4, ["--upload-limit", String(limitMB)], async (net) => {
    const holders = net.nodes.slice(0, 3);
    for (const holder of holders) await client(net, holder, ["upload", limitedSource]);
    const report = await client<{ milliseconds: number; sources: string[] }>(net, net.nodes[3]!, ["download", "limited.bin", "--out", join(work, "limited.out")]);
    verifySame(limitedSource, join(work, "limited.out"));
    return { seconds: report.milliseconds / 1000, sources: report.sources.length };
  });
  const multiRate = (limitedMiB * 1024 * 1024) / multi.seconds;
  const limitRate = limitMB * 1_000_000;
  say(`p2p, 3 holders at --upload-limit ${limitMB}: ${mbps(multiRate)} MB/s from ${multi.sources} sources = ${(multiRate / limitRate).toFixed(2)} x the limit (target >= 2.5)`);

  if (values.json) {
    console.log(
      JSON.stringify({
        sizeMiB,
        curlMBps: curlRate / 1e6,
        curlFsyncMBps: curlSyncRate / 1e6,
        singleHolderRatioToCurlFsync: singleRate / curlSyncRate,
        singleHolderMBps: singleRate / 1e6,
        singleHolderRatioToCurl: singleRate / curlRate,
        hashMBps: bytes / single.hashSeconds / 1e6,
        peakRssMb: single.peakRssMb,
        idleRssMb: single.idle.rssMb,
        firstDownloadPeakRssMb: single.firstRun.rssMb,
        firstDownloadPeakPrivateMb: single.firstRun.anonMb,
        limitMBps: limitMB,
        threeHoldersMBps: multiRate / 1e6,
        threeHoldersRatioToLimit: multiRate / limitRate,
      }),
    );
  }
} finally {
  await cleanup();
}

async function repeat(run: () => Promise<number>): Promise<number[]> {
  const results: number[] = [];
  for (let index = 0; index < RUNS; index++) results.push(await run());
  return results;
}

function verifySame(a: string, b: string): void {
  if (!sameContent(a, b)) throw new Error(`${b} differs from ${a}`);
}
