// Benchmarks the ring under churn with real processes: kill -9 and restart of a random node every few seconds,
// with a download between two nodes that are never churned running through it.
//
// bun scripts/bench-churn.ts [--nodes 12] [--period 2] [--duration 60] [--size-mib 200] [--limit-mb 4] [--files 20] [--json]
// (builds dist/p2p first)

import { join } from "node:path";
import { parseArgs } from "node:util";
import { nameKey } from "../src/node/files/names";
import type { RecordEntry } from "../src/model/record";
import { createTestnet, type Testnet, type TestnetNode } from "../src/testnet";
import { writeRandomFile } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nodes: { type: "string", default: "12" },
    period: { type: "string", default: "2" },
    duration: { type: "string", default: "60" },
    "size-mib": { type: "string", default: "200" },
    "limit-mb": { type: "string", default: "4" },
    files: { type: "string", default: "20" },
    graceful: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const nodeCount = Number(values.nodes);
const periodSeconds = Number(values.period);
const durationSeconds = Number(values.duration);
const sizeMiB = Number(values["size-mib"]);
const limitMB = Number(values["limit-mb"]);
const fileCount = Number(values.files);
const gracefulCount = Number(values.graceful);
if (
  !(Number.isInteger(nodeCount) && nodeCount >= 4 && nodeCount <= 100) ||
  !(periodSeconds >= 0.2 && periodSeconds <= 60) ||
  !(durationSeconds >= 1 && durationSeconds <= 3600) ||
  !(Number.isInteger(sizeMiB) && sizeMiB >= 1 && sizeMiB <= 4096) ||
  !(limitMB > 0 && limitMB <= 1000) ||
  !(Number.isInteger(fileCount) && fileCount >= 0 && fileCount <= 1000) ||
  !(Number.isInteger(gracefulCount) && gracefulCount >= 0 && gracefulCount <= nodeCount - 2)
) {
  console.error("--nodes 4..100, --period 0.2..60 s, --duration 1..3600 s, --size-mib 1..4096, --limit-mb > 0, --files 0..1000, --graceful 0..nodes-2");
  process.exit(1);
}
/** How long the graceful-restart phase waits for a restarted node's files before calling them lost. */
const FINDABLE_GIVE_UP_MS = 30_000;
/** The issue's targets: a consistent ring this soon after the churn stops (stretch: 3 s); files findable 10 s after that. */
const TARGET_CONSISTENT_SECONDS = 10;
const STRETCH_CONSISTENT_SECONDS = 3;
const TARGET_FINDABLE_SECONDS = 10;

const root = join(import.meta.dir, "..");
if (Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdout: "ignore", stderr: "inherit" }).exitCode !== 0) process.exit(1);
const binary = join(root, "dist", "p2p");
const say = (line: string) => values.json || console.log(line);

