// The web page's costs on a 5-node demo network: its first load (bytes, first paint) in headless Chromium, an idle
// page's CPU on its node, a download with nothing, 20 pages and 20 bare event streams open, and what the page adds to dist/p2p.
//
// bun scripts/bench-web.ts [--loads 5] [--idle-seconds 30] [--idle-pairs 3] [--settle 20] [--size-mib 1024] [--rounds 3] [--pages 20]
//                          [--parts size,load,idle,download] [--json]
// (builds dist/p2p first; needs Debian's chromium, or P2P_CHROMIUM)

import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import puppeteer from "puppeteer-core";
import type { Testnet, TestnetNode } from "../src/testnet";
import { benchWorkspace, buildBinary, median, writeRandomFile } from "./lib/bench";
import { type FirstLoad, baselinePage, coldLoad, cpuPercent, openPages, openStreams, sizeWithoutPage } from "./lib/web-bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    loads: { type: "string", default: "5" },
    "idle-seconds": { type: "string", default: "30" },
    "idle-pairs": { type: "string", default: "3" },
    settle: { type: "string", default: "20" },
    "size-mib": { type: "string", default: "1024" },
    rounds: { type: "string", default: "3" },
    pages: { type: "string", default: "20" },
    parts: { type: "string", default: "size,load,idle,download" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const number = (name: "loads" | "idle-seconds" | "idle-pairs" | "settle" | "size-mib" | "rounds" | "pages") => Number(values[name]);
const [loads, idleSeconds, idlePairs, settleSeconds] = [number("loads"), number("idle-seconds"), number("idle-pairs"), number("settle")];
const [sizeMiB, rounds, pageCount] = [number("size-mib"), number("rounds"), number("pages")];
const valid = [loads, rounds, pageCount, idlePairs].every((n) => Number.isInteger(n) && n >= 1 && n <= 50) && idleSeconds >= 30 && idleSeconds <= 600 && settleSeconds >= 0 && settleSeconds <= 600;
if (!valid || !(Number.isInteger(sizeMiB) && sizeMiB >= 1 && sizeMiB <= 8192)) {
  console.error("--loads, --rounds, --pages and --idle-pairs must be 1..50, --idle-seconds 30..600, --settle 0..600, --size-mib 1..8192");
  process.exit(1);
}
/** What to measure (--parts, comma-separated): a noisy part can be run again alone. */
const PARTS = ["size", "load", "idle", "download"] as const;
const parts = new Set(values.parts.split(","));
if ([...parts].some((part) => !(PARTS as readonly string[]).includes(part))) {
  console.error(`--parts takes ${PARTS.join(",")} (any of them)`);
  process.exit(1);
}
const CHROMIUM = process.env.P2P_CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) {
  console.error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set P2P_CHROMIUM`);
  process.exit(1);
}

const root = join(import.meta.dir, "..");
const binary = buildBinary();
const { work, cleanup, withNet, client } = benchWorkspace(binary);
const say = (line: string) => values.json || console.log(line);
const args = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", ...(process.getuid?.() === 0 ? ["--no-sandbox"] : [])];
const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });

try {
  const size = parts.has("size") ? { withPage: statSync(binary).size, withoutPage: sizeWithoutPage(root) } : null;
  if (size) say(`dist/p2p: ${mb(size.withPage)} MB; built without the page: ${mb(size.withoutPage)} MB; the page adds ${mb(size.withPage - size.withoutPage)} MB (target <= 1 MB)`);

  const figures = await withNet(5, ["--web"], async (net) => {
    const url = await pageUrl(net, net.nodes[0]!);
    const first = parts.has("load") ? await firstLoads(url) : null;
    const idle = parts.has("idle") ? await idleCpu(net.nodes[0]!, url) : null;
    const download = parts.has("download") ? await downloads(net, url) : null;
    return { first, idle, download };
  });
  if (values.json) console.log(JSON.stringify({ size, ...figures }));
} finally {
  await browser.close();
  await cleanup();
}

async function pageUrl(net: Testnet, node: TestnetNode): Promise<string> {
  const printed = Bun.spawnSync([binary, "client", "web", "--node", node.ip], { env: { ...process.env, ...net.env } });
  if (printed.exitCode !== 0) throw new Error(`p2p client web failed: ${printed.stderr.toString()}`);
  return printed.stdout.toString().trim();
}

/** Cold loads, interleaved with the baseline page's; every figure is the median. */
async function firstLoads(url: string) {
  const runs: FirstLoad[] = [];
  const baselineRuns: FirstLoad[] = [];
  const baseline = baselinePage();
  try {
    for (let index = 0; index < loads; index++) {
      baselineRuns.push(await coldLoad(browser, baseline.url));
      runs.push(await coldLoad(browser, url));
    }
  } finally {
    baseline.stop();
  }
  const pick = (field: keyof FirstLoad, from = runs) => median(from.map((run) => run[field]));
  const first = { bytes: pick("bytes"), requests: pick("requests"), firstPaintMs: pick("firstPaintMs"), firstContentfulPaintMs: pick("firstContentfulPaintMs"), snapshotMs: pick("snapshotMs"), baselineFirstContentfulPaintMs: pick("firstContentfulPaintMs", baselineRuns) };
  say(`first load, median of ${loads} cold loads: ${(first.bytes / 1000).toFixed(1)} KB in ${first.requests} requests (target <= 200 KB)`);
  say(`  first paint ${first.firstPaintMs.toFixed(0)} ms, first contentful paint ${first.firstContentfulPaintMs.toFixed(0)} ms (target <= 300 ms); the node's first snapshot shown after ${first.snapshotMs.toFixed(0)} ms`);
  say(`  baseline: a page of the same shape from a bare Bun.serve, first contentful paint ${first.baselineFirstContentfulPaintMs.toFixed(0)} ms`);
  return first;
}

