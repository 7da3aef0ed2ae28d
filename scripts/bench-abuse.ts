// Benchmarks a holder's memory under abuse: 50 connections pipelining 64 GET_CHUNK each and never reading.
//
// bun scripts/bench-abuse.ts [--connections 50] [--pipeline 64] [--file-mib 64] [--attack-seconds 15] [--json]   (builds dist/p2p first)
//
// Figures: the holder's RSS idle (baseline), its peak under the attack, and after the attackers close;
// whether a legitimate PING was answered during the attack, and how fast.

import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "../src/protocol/client";
import { decodeLines } from "../src/protocol/frame";
import { MAX_QUEUED_REPLY_BYTES } from "../src/protocol/limits";
import { createTestnet, type Testnet, type TestnetNode } from "../src/testnet";

/** Targets from the issue: peak under attack, and after the attackers close. */
const PEAK_TARGET_MB = 400;
const AFTER_TARGET_MB = 200;
/** How long memory may take to come back after the attackers close. */
const SETTLE_SECONDS = 15;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    connections: { type: "string", default: "50" },
    pipeline: { type: "string", default: "64" },
    "file-mib": { type: "string", default: "64" },
    "attack-seconds": { type: "string", default: "15" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
const connections = Number(values.connections);
const pipeline = Number(values.pipeline);
const fileMiB = Number(values["file-mib"]);
const attackSeconds = Number(values["attack-seconds"]);
if (![connections, pipeline, fileMiB, attackSeconds].every((value) => Number.isInteger(value) && value >= 1) || connections > 500 || pipeline > 64 || fileMiB > 1024) {
  console.error("--connections 1..500, --pipeline 1..64, --file-mib 1..1024 and --attack-seconds >= 1, all whole numbers");
  process.exit(1);
}

const root = join(import.meta.dir, "..");
if (Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts")], { stdout: "ignore", stderr: "inherit" }).exitCode !== 0) process.exit(1);
const binary = join(root, "dist", "p2p");
const work = mkdtempSync(join(tmpdir(), "p2p-bench-abuse-"));
let net: Testnet | null = null;
const attackers: Array<Socket<undefined>> = [];
// Ctrl-C or a timeout must not leave node processes or the test file behind.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    for (const socket of attackers) socket.terminate();
    void (net?.close() ?? Promise.resolve()).finally(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  });
}
const say = (line: string) => values.json || console.log(line);

try {
  net = await createTestnet({ nodes: 1, executable: [binary] });
  const holder = net.nodes[0]!;
  const source = join(work, "shared.bin");
  writeFileSync(source, randomBytes(fileMiB * 1024 * 1024));
  const { id } = await client<{ id: string }>(net, holder, ["upload", source]);
  const pid = holder.process.pid;

  await Bun.sleep(2_000);
  const idleMb = rssMb(pid);
  say(`holder idle, sharing ${fileMiB} MiB:          ${idleMb.toFixed(0)} MB RSS (baseline)`);

  // The attack: every connection pipelines its requests and then never reads a byte.
  const chunks = fileMiB;
  for (let index = 0; index < connections; index++) {
    const socket = await Bun.connect({ hostname: holder.ip, port: 7495, socket: { data() {} } });
    socket.pause();
    const requests = Array.from({ length: pipeline }, (_, at) => `GET_CHUNK ${id} ${(index + at) % chunks}\r\n`).join("");
    socket.write(requests);
    attackers.push(socket);
  }
  let peakMb = idleMb;
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(pid))), 100);
  await Bun.sleep(Math.min(3_000, attackSeconds * 1000));

  // A legitimate caller during the attack.
  const pingStart = performance.now();
  let pingAnswered = false;
  try {
    const ping = await connect({ hostname: holder.ip, port: 7495 });
    pingAnswered = decodeLines((await ping.request("PING", [], { timeoutMs: 10_000 })).body)[0] === "PONG";
    ping.close();
  } catch (error) {
    say(`PING failed during the attack: ${(error as Error).message}`);
  }
  const pingMs = performance.now() - pingStart;
  await Bun.sleep(Math.max(0, attackSeconds * 1000 - 3_000));
  clearInterval(sampler);
  peakMb = Math.max(peakMb, rssMb(pid), hwmMb(pid));
  say(`holder under attack (${connections} x ${pipeline} GET_CHUNK, never read): peak ${peakMb.toFixed(0)} MB RSS = ${(peakMb / idleMb).toFixed(2)} x idle (target <= ${PEAK_TARGET_MB} MB)`);
  say(`  legitimate PING during the attack:  ${pingAnswered ? `answered in ${pingMs.toFixed(0)} ms` : "NOT answered"}`);

  for (const socket of attackers.splice(0)) socket.terminate();
  let afterMb = rssMb(pid);
  for (let waited = 0; waited < SETTLE_SECONDS * 10 && afterMb >= AFTER_TARGET_MB; waited++) {
    await Bun.sleep(100);
    afterMb = rssMb(pid);
  }
  say(`holder after the attackers closed:    ${afterMb.toFixed(0)} MB RSS = ${(afterMb / idleMb).toFixed(2)} x idle (target < ${AFTER_TARGET_MB} MB)`);
  say(`  (per connection the holder keeps at most ${MAX_QUEUED_REPLY_BYTES / 1024 / 1024} MiB of unread replies plus the handlers in flight)`);

  if (values.json) {
    console.log(JSON.stringify({ connections, pipeline, fileMiB, idleMb, peakMb, afterMb, pingAnswered, pingMs, peakTargetMb: PEAK_TARGET_MB, afterTargetMb: AFTER_TARGET_MB }));
  }
  process.exitCode = pingAnswered ? 0 : 1;
} finally {
  for (const socket of attackers) socket.terminate();
  await net?.close();
  rmSync(work, { recursive: true, force: true });
}

async function client<T>(testnet: Testnet, node: TestnetNode, args: string[]): Promise<T> {
  const proc = Bun.spawn([binary, "client", ...args, "--json", "--node", node.ip], { env: testnet.env, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`p2p client ${args.join(" ")} failed: ${err}`);
  return JSON.parse(out) as T;
}

function rssMb(pid: number): number {
  return statusField(pid, "VmRSS");
}

/** VmHWM: the peak RSS over the process's whole life, which catches a spike between two samples. */
function hwmMb(pid: number): number {
  return statusField(pid, "VmHWM");
}

function statusField(pid: number, field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}
