// Benchmarks the ring with real processes: convergence of 16 nodes, repair after 3 SIGKILLs, idle memory.
//
// bun scripts/bench-ring.ts [--nodes 16] [--kill 3] [--json]   (builds dist/p2p first)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTestnet } from "../src/testnet";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { nodes: { type: "string", default: "16" }, kill: { type: "string", default: "3" }, json: { type: "boolean", default: false } },
  strict: true,
});
const nodeCount = Number(values.nodes);
const killCount = Number(values.kill);
if (!(Number.isInteger(nodeCount) && nodeCount >= 2 && nodeCount <= 200) || !(Number.isInteger(killCount) && killCount >= 0 && killCount < nodeCount)) {
  console.error("--nodes must be 2..200 and --kill 0..nodes-1");
  process.exit(1);
}

const root = join(import.meta.dir, "..");
const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdout: "ignore", stderr: "inherit" });
if (build.exitCode !== 0) process.exit(1);
const binary = join(root, "dist", "p2p");

// Baseline: the same runtime doing nothing, measured in this run on this machine.
const baselineRss = await idleRss();

const started = Date.now();
const net = await createTestnet({ nodes: nodeCount, executable: [binary] });
// Ctrl-C or a timeout must not leave node processes behind.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void net.close().finally(() => process.exit(130)));
try {
  await net.waitForConsistentRing(60_000);
  const convergeMs = Date.now() - started;

  // Adjacent victims: the hardest case a successor list of 4 must survive.
  const sorted = [...net.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
  const victims = sorted.slice(1, 1 + killCount);
  const killedAt = Date.now();
  await Promise.all(victims.map((node) => net.stopNode(node, "SIGKILL")));
  await net.waitForConsistentRing(60_000);
  const repairMs = Date.now() - killedAt;

  await Bun.sleep(3_000); // let the nodes go idle before reading their memory
  const rss = net.liveNodes().map((node) => rssOf(node.process.pid));
  const report = {
    nodes: nodeCount,
    killedAdjacent: killCount,
    convergeSeconds: convergeMs / 1000,
    repairSeconds: repairMs / 1000,
    idleRssMbMax: Math.max(...rss),
    idleRssMbMean: rss.reduce((sum, value) => sum + value, 0) / rss.length,
    baselineRssMb: baselineRss,
    rssRatioToBaseline: Math.max(...rss) / baselineRss,
    targets: { convergeSeconds: 10, repairSeconds: 10, idleRssMb: 60 },
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(`ring of ${nodeCount} real nodes (dist/p2p) on loopback`);
    console.log(`  consistent after start:        ${report.convergeSeconds.toFixed(2)} s (target <= 10 s)`);
    console.log(`  consistent after ${killCount} SIGKILLs:    ${report.repairSeconds.toFixed(2)} s (target <= 10 s)`);
    console.log(`  idle RSS per node:             max ${report.idleRssMbMax.toFixed(1)} MB, mean ${report.idleRssMbMean.toFixed(1)} MB (target <= 60 MB)`);
    console.log(`  baseline: an idle bun runtime  ${baselineRss.toFixed(1)} MB (ratio ${report.rssRatioToBaseline.toFixed(2)})`);
  }
} finally {
  await net.close();
}

/** RSS in MB of a process, from /proc. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** The RSS of the Bun runtime idling with nothing loaded: the floor any node sits on. */
async function idleRss(): Promise<number> {
  const idle = Bun.spawn([process.execPath, "-e", "setInterval(() => {}, 1000)"], { stdout: "ignore", stderr: "ignore" });
  try {
    await Bun.sleep(1_000);
    return rssOf(idle.pid);
  } finally {
    idle.kill("SIGKILL");
    await idle.exited;
  }
}