// Every node serves at --upload-limit, so the download lasts about as long as the churn.
const net = await createTestnet({ nodes: nodeCount, executable: [binary], nodeArgs: ["--upload-limit", String(limitMB)] });
// Ctrl-C or a timeout must not leave node processes behind.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void net.close().finally(() => process.exit(130)));
try {
  await net.waitForConsistentRing(60_000);
  // The seeder and the downloader are never churned.
  const [seeder, downloader] = net.nodes as [TestnetNode, TestnetNode];
  // Two files of the same size: a downloader that already holds the baseline's file would serve itself.
  for (const name of ["baseline.bin", "through-churn.bin"]) {
    writeRandomFile(join(net.home, name), sizeMiB);
    await client(net, seeder, ["upload", join(net.home, name)]);
  }
  const names: { name: string; holder: string }[] = [];
  for (let index = 0; index < fileCount; index++) {
    const holder = net.nodes[index % net.nodes.length]!;
    const name = `churn-file-${index}.txt`;
    const path = join(net.home, name);
    await Bun.write(path, `file ${index} shared by ${holder.address}\n`);
    await net.control(holder, "UPLOAD", [path, name]);
    names.push({ name, holder: holder.address });
  }

  // Baseline: the same download with no churn, in this run.
  const baseline = await timedDownload(net, downloader, "baseline.bin");
  say(`baseline: ${sizeMiB} MiB at --upload-limit ${limitMB} MB/s, no churn: ${baseline.seconds.toFixed(1)} s, intact: ${baseline.intact ? "yes" : "no"}`);

  const download = timedDownload(net, downloader, "through-churn.bin");
  const churnable = () => net.nodes.filter((node) => node !== seeder && node !== downloader);
  let restarts = 0;
  let lastRestartAt = Date.now();
  const churnEnd = Date.now() + durationSeconds * 1000;
  for (let round = 0; Date.now() < churnEnd && round < 100_000; round++) {
    const tick = Date.now();
    const candidates = churnable();
    const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
    await net.stopNode(victim, "SIGKILL");
    await net.restartNode(victim, { waitForJoin: false });
    lastRestartAt = Date.now();
    restarts++;
    // The churn ends with its last restart: the clock for "consistent again" starts there, not a period later.
    if (tick + periodSeconds * 1000 >= churnEnd) break;
    await Bun.sleep(Math.max(0, periodSeconds * 1000 - (Date.now() - tick)));
  }
  await net.waitForNodesInRing(60_000);
  const joinedSeconds = (Date.now() - lastRestartAt) / 1000;
  await net.waitForConsistentRing(120_000);
  const consistentSeconds = (Date.now() - lastRestartAt) / 1000;
  const unfindableAtConsistent = (await findableFlags(net, downloader, names)).filter((found) => !found).length;
  const findableStart = Date.now();
  let findableSeconds: number | null = null;
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await findableFlags(net, downloader, names)).every(Boolean)) {
      findableSeconds = (Date.now() - findableStart) / 1000;
      break;
    }
    if (Date.now() - findableStart > 60_000) break;
    await Bun.sleep(200);
  }
  const churned = await download;

  // Graceful restarts: the node withdraws its files (tombstones) as it leaves, then announces them again.
  const graceful: { node: string; files: number; unfindableWhenConsistent: number; findableSeconds: number | null }[] = [];
  for (const node of churnable().slice(0, gracefulCount)) {
    const own = names.filter((file) => file.holder === node.address);
    await net.stopNode(node, "SIGTERM");
    await net.waitForConsistentRing(60_000);
    await net.restartNode(node);
    await net.waitForConsistentRing(60_000);
    const consistentAt = Date.now();
    const unfindable = (await findableFlags(net, downloader, own)).filter((found) => !found).length;
    let seconds: number | null = null;
    for (let attempt = 0; attempt < 1000 && Date.now() - consistentAt < FINDABLE_GIVE_UP_MS; attempt++) {
      if ((await findableFlags(net, downloader, own)).every(Boolean)) {
        seconds = (Date.now() - consistentAt) / 1000;
        break;
      }
      await Bun.sleep(200);
    }
    graceful.push({ node: node.address, files: own.length, unfindableWhenConsistent: unfindable, findableSeconds: seconds });
  }
  const gracefulFiles = graceful.reduce((sum, run) => sum + run.files, 0);
  const gracefulLost = graceful.filter((run) => run.findableSeconds === null).reduce((sum, run) => sum + run.files, 0);
  const gracefulWorst = Math.max(0, ...graceful.map((run) => run.findableSeconds ?? Number.POSITIVE_INFINITY));

  const report = {
    nodes: nodeCount,
    periodSeconds,
    durationSeconds,
    restarts,
    consistentSecondsAfterChurn: consistentSeconds,
    lastRestartedNodeInRingSeconds: joinedSeconds,
    files: fileCount,
    unfindableWhenConsistent: unfindableAtConsistent,
    allFindableSecondsAfterConsistent: findableSeconds,
    gracefulRestarts: { restarts: graceful.length, files: gracefulFiles, notFindableWithin30s: gracefulLost, worstFindableSeconds: gracefulWorst, runs: graceful },
    download: { sizeMiB, limitMB, intact: churned.intact, seconds: churned.seconds, error: churned.error, baselineSeconds: baseline.seconds, ratioToBaseline: churned.seconds / baseline.seconds },
    targets: { consistentSeconds: TARGET_CONSISTENT_SECONDS, stretchConsistentSeconds: STRETCH_CONSISTENT_SECONDS, findableSeconds: TARGET_FINDABLE_SECONDS },
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(`churn: ${nodeCount} real nodes (dist/p2p), kill -9 + restart of a random node every ${periodSeconds} s for ${durationSeconds} s (${restarts} restarts)`);
    console.log(
      `  consistent ring after the churn stopped (its last kill -9 + restart): ${consistentSeconds.toFixed(2)} s (target <= ${TARGET_CONSISTENT_SECONDS} s, stretch ${STRETCH_CONSISTENT_SECONDS} s); the restarted node itself was in the ring after ${joinedSeconds.toFixed(2)} s`,
    );
    console.log(`  ${fileCount} shared files: ${unfindableAtConsistent} unfindable when the ring became consistent; all findable ${findableSeconds === null ? "NEVER (60 s)" : `${findableSeconds.toFixed(2)} s`} later (target <= ${TARGET_FINDABLE_SECONDS} s)`);
    console.log(
      `  ${graceful.length} graceful restarts (SIGTERM, start again) of nodes holding ${gracefulFiles} files: ${gracefulLost} not findable within ${FINDABLE_GIVE_UP_MS / 1000} s of a consistent ring; slowest ${Number.isFinite(gracefulWorst) ? `${gracefulWorst.toFixed(2)} s` : "never"} (target <= ${TARGET_FINDABLE_SECONDS} s)`,
    );
    console.log(
      `  ${sizeMiB} MiB download through the churn: intact ${churned.intact ? "yes" : "no"}${churned.error ? ` (${churned.error})` : ""}, ${churned.seconds.toFixed(1)} s = ${report.download.ratioToBaseline.toFixed(2)} x the same download without churn`,
    );
  }
} finally {
  await net.close();
}

