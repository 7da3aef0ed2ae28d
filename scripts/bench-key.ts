// Benchmarks the private network's cost: one-holder download with and without --key, next to curl from Bun.serve, same run, same disk.
//
// bun scripts/bench-key.ts [--size-mib 512] [--json]   (builds dist/p2p first)

import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Testnet, TestnetNode } from "../src/testnet";
import { benchWorkspace, buildBinary, cpuMs, curlSeconds, mbps, median, peakRss, sameContent, writeRandomFile } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { "size-mib": { type: "string", default: "512" }, json: { type: "boolean", default: false } },
  strict: true,
});
const sizeMiB = Number(values["size-mib"]);
if (!(Number.isInteger(sizeMiB) && sizeMiB >= 1 && sizeMiB <= 8192)) {
  console.error("--size-mib must be 1..8192");
  process.exit(1);
}

/** Rounds; each round times curl, the open network and the keyed one back to back, so load on this shared machine hits all three alike. */
const ROUNDS = 3;

const binary = buildBinary();
const { work, cleanup, withNet, client } = benchWorkspace(binary);
const say = (line: string) => values.json || console.log(line);

try {
  const source = join(work, "source.bin");
  writeRandomFile(source, sizeMiB);
  const bytes = sizeMiB * 1024 * 1024;
  const times = { curl: [] as number[], open: [] as number[], keyed: [] as number[] };
  /** CPU milliseconds the holder and the downloader spent per download: where the cipher's cost shows, whatever the load. */
  const cpu = { open: { holder: [] as number[], downloader: [] as number[] }, keyed: { holder: [] as number[], downloader: [] as number[] } };
  const peakRssMb = { open: 0, keyed: 0 };

  await withNet(2, [], (open) =>
    withNet(
      2,
      [],
      async (keyed) => {
        const downloaders = { open: await ready(open), keyed: await ready(keyed) };
        const holders = { open: open.nodes[0]!, keyed: keyed.nodes[0]! };
        for (let round = 0; round < ROUNDS; round++) {
          times.curl.push(await curlSeconds(source, join(work, "curl.out")));
          for (const kind of ["open", "keyed"] as const) {
            const before = [cpuMs(holders[kind].process.pid), cpuMs(downloaders[kind].process.pid)];
            times[kind].push(await downloadSeconds(kind === "open" ? open : keyed, downloaders[kind], kind));
            cpu[kind].holder.push(cpuMs(holders[kind].process.pid) - before[0]!);
            cpu[kind].downloader.push(cpuMs(downloaders[kind].process.pid) - before[1]!);
          }
        }
        for (const kind of ["open", "keyed"] as const) peakRssMb[kind] = peakRss(downloaders[kind].process.pid);
      },
      { key: true },
    ),
  );

  const rate = (seconds: number[]) => bytes / median(seconds);
  const curlRate = rate(times.curl);
  const openRate = rate(times.open);
  const keyedRate = rate(times.keyed);
  say(`${sizeMiB} MiB, one holder, median of ${ROUNDS} interleaved rounds:`);
  say(`  curl -o from Bun.serve:   ${mbps(curlRate)} MB/s`);
  say(`  p2p, open network:        ${mbps(openRate)} MB/s = ${(openRate / curlRate).toFixed(2)} x curl`);
  say(`  p2p, --key:               ${mbps(keyedRate)} MB/s = ${(keyedRate / curlRate).toFixed(2)} x curl (target >= 0.5), ${(keyedRate / openRate).toFixed(2)} x open`);
  const perGiB = (ms: number[]) => (median(ms) * 1024) / sizeMiB;
  say(`  CPU per GiB, holder:      ${perGiB(cpu.open.holder).toFixed(0)} ms open, ${perGiB(cpu.keyed.holder).toFixed(0)} ms with --key`);
  say(`  CPU per GiB, downloader:  ${perGiB(cpu.open.downloader).toFixed(0)} ms open, ${perGiB(cpu.keyed.downloader).toFixed(0)} ms with --key`);
  say(`  peak RSS, downloader:     ${peakRssMb.open.toFixed(0)} MB open, ${peakRssMb.keyed.toFixed(0)} MB with --key`);
  if (values.json) {
    console.log(
      JSON.stringify({
        sizeMiB,
        curlMBps: curlRate / 1e6,
        openMBps: openRate / 1e6,
        keyedMBps: keyedRate / 1e6,
        keyedRatioToCurl: keyedRate / curlRate,
        keyedRatioToOpen: keyedRate / openRate,
        seconds: times,
        cpuMs: cpu,
        peakRssMb,
      }),
    );
  }

  /** Uploads the source on the first node; returns the second, the downloader. */
  async function ready(net: Testnet): Promise<TestnetNode> {
    const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
    await client(net, holder, ["upload", source]);
    return downloader;
  }

  async function downloadSeconds(net: Testnet, downloader: TestnetNode, kind: string): Promise<number> {
    const out = join(work, `${kind}.out`);
    const report = await client<{ milliseconds: number }>(net, downloader, ["download", "source.bin", "--out", out, "--force"]);
    if (!sameContent(source, out)) throw new Error(`${out} differs from ${source}`);
    return report.milliseconds / 1000;
  }
} finally {
  await cleanup();
}
