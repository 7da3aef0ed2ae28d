// Benchmarks transfers against `curl -o` from a Bun.serve static server, in the same run, to the same disk.
//
// Also, in interleaved rounds on one testnet: 256 MiB from one holder beside WebTorrent (seeder -> leecher), and the
// fixed cost of small transfers (1 MiB download, search) as ratios to `client status` and `p2p --version`.
//
// bun scripts/bench-transfer.ts [--size-mib 1024] [--limit-mb 20] [--compare-mib 256] [--rounds 5]
//                               [--webtorrent-dir /tmp/wt-bench] [--json]   (builds dist/p2p first)
// WebTorrent is found in --webtorrent-dir or P2P_WEBTORRENT_DIR; when it is missing the script says how to install it.

import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { TestnetNode } from "../src/testnet";
import { compareSingleHolder, smallTransfers } from "./lib/bench-compare";
import { benchWorkspace, buildBinary, curlSeconds, mbps, median, peakRss, residentMemory, sameContent, sampleMemory, writeRandomFile } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "size-mib": { type: "string", default: "1024" },
    "limit-mb": { type: "string", default: "20" },
    "compare-mib": { type: "string", default: "256" },
    rounds: { type: "string", default: "5" },
    "webtorrent-dir": { type: "string" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const sizeMiB = Number(values["size-mib"]);
const limitMB = Number(values["limit-mb"]);
const compareMiB = Number(values["compare-mib"]);
const rounds = Number(values.rounds);
const sizesOk = [sizeMiB, compareMiB].every((mib) => Number.isInteger(mib) && mib >= 1 && mib <= 8192);
if (!sizesOk || !(limitMB > 0 && limitMB <= 1000) || !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 50)) {
  console.error("--size-mib and --compare-mib must be 1..8192, --limit-mb more than 0, --rounds 1..50");
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
      // Removed, or the next round's downloader would be a source of its own copy: one holder means one.
      rmSync(out);
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

  const small = await withNet(2, [], (net) => smallTransfers({ net, binary, work, rounds, client }));
  say(`small transfers, medians of ${rounds} interleaved rounds: --version ${small.versionMs.toFixed(0)} ms, client status ${small.statusMs.toFixed(0)} ms`);
  say(`  1 MiB download: ${small.downloadMs.toFixed(0)} ms = ${small.downloadPerStatus.toFixed(2)} x status (target <= 2), ${(small.downloadMs / small.versionMs).toFixed(2)} x --version`);
  say(`  search:         ${small.searchMs.toFixed(0)} ms = ${small.searchPerStatus.toFixed(2)} x status, ${(small.searchMs / small.versionMs).toFixed(2)} x --version`);

  const compared = await withNet(2, [], (net) => compareSingleHolder({ net, work, mib: compareMiB, rounds, client, webtorrentDir: values["webtorrent-dir"] }));
  if ("missing" in compared) say(`p2p beside WebTorrent: skipped. ${compared.missing}`);
  else {
    say(`p2p beside WebTorrent, ${compareMiB} MiB from one holder, medians of ${rounds} interleaved rounds:`);
    say(`  p2p ${compared.p2pSeconds.toFixed(2)} s, WebTorrent ${compared.webtorrentSeconds.toFixed(2)} s: p2p ${compared.ratio.toFixed(2)} x as fast (target >= 3.5)`);
  }

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
        small,
        webtorrent: compared,
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
