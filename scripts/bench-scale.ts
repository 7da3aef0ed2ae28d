// Benchmarks a ring of real dist/p2p processes at scale: time to a consistent ring, idle CPU, memory, idle bytes, DNS load, search and download latency.
//
// bun scripts/bench-scale.ts [--nodes 100,250,500] [--idle-seconds 60] [--stabilize-max MS] [--json]   (builds dist/p2p first)
//
// Idle CPU is read from /proc/<pid>/stat over the idle window after the ring settled; memory from
// /proc/<pid>/smaps_rollup as PSS and private (RSS counts the executable's shared pages once per process);
// idle bytes from the kernel's per-socket counters (`ss -tinpO`: bytes_sent of each TCP socket the process holds;
// a socket opened and closed inside the window is missed). The baseline is `p2p --version`'s wall time, in the same run.

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTestnet, type Testnet, type TestnetNode } from "../src/testnet";
import { DEFAULT_STABILIZE_MAX_MS } from "../src/node/defaults";
import type { NodeStatus } from "../src/node/node";
import { benchWorkspace, buildBinary, median } from "./lib/bench";
import { CLOCK_TICKS_PER_SECOND, cpuTicks } from "../src/testnet/cpu-calm";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nodes: { type: "string", default: "100,250,500" },
    "idle-seconds": { type: "string", default: "60" },
    "stabilize-max": { type: "string", default: String(DEFAULT_STABILIZE_MAX_MS) },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
/** The most nodes one run may start: what `npm run cluster` allows. */
const MAX_NODES = 500;
const sizes = values.nodes.split(",").map(Number);
if (!sizes.every((size) => Number.isInteger(size) && size >= 2 && size <= MAX_NODES)) {
  console.error(`--nodes takes sizes from 2 to ${MAX_NODES}, comma-separated, e.g. 100,250,500`);
  process.exit(1);
}
const idleSeconds = Number(values["idle-seconds"]);
if (!(idleSeconds >= 5 && idleSeconds <= 600)) {
  console.error("--idle-seconds must be 5..600");
  process.exit(1);
}
const stabilizeMaxMs = Number(values["stabilize-max"]);
if (!(Number.isInteger(stabilizeMaxMs) && stabilizeMaxMs >= 50 && stabilizeMaxMs <= 600_000)) {
  console.error("--stabilize-max must be 50..600000 ms (the nodes' --stabilize-max)");
  process.exit(1);
}
/** Longest wait, after the ring is consistent, for every node's maintenance to back off to its longest period. */
const MAX_SETTLE_MS = 180_000;
/** Searches and downloads timed per size; the median is reported. */
const LATENCY_ROUNDS = 5;

type ScaleRow = {
  nodes: number;
  ringSeconds: number;
  settleSeconds: number;
  idleCpuPercentAll: number;
  idleCpuPercentPerNode: number;
  dnsCpuPercent: number;
  pssMbPerNode: number;
  privateMbPerNode: number;
  rssMbPerNode: number;
  idleBytesPerSecondPerNode: number;
  dnsBytesPerSecond: number;
  searchMs: number;
  downloadMs: number;
  versionMs: number;
};

const binary = buildBinary();
const { work, cleanup } = benchWorkspace(binary);
const say = (line: string) => values.json || console.log(line);
const rows: ScaleRow[] = [];
/** The testnet being measured, closed on Ctrl-C and on failure. */
const running: { net: Testnet | null } = { net: null };
process.on("SIGINT", () => void running.net?.close());

try {
  for (const size of sizes) rows.push(await measure(size));
  if (values.json) console.log(JSON.stringify(rows, null, 2));
} finally {
  await running.net?.close();
  await cleanup();
}

