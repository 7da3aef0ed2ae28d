// `npm run demo`: a DNS and five nodes from dist/p2p on loopback; alpha shares a file, echo finds it, downloads it, checks it.
//
// bun scripts/demo.ts [--keep] [--key] [--subnet 127.x.y] [--state path]

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Testnet, createTestnet } from "../src/testnet";
import { DNS_PORT, PEER_PORT, busyAddresses, parseSubnet } from "./localnet/addresses";
import { checkBinary } from "./localnet/binary";
import { type ClientRunner, clientRunner } from "./localnet/client";
import { ScriptError, flagError } from "./localnet/errors";
import { Lifecycle, settled } from "./localnet/lifecycle";
import { commandPath, formatBytes, ringTable, seconds, table } from "./localnet/render";
import { defaultStatePath, recordNetwork } from "./localnet/state";

const USAGE = `usage: npm run demo -- [--keep] [--key] [--subnet 127.x.y] [--state path]

  --keep            leave the network running and print commands to try
  --key             a private network: a new key (p2p keygen) given to the DNS and every node
  --subnet 127.x.y  run on 127.x.y.1-6 instead of 127.0.0.1-6 (e.g. beside another demo)
  --state path      where --keep records the pids for \`npm run cluster -- stop\``;

const NAMES = ["alpha", "beta", "charlie", "delta", "echo"] as const;
const FILE_NAME = "hello-p2p.bin";
const SEARCH_TERM = "hello";
const FILE_BYTES = 4 * 1024 * 1024;
const BINARY = join(import.meta.dir, "..", "dist", "p2p");

interface DemoOptions {
  keep: boolean;
  key: boolean;
  subnet: string;
  statePath: string;
}

/** Everything the demo starts goes through here, so any way out (success, failure, Ctrl-C) stops it. */
const life = new Lifecycle("demo");

function parseOptions(argv: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        keep: { type: "boolean", default: false },
        key: { type: "boolean", default: false },
        subnet: { type: "string", default: "127.0.0" },
        state: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw flagError(error);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return { keep: values.keep, key: values.key, subnet: parseSubnet(values.subnet), statePath: values.state ?? defaultStatePath() };
}

/** Prints one finished step: who did it, what happened, how long it took. */
function step(who: string, what: string, milliseconds?: number): void {
  console.log(`${who.padEnd(8)} ${what.padEnd(52)} ${milliseconds === undefined ? "" : seconds(milliseconds).padStart(7)}`.trimEnd());
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await work();
  return [value, performance.now() - start];
}