/** Downloads `name` (seeded from <home>/<name>) with one `p2p client download` command and checks the bytes. */
async function timedDownload(testnet: Testnet, node: TestnetNode, name: string): Promise<{ seconds: number; intact: boolean; error: string | null }> {
  const out = join(testnet.home, `${name}.downloaded`);
  const started = performance.now();
  try {
    await client(testnet, node, ["download", name, "--out", out]);
    const intact = sha256(out) === sha256(join(testnet.home, name));
    return { seconds: (performance.now() - started) / 1000, intact, error: null };
  } catch (error) {
    return { seconds: (performance.now() - started) / 1000, intact: false, error: (error as Error).message.slice(0, 300) };
  }
}

async function findableFlags(testnet: Testnet, reader: TestnetNode, files: { name: string; holder: string }[]): Promise<boolean[]> {
  return Promise.all(
    files.map(async ({ name, holder }) => {
      try {
        const entries = JSON.parse(new TextDecoder().decode(await testnet.control(reader, "GET", [nameKey(name)]))) as RecordEntry[];
        return entries.some((entry) => entry.member.endsWith(`@${holder}`));
      } catch {
        return false;
      }
    }),
  );
}

async function client(testnet: Testnet, node: TestnetNode, args: string[]): Promise<unknown> {
  const proc = Bun.spawn([binary, "client", ...args, "--json", "--node", node.ip], { env: testnet.env, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`p2p client ${args.join(" ")} failed: ${err.trim()}`);
  return JSON.parse(out);
}

function sha256(path: string): string {
  return Bun.spawnSync(["sha256sum", path]).stdout.toString().split(" ")[0]!;
}
