// Benchmarks the DNS under many nodes' joins and heartbeats: JOIN/s and latency over 1,000 connections, against PING/s on the same DNS.
//
// bun scripts/bench-dns.ts [--connections 1000] [--seconds 10] [--rate 10000] [--json]   (builds dist/p2p first)
//
// Each connection comes from its own loopback address and sends JOIN for the node at that address, as a node's
// heartbeat does (the DNS then registers, confirms from the source address and samples 5 peers, its whole work
// per heartbeat). Two loads: back to back (each connection sends its next request when the last is answered: the
// most the DNS answers, latency then being mostly queueing), and paced (--rate requests per second in all, spread
// over the connections at random phases, as heartbeats arrive: the latency a node sees at that load). PING, the
// same round trip with no work, is the baseline in the same run.

import { join } from "node:path";
import { parseArgs } from "node:util";
import { nodeIdAt } from "../src/model/id";
import { connect, type ProtocolClient } from "../src/protocol/client";
import { DNS_PORT, PEER_PORT } from "../src/protocol/address";
import { addressAt } from "../src/testnet/addresses";
import { benchWorkspace, buildBinary } from "./lib/bench";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    connections: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "10000" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
/** The most connections one run opens: within the DNS's own bound on connections, and one loopback address each. */
const MAX_CONNECTIONS = 2_000;
const connections = Number(values.connections);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
if (!(rate >= 1 && rate <= 1_000_000)) {
  console.error("--rate must be 1..1000000 requests per second");
  process.exit(1);
}
if (!(Number.isInteger(connections) && connections >= 1 && connections <= MAX_CONNECTIONS) || !(seconds >= 1 && seconds <= 120)) {
  console.error(`--connections must be 1..${MAX_CONNECTIONS} and --seconds 1..120`);
  process.exit(1);
}

const binary = buildBinary();
const { work, cleanup } = benchWorkspace(binary);
const say = (line: string) => values.json || console.log(line);
const subnet = `127.${64 + Math.floor(Math.random() * 190)}.${Math.floor(Math.random() * 240)}`;
const dnsHost = addressAt(subnet, 1);
const dns = Bun.spawn([binary, "dns", "--host", dnsHost, "--db", join(work, "p2pdns.db")], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
const clients: ProtocolClient[] = [];

try {
  await waitForDns();
  for (let index = 0; index < connections; index++) {
    const ip = addressAt(subnet, 2 + index);
    clients.push(await connect({ hostname: dnsHost, port: DNS_PORT }, { localAddress: ip, idleTimeoutSeconds: 60 }));
  }
  const joinArgs = (index: number) => {
    const ip = addressAt(subnet, 2 + index);
    return [nodeIdAt(ip, PEER_PORT), ip, String(PEER_PORT)];
  };
  const ping = await load("PING", () => [], null);
  const joins = await load("JOIN", joinArgs, null);
  const pacedPing = await load("PING", () => [], rate);
  const pacedJoins = await load("JOIN", joinArgs, rate);
  const result = { connections, seconds, rate, ping, join: joins, pacedPing, pacedJoin: pacedJoins, joinToPing: joins.perSecond / ping.perSecond };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  const line = (name: string, figures: LoadFigures) =>
    `  ${name}: ${figures.perSecond.toFixed(0)}/s, p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms; failed ${figures.failed}`;
  say(`${connections} connections, ${seconds} s per load:`);
  say(`back to back (the most it answers):`);
  say(line("PING", ping));
  say(`${line("JOIN", joins)} (${result.joinToPing.toFixed(2)} x PING's rate)`);
  say(`paced at ${rate}/s in all (heartbeats as they arrive):`);
  say(line("PING", pacedPing));
  say(line("JOIN", pacedJoins));
} finally {
  for (const client of clients) client.close();
  dns.kill();
  await dns.exited;
  await cleanup();
}

type LoadFigures = { perSecond: number; p50Ms: number; p99Ms: number; failed: number };

/**
 * Every connection sends `op` for `seconds`: back to back (`paced` null), or `paced` requests per second in all,
 * each connection at its share from a random phase (a late answer delays only that connection's next request).
 */
async function load(op: string, argsFor: (index: number) => string[], paced: number | null): Promise<LoadFigures> {
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const intervalMs = paced === null ? 0 : (1000 * clients.length) / paced;
  await Promise.all(
    clients.map(async (client, index) => {
      const args = argsFor(index);
      let due = start + Math.random() * intervalMs;
      // Bounded by time, and by count in case the clock misbehaves: no connection can answer faster than this.
      for (let sent = 0; sent < 1_000_000 && performance.now() < end; sent++) {
        if (due > performance.now()) await Bun.sleep(due - performance.now());
        if (performance.now() >= end) break;
        const before = performance.now();
        const reply = await client.send(op, args);
        if (reply.status !== 200) failed++;
        latencies.push(performance.now() - before);
        due += intervalMs;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (fraction: number) => latencies[Math.min(latencies.length - 1, Math.floor(fraction * latencies.length))] ?? 0;
  return { perSecond: latencies.length / ((performance.now() - start) / 1000), p50Ms: at(0.5), p99Ms: at(0.99), failed };
}

async function waitForDns(): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (let attempt = 0; attempt < 300 && Date.now() < deadline; attempt++) {
    const client = await connect({ hostname: dnsHost, port: DNS_PORT }, { connectTimeoutMs: 500 }).catch(() => null);
    if (client !== null) {
      client.close();
      return;
    }
    await Bun.sleep(50);
  }
  throw new Error(`the DNS at ${dnsHost}:${DNS_PORT} did not listen within 15 s`);
}
