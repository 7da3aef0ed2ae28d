// bench-transfer's side-by-side figures: one holder beside WebTorrent, and small transfers against `client status`.

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Testnet, TestnetNode } from "../../src/testnet";
import { median, sameContent, writeRandomFile } from "./bench";
import { findWebTorrent, leechSeconds, startSeeder } from "./webtorrent";

type Client = <T>(net: Testnet, node: TestnetNode, args: string[]) => Promise<T>;

/** WebTorrent's seeder listens here on 127.0.0.1 and its leecher on the next port. */
const WEBTORRENT_PORT = 46_881;

/**
 * `mib` MiB from one holder, p2p and WebTorrent taking turns (p2p, WebTorrent, p2p, ...) so that the
 * load of the other helpers on this machine weighs on both alike. Each side is timed from a fresh
 * download to the file complete on disk (p2p: the node's own figure; WebTorrent: its leecher's `done`).
 */
export async function compareSingleHolder(options: { net: Testnet; work: string; mib: number; rounds: number; client: Client; webtorrentDir?: string }) {
  const { net, work, mib, rounds, client } = options;
  const found = findWebTorrent(options.webtorrentDir);
  if ("missing" in found) return { missing: found.missing };
  const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
  const source = join(work, "compare.bin");
  writeRandomFile(source, mib);
  await client(net, holder, ["upload", source]);
  const seeder = await startSeeder(found.entry, source, work, WEBTORRENT_PORT);
  const p2pRuns: number[] = [];
  const webtorrentRuns: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const out = join(work, "compare.out");
      const report = await client<{ milliseconds: number }>(net, downloader, ["download", "compare.bin", "--out", out, "--force"]);
      p2pRuns.push(report.milliseconds / 1000);
      if (!sameContent(source, out)) throw new Error(`${out} differs from ${source}`);
      rmSync(out);
      const outDir = join(work, "wt-out");
      rmSync(outDir, { recursive: true, force: true });
      mkdirSync(outDir);
      webtorrentRuns.push(await leechSeconds(found.entry, seeder, outDir, work));
      if (!sameContent(source, join(outDir, "compare.bin"))) throw new Error("WebTorrent's copy differs from the source");
      rmSync(outDir, { recursive: true, force: true });
    }
  } finally {
    await seeder.stop();
  }
  const p2pSeconds = median(p2pRuns);
  const webtorrentSeconds = median(webtorrentRuns);
  return { p2pSeconds, webtorrentSeconds, ratio: webtorrentSeconds / p2pSeconds, p2pRuns, webtorrentRuns };
}

/**
 * The fixed cost of small transfers, wall time of whole client processes as a user sees it, in interleaved
 * rounds: `p2p --version`, `client status`, a 1 MiB download (a new file name each round) and a search.
 */
export async function smallTransfers(options: { net: Testnet; binary: string; work: string; rounds: number; client: Client }) {
  const { net, binary, work, rounds, client } = options;
  const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
  const source = join(work, "small.bin");
  writeRandomFile(source, 1);
  await client(net, holder, ["upload", source]);
  const wall = async (args: string[]) => {
    const started = performance.now();
    const proc = Bun.spawn([binary, ...args], { env: net.env, stdout: "ignore", stderr: "pipe" });
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`p2p ${args.join(" ")} failed: ${err.trim()}`);
    return performance.now() - started;
  };
  const runs = { version: [] as number[], status: [] as number[], download: [] as number[], search: [] as number[] };
  const on = ["--node", downloader.ip];
  for (let round = 0; round < rounds; round++) {
    runs.version.push(await wall(["--version"]));
    runs.status.push(await wall(["client", "status", ...on]));
    const out = join(work, `small-${round}.out`);
    runs.download.push(await wall(["client", "download", "small.bin", "--out", out, ...on]));
    if (!sameContent(source, out)) throw new Error(`${out} differs from ${source}`);
    runs.search.push(await wall(["client", "search", "small", ...on]));
  }
  const [versionMs, statusMs, downloadMs, searchMs] = [runs.version, runs.status, runs.download, runs.search].map(median) as [number, number, number, number];
  return { versionMs, statusMs, downloadMs, searchMs, downloadPerStatus: downloadMs / statusMs, searchPerStatus: searchMs / statusMs };
}