async function measure(size: number): Promise<ScaleRow> {
  const begin = performance.now();
  let dnsPid = 0;
  const net = await createTestnet({ nodes: size, executable: [binary], nodeArgs: ["--stabilize-max", String(stabilizeMaxMs)], onSpawn: (role, proc) => void (role === "dns" && (dnsPid = proc.pid)) });
  running.net = net;
  try {
    const joinedSeconds = (performance.now() - begin) / 1000;
    await net.waitForConsistentRing(20_000 + 400 * size);
    const ringSeconds = (performance.now() - begin) / 1000;
    say(`${size} nodes: every node joined after ${joinedSeconds.toFixed(1)} s, the ring consistent ${(ringSeconds - joinedSeconds).toFixed(1)} s later`);
    const settleSeconds = await waitForRest(net);
    say(`${size} nodes: ring consistent after ${ringSeconds.toFixed(1)} s, every node at its longest maintenance period ${settleSeconds.toFixed(0)} s later; idle for ${idleSeconds} s ...`);
    const pids = net.nodes.map((node) => node.process.pid);
    const before = { cpu: pids.map(cpuTicks), sent: socketBytesSent(), dnsCpu: cpuTicks(dnsPid), at: performance.now() };
    await Bun.sleep(idleSeconds * 1000);
    const seconds = (performance.now() - before.at) / 1000;
    const cpuPercent = pids.map((pid, index) => (100 * (cpuTicks(pid) - before.cpu[index]!)) / CLOCK_TICKS_PER_SECOND / seconds);
    const sent = bytesSentSince(before.sent, socketBytesSent());
    const io = pids.map((pid) => (sent.get(pid) ?? 0) / seconds);
    const memory = pids.map(memoryOf);
    const latency = await timeSearchAndDownload(net);
    const row: ScaleRow = {
      nodes: size,
      ringSeconds,
      settleSeconds,
      idleCpuPercentAll: sum(cpuPercent),
      idleCpuPercentPerNode: sum(cpuPercent) / size,
      dnsCpuPercent: (100 * (cpuTicks(dnsPid) - before.dnsCpu)) / CLOCK_TICKS_PER_SECOND / seconds,
      pssMbPerNode: median(memory.map((entry) => entry.pss)),
      privateMbPerNode: median(memory.map((entry) => entry.private)),
      rssMbPerNode: median(memory.map((entry) => entry.rss)),
      idleBytesPerSecondPerNode: median(io),
      dnsBytesPerSecond: (sent.get(dnsPid) ?? 0) / seconds,
      ...latency,
    };
    say(render(row));
    return row;
  } finally {
    await net.close();
    running.net = null;
  }
}

/** Median wall time of `search` and of a 1 MiB `download` across the ring (from the last node, of a file the first shares), and of `p2p --version`. */
async function timeSearchAndDownload(net: Testnet): Promise<{ searchMs: number; downloadMs: number; versionMs: number }> {
  const first = net.nodes[0]!;
  const last = net.nodes[net.nodes.length - 1]!;
  const source = join(work, "scale-1mib.bin");
  writeFileSync(source, crypto.getRandomValues(new Uint8Array(1024 * 1024)));
  await run(net, first, ["upload", source]);
  const search: number[] = [];
  const download: number[] = [];
  const version: number[] = [];
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    version.push(await timed(() => run(net, null, ["--version"])));
    search.push(await timed(() => run(net, last, ["search", "scale"])));
    const copy = join(work, `scale-copy-${round}.bin`);
    download.push(await timed(() => run(net, last, ["download", "scale-1mib.bin", "--out", copy])));
    // The next size's ring downloads to the same name.
    rmSync(copy);
  }
  return { searchMs: median(search), downloadMs: median(download), versionMs: median(version) };
}

/** Seconds until every node reports maintenance at its longest period (the ring at rest), or MAX_SETTLE_MS. */
async function waitForRest(net: Testnet): Promise<number> {
  const start = performance.now();
  let busy: (NodeStatus | null)[] = [];
  for (let round = 0; round < 1_000 && performance.now() - start < MAX_SETTLE_MS; round++) {
    const statuses = await Promise.all(net.nodes.map((node) => net.status(node).catch(() => null)));
    busy = statuses.filter((status) => status === null || (status.maintenanceMs ?? 0) < stabilizeMaxMs);
    if (busy.length === 0) break;
    await Bun.sleep(2_000);
  }
  if (busy.length > 0) say(`  ${busy.length} nodes not at rest after ${MAX_SETTLE_MS / 1000} s; their last changes: ${changeTally(busy)}`);
  return (performance.now() - start) / 1000;
}

