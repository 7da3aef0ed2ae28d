// Idle cost of a ring at rest against its repair time: CPU per node from /proc over a quiet spell, then one kill -9 repaired.
//
// bun scripts/bench-idle.ts [--nodes 16] [--seconds 30] [--settle 20] [--baseline-binary <path to another p2p>] [--json]
// (builds dist/p2p first; with --baseline-binary, the same measurement of that binary runs first, in the same run)

import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTestnet } from "../src/testnet";
import { CLOCK_TICKS_PER_SECOND, cpuTicks } from "../src/testnet/cpu-calm";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nodes: { type: "string", default: "16" },
    seconds: { type: "string", default: "30" },
    settle: { type: "string", default: "20" },
    "baseline-binary": { type: "string" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const nodeCount = Number(values.nodes);
const seconds = Number(values.seconds);
const settleSeconds = Number(values.settle);
if (!(Number.isInteger(nodeCount) && nodeCount >= 2 && nodeCount <= 200) || !(seconds >= 5 && seconds <= 600) || !(settleSeconds >= 0 && settleSeconds <= 600)) {
  console.error("--nodes must be 2..200, --seconds 5..600 and --settle 0..600");
  process.exit(1);
}

type Figures = { binary: string; nodes: number; convergeMs: number; cpuPercentPerNode: number; cpuPercentAll: number; repairMs: number };

const root = join(import.meta.dir, "..");
const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdout: "ignore", stderr: "inherit" });
if (build.exitCode !== 0) process.exit(1);
const binaries = [values["baseline-binary"], join(root, "dist", "p2p")].filter((binary): binary is string => binary !== undefined);

const results: Figures[] = [];
for (const binary of binaries) results.push(await measure(binary));

if (values.json) {
  console.log(JSON.stringify(results));
} else {
  for (const row of results) {
    console.log(
      `${row.binary}: ${row.nodes} nodes, consistent after ${(row.convergeMs / 1000).toFixed(1)} s; idle CPU ${row.cpuPercentPerNode.toFixed(3)} % of a core per node ` +
        `(${row.cpuPercentAll.toFixed(2)} % all nodes, over ${seconds} s after ${settleSeconds} s at rest); one kill -9 at rest repaired in ${(row.repairMs / 1000).toFixed(1)} s`,
    );
  }
  if (results.length === 2) {
    const [before, after] = results as [Figures, Figures];
    console.log(`idle CPU per node: ${(after.cpuPercentPerNode / before.cpuPercentPerNode).toFixed(3)} x the baseline; repair ${(after.repairMs / before.repairMs).toFixed(2)} x`);
  }
}

async function measure(binary: string): Promise<Figures> {
  const started = Date.now();
  const net = await createTestnet({ nodes: nodeCount, executable: [binary] });
  // Ctrl-C or a timeout must not leave node processes behind.
  const stop = () => void net.close().finally(() => process.exit(130));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await net.waitForConsistentRing(120_000);
    const convergeMs = Date.now() - started;
    // The ring at rest: maintenance has backed off (or not, on a binary that does not) before the clock starts.
    await Bun.sleep(settleSeconds * 1000);
    const pids = net.liveNodes().map((node) => node.process.pid);
    const before = pids.map(cpuTicks);
    const from = performance.now();
    await Bun.sleep(seconds * 1000);
    const elapsed = (performance.now() - from) / 1000;
    const used = pids.map((pid, index) => cpuTicks(pid) - before[index]!);
    const cpuPercentAll = (100 * used.reduce((sum, ticks) => sum + ticks, 0)) / CLOCK_TICKS_PER_SECOND / elapsed;
    // One crash at rest: how long until every successor and predecessor is right again.
    const victim = net.liveNodes()[Math.floor(nodeCount / 2)]!;
    const killedAt = Date.now();
    await net.stopNode(victim, "SIGKILL");
    await net.waitForConsistentRing(120_000);
    const repairMs = Date.now() - killedAt;
    return { binary, nodes: nodeCount, convergeMs, cpuPercentPerNode: cpuPercentAll / pids.length, cpuPercentAll, repairMs };
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await net.close();
  }
}