/**
 * The node's CPU in windows of --idle-seconds, alternating no page and one page open (--idle-pairs of each, then a
 * last window with no page): the node's own upkeep moves by more than the target from one window to the next, so
 * the page's cost is the mean of its windows minus the mean of those around them.
 */
async function idleCpu(node: TestnetNode, url: string) {
  await Bun.sleep(settleSeconds * 1000);
  const pid = node.process.pid;
  const none: number[] = [await cpuPercent(pid, idleSeconds)];
  const open: number[] = [];
  for (let pair = 0; pair < idlePairs; pair++) {
    const pages = await openPages(browser, url, 1);
    open.push(await cpuPercent(pid, idleSeconds).finally(() => pages.close()));
    none.push(await cpuPercent(pid, idleSeconds));
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const cost = mean(open) - mean(none);
  const list = (values: number[]) => values.map((value) => value.toFixed(3)).join(", ");
  say(`idle CPU of the node in windows of ${idleSeconds} s: no page ${list(none)} %; one page open ${list(open)} % of a core`);
  say(`  an open page costs its node ${cost.toFixed(3)} % of a core (target <= 0.1 %): mean ${mean(open).toFixed(3)} % open against ${mean(none).toFixed(3)} % with none`);
  return { none, open, cost };
}

/**
 * Downloads of one file from one holder, rounds alternating which goes first: with nothing open, with `pageCount`
 * pages open in Chromium on the downloader (the browser renders them on the same 2 cores), and with as many bare
 * event streams (the node's own share of that cost).
 */
async function downloads(net: Testnet, url: string) {
  const [downloader, holder] = net.nodes as [TestnetNode, TestnetNode];
  const source = join(work, "web-bench.bin");
  writeRandomFile(source, sizeMiB);
  await client(net, holder, ["upload", source]);
  const out = join(work, "web-bench.out");
  const kinds = ["none", "pages", "streams"] as const;
  const times: Record<(typeof kinds)[number], number[]> = { none: [], pages: [], streams: [] };
  const once = async (kind: (typeof kinds)[number]) => {
    const open = kind === "pages" ? await openPages(browser, url, pageCount) : kind === "streams" ? await openStreams(url, pageCount) : null;
    try {
      const report = await client<{ milliseconds: number }>(net, downloader, ["download", "web-bench.bin", "--out", out, "--force"]);
      times[kind].push(report.milliseconds / 1000);
    } finally {
      await open?.close();
      // Removed, or the next round's downloader would be a source of its own copy.
      rmSync(out, { force: true });
    }
  };
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < kinds.length; index++) await once(kinds[(index + round) % kinds.length]!);
  }
  const [none, pages, streams] = kinds.map((kind) => median(times[kind])) as [number, number, number];
  const slower = (seconds: number) => ((seconds - none) / none) * 100;
  say(`${sizeMiB} MiB from one holder, medians of ${rounds} rounds: nothing open ${none.toFixed(2)} s; ${pageCount} Chromium pages open ${pages.toFixed(2)} s, ${slower(pages).toFixed(1)} % slower; ${pageCount} bare event streams ${streams.toFixed(2)} s, ${slower(streams).toFixed(1)} % slower (target <= 5 %)`);
  const list = (kind: (typeof kinds)[number]) => times[kind].map((seconds) => seconds.toFixed(2)).join(", ");
  say(`  every round: nothing ${list("none")} s; pages ${list("pages")} s; streams ${list("streams")} s`);
  return { sizeMiB, noPageSeconds: none, pagesSeconds: pages, streamsSeconds: streams, pages: pageCount, pagesSlowerPercent: slower(pages), streamsSlowerPercent: slower(streams), rounds: times };
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(2);
}