/** The reasons of the nodes' last changes, most frequent first, numbers and addresses blurred so alike reasons count together. */
function changeTally(statuses: (NodeStatus | null)[]): string {
  const counts = new Map<string, number>();
  for (const status of statuses) {
    const reason = status === null ? "no status" : (status.lastChange?.reason ?? "none").replace(/[0-9a-f:.[\]]{6,}/g, "…").replace(/\d+/g, "N");
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([reason, count]) => `${count} × ${reason}`).join("; ");
}

async function run(net: Testnet, node: TestnetNode | null, args: string[]): Promise<void> {
  const command = node === null ? [binary, ...args] : [binary, "client", ...args, "--node", node.ip];
  const proc = Bun.spawn(command, { env: net.env, stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`p2p ${command.slice(1).join(" ")} failed: ${err.trim()}`);
}

async function timed(body: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await body();
  return performance.now() - start;
}


/** bytes_sent of every TCP socket on this machine, by "pid local peer", from one `ss -tinpHO` (one line per socket). */
function socketBytesSent(): Map<string, number> {
  const sockets = new Map<string, number>();
  const out = Bun.spawnSync(["ss", "-tinpHO"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
  for (const line of out.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const pid = /pid=(\d+)/.exec(line)?.[1];
    const bytes = /bytes_sent:(\d+)/.exec(line)?.[1];
    if (pid === undefined || fields.length < 5) continue;
    sockets.set(`${pid} ${fields[3]} ${fields[4]}`, Number(bytes ?? 0));
  }
  return sockets;
}

/** Bytes each pid's sockets sent between two samples (a socket new since the first counts from zero). */
function bytesSentSince(before: Map<string, number>, after: Map<string, number>): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const [key, bytes] of after) {
    const pid = Number(key.split(" ")[0]);
    byPid.set(pid, (byPid.get(pid) ?? 0) + Math.max(0, bytes - (before.get(key) ?? 0)));
  }
  return byPid;
}

function memoryOf(pid: number): { pss: number; private: number; rss: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
  return { pss: kb("Pss") / 1024, private: (kb("Private_Clean") + kb("Private_Dirty")) / 1024, rss: kb("Rss") / 1024 };
}

function sum(numbers: number[]): number {
  return numbers.reduce((total, value) => total + value, 0);
}

function render(row: ScaleRow): string {
  return [
    `${row.nodes} nodes: ring consistent after ${row.ringSeconds.toFixed(1)} s`,
    `  idle CPU: ${row.idleCpuPercentAll.toFixed(1)} % of a core for all nodes, ${row.idleCpuPercentPerNode.toFixed(3)} % per node; DNS ${row.dnsCpuPercent.toFixed(2)} %`,
    `  memory per node (median): PSS ${row.pssMbPerNode.toFixed(1)} MB, private ${row.privateMbPerNode.toFixed(1)} MB (RSS ${row.rssMbPerNode.toFixed(1)} MB)`,
    `  idle bytes sent per node (median): ${row.idleBytesPerSecondPerNode.toFixed(0)} B/s; DNS ${row.dnsBytesPerSecond.toFixed(0)} B/s`,
    `  across the ring: search ${row.searchMs.toFixed(0)} ms, 1 MiB download ${row.downloadMs.toFixed(0)} ms; p2p --version ${row.versionMs.toFixed(0)} ms ` +
      `(search ${(row.searchMs / row.versionMs).toFixed(1)} x, download ${(row.downloadMs / row.versionMs).toFixed(1)} x)`,
  ].join("\n");
}