async function untilFound<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 200 && Date.now() < deadline; attempt++) {
    const found = await probe();
    if (found !== null) return found;
    await Bun.sleep(100);
  }
  throw new ScriptError(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The nodes' default successor list length; with five nodes, every node lists all the others. */
const SUCCESSORS_SHOWN = 4;

/** A consistent ring still fills its successor lists over a few rounds; the ring table reads better once they are full. */
async function untilFullSuccessorLists(net: Testnet, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 100 && Date.now() < deadline; round++) {
    life.checkpoint();
    const statuses = await Promise.all(net.nodes.map((node) => net.status(node)));
    if (statuses.every((status) => status.successors.length >= SUCCESSORS_SHOWN)) return;
    await Bun.sleep(100);
  }
  // Not fatal: the table then shows the lists as they are.
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function runDemo(options: DemoOptions): Promise<void> {
  const demoStart = performance.now();
  checkBinary(BINARY);
  const addresses = await demoAddresses(options.subnet);
  life.checkpoint();
  console.log(`p2p demo: a DNS and five nodes, each a ${commandPath(BINARY)} process on its own loopback address\n`);
  const { net, pids, startMs } = await startRing(options, addresses);
  const client = clientRunner([BINARY], net.env);
  life.onStop(() => client.killAll());
  const downloadMs = await shareFindDownload(net, client, addresses);

  const statuses = await Promise.all(net.nodes.map((node) => net.status(node)));
  console.log(`\nthe ring, clockwise by id (records: the entries announcing the file, each kept on 3 nodes)\n${ringTable(statuses, addresses.nameOf)}\n`);
  const rate = FILE_BYTES / 1e6 / (downloadMs / 1000);
  console.log(
    `done in ${seconds(performance.now() - demoStart)}: ring up in ${seconds(startMs)}, ${formatBytes(FILE_BYTES)} from alpha to echo in ${seconds(downloadMs)} (${rate.toFixed(0)} MB/s), checksum verified`,
  );
  if (options.keep) {
    keepRunning(net, options, pids, addresses.nameOf);
    return;
  }
  await net.close();
  console.log(`stopped all ${pids.size} processes and removed ${net.home}`);
}

interface DemoAddresses {
  dnsAddress: string;
  /** alpha's to echo's, in NAMES order. */
  nodeAddresses: string[];
  /** "dns", a node's name, or the address itself. */
  nameOf: (address: string) => string;
}

/** The demo's fixed addresses on the subnet; refused when something already listens on one. */
async function demoAddresses(subnet: string): Promise<DemoAddresses> {
  const dnsAddress = `${subnet}.1:${DNS_PORT}`;
  const nodeAddresses = NAMES.map((_, index) => `${subnet}.${index + 2}:${PEER_PORT}`);
  const busy = await busyAddresses([dnsAddress, ...nodeAddresses]);
  if (busy.length > 0) {
    throw new ScriptError(
      `${busy[0]}${busy.length > 1 ? ` and ${busy.length - 1} more of the demo's addresses are` : " is"} already in use (another demo or p2p network?): stop it (npm run cluster -- stop) or pick another --subnet, e.g. 127.0.1`,
    );
  }
  const nameOf = (address: string) => (address === dnsAddress ? "dns" : (NAMES[nodeAddresses.indexOf(address)] ?? address));
  return { dnsAddress, nodeAddresses, nameOf };
}

/** Starts the DNS and the nodes, waits for a ring with full successor lists, and prints who is where. */
async function startRing(options: DemoOptions, { dnsAddress, nodeAddresses, nameOf }: DemoAddresses): Promise<{ net: Testnet; pids: Map<string, number>; startMs: number }> {
  const pids = new Map<string, number>();
  const startup = createTestnet({
    nodes: NAMES.length,
    subnet: options.subnet,
    executable: [BINARY],
    key: options.key,
    // With --keep the network outlives this script: own sessions, logs in files.
    detached: options.keep,
    onSpawn: (role, proc) => {
      life.track(proc);
      pids.set(role === "dns" ? dnsAddress : `${role}:${PEER_PORT}`, proc.pid);
    },
  });
  // Closing the testnet (kill, remove P2P_HOME) is the last cleanup; it waits for a start-up still under way.
  life.onStop(async () => (await settled(startup))?.close());
  const [net, startMs] = await timed(async () => {
    const net = await startup;
    await net.waitForConsistentRing(30_000);
    await untilFullSuccessorLists(net, 10_000);
    return net;
  });
  life.checkpoint();
  const byAddress = new Map(net.nodes.map((node) => [node.address, node]));
  console.log(
    table([
      ["dns", dnsAddress, `pid ${pids.get(dnsAddress)}`, ""],
      ...nodeAddresses.map((address) => [nameOf(address), address, `pid ${pids.get(address)}`, `id ${byAddress.get(address)!.id.slice(0, 12)}`]),
    ]),
  );
  console.log(`  P2P_HOME ${net.home}`);
  if (net.keyFile) console.log(`  P2P_KEY  ${net.keyFile}: a private network, every link authenticated and encrypted with it`);
  console.log("");
  step("ring", `${NAMES.length} nodes joined; each knows the next ${SUCCESSORS_SHOWN}`, startMs);
  return { net, pids, startMs };
}

/** alpha shares a file of random bytes, echo finds and downloads it, and the copy is checked; returns the download's time. */
async function shareFindDownload(net: Testnet, client: ClientRunner, { nodeAddresses, nameOf }: DemoAddresses): Promise<number> {
  const alpha = nodeAddresses[0]!.split(":")[0]!;
  const echo = nodeAddresses[4]!.split(":")[0]!;
  const original = randomBytes(FILE_BYTES);
  const sharedPath = join(net.home, "alpha-files", FILE_NAME);
  mkdirSync(join(net.home, "alpha-files"), { recursive: true });
  life.checkpoint();
  writeFileSync(sharedPath, original);

  const [shared, uploadMs] = await timed(() =>
    client.json<{ name: string; size: number; id: string }>(["upload", sharedPath, "--node", alpha]),
  );
  step("alpha", `shares ${shared.name}: ${formatBytes(shared.size)} of random bytes`, uploadMs);

  // The announcement is on the ring once upload returns; polling covers a ring still settling its fingers.
  const [match, searchMs] = await timed(() =>
    untilFound(`echo to find "${SEARCH_TERM}"`, 10_000, async () => {
      life.checkpoint();
      const files = await client.json<{ name: string; id: string; holders: number }[]>(["search", SEARCH_TERM, "--node", echo]);
      return files.find((file) => file.id === shared.id) ?? null;
    }),
  );
  step("echo", `searches "${SEARCH_TERM}": finds ${match.name} on ${match.holders} ${match.holders === 1 ? "holder" : "holders"}`, searchMs);

  const downloadPath = join(net.home, "echo-downloads", FILE_NAME);
  life.checkpoint();
  mkdirSync(join(net.home, "echo-downloads"), { recursive: true });
  const [download, downloadMs] = await timed(() =>
    client.json<{ size: number; path: string; sources: string[] }>(["download", `${match.name}@${match.id}`, "--out", downloadPath, "--node", echo]),
  );
  const sources = download.sources.map(nameOf).join(", ");
  step("echo", `downloads it from ${download.sources.length} ${download.sources.length === 1 ? "source" : "sources"} (${sources})`, downloadMs);

  const expected = sha256(original);
  const actual = sha256(readFileSync(download.path));
  if (actual !== expected) throw new ScriptError(`the downloaded copy differs: sha256 ${actual} instead of ${expected}`);
  step("sha256", `${expected}  verified`);
  return downloadMs;
}

/** --keep: record the pids for `cluster stop` and show what to try next. */
function keepRunning(net: Testnet, options: DemoOptions, pids: Map<string, number>, nameOf: (address: string) => string): void {
  recordNetwork(options.statePath, {
    startedBy: "demo",
    dns: net.dnsAddress,
    home: net.home,
    startedAt: new Date().toISOString(),
    processes: [...pids].map(([address, pid]) => ({ role: nameOf(address), address, pid })),
  });
  const p2p = commandPath(BINARY);
  const ip = (index: number) => `${options.subnet}.${index + 2}`;
  const stateFlag = options.statePath === defaultStatePath() ? "" : ` --state ${options.statePath}`;
  console.log(`
the network keeps running (logs in ${join(net.home, "logs")}). Try:
  export P2P_HOME=${net.home}
${table(
  [
    [`${p2p} client list --node ${ip(1)}`, "# beta lists every shared file"],
    [`${p2p} client search ${SEARCH_TERM} --node ${ip(2)}`, "# charlie searches"],
    [`${p2p} client download ${FILE_NAME} --node ${ip(3)} --out /tmp/${FILE_NAME}`, "# delta downloads from alpha and echo"],
    [`${p2p} client status --node ${ip(0)}`, "# alpha's neighbours, fingers, records"],
    [`${p2p} client leave --node ${ip(2)}`, "# charlie leaves; the ring repairs itself"],
  ],
  "  ",
)}
stop it with:  npm run cluster -- stop${stateFlag}    (or: kill ${[...pids.values()].join(" ")})`);
}

await life.run(() => runDemo(parseOptions(process.argv.slice(2))));
