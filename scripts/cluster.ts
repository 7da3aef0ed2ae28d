// `npm run cluster`: start, list or stop local p2p networks of up to MAX_NODES nodes on loopback addresses, for trying things by hand.
//
// npm run cluster -- [start] [--nodes N] [--base 127.0.0.10]   DNS on the base address, N nodes on the next ones
// npm run cluster -- status                                     the recorded networks and how many of their processes run
// npm run cluster -- stop [--base 127.0.0.10]                   stop every recorded network (or the one at that base)
// Every command takes --state path (default $P2P_CLUSTER_STATE or <tmpdir>/p2p-cluster-<user>.json).

import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createTestnet } from "../src/testnet";
import { liveNodes } from "../src/cli/find-node";
import { connect } from "../src/protocol/client";
import { DNS_PORT, PEER_PORT, busyAddresses, parseBase } from "./localnet/addresses";
import { checkBinary } from "./localnet/binary";
import { ScriptError, flagError } from "./localnet/errors";
import { Lifecycle, settled } from "./localnet/lifecycle";
import { belongsTo, isRunning, stopPids } from "../src/testnet/pids";
import { addressAt, subnetsOf, subnetsSpanned } from "../src/testnet/addresses";
import { commandPath, seconds, table } from "./localnet/render";
import { type RecordedNetwork, defaultStatePath, forgetNetwork, readNetworks, recordNetwork } from "./localnet/state";

const USAGE = `usage: npm run cluster -- [start] [--nodes N] [--base 127.0.0.10] [--binary path] [--state path]
       npm run cluster -- status [--state path]
       npm run cluster -- stop [--base 127.x.y.z] [--state path]

  start   a DNS on --base (default 127.0.0.10) and N nodes (default 5) on the next addresses, from dist/p2p (or --binary)
  status  the networks recorded in the state file, and how many of their processes still run
  stop    stops exactly the recorded processes (all networks, or the one whose DNS is --base) and removes their P2P_HOME`;

const BINARY = join(import.meta.dir, "..", "dist", "p2p");
const DEFAULT_BASE = "127.0.0.10";
const DEFAULT_NODES = 5;
/** Two shared cores run this many idle nodes; past the DNS's /24 the nodes take the next ones (127.0.1.x, ...). */
const MAX_NODES = 500;

interface ClusterOptions {
  command: "start" | "stop" | "status";
  nodes: number;
  base: string | undefined;
  statePath: string;
  binary: string;
}

function parseOptions(argv: string[]): ClusterOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        nodes: { type: "string" },
        base: { type: "string" },
        state: { type: "string" },
        binary: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw flagError(error);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length > 1) throw new ScriptError(`one command at a time, not '${positionals.join(" ")}' (see --help)`);
  const command = positionals[0] ?? "start";
  if (command !== "start" && command !== "stop" && command !== "status") {
    throw new ScriptError(`unknown command '${command}': use start, status or stop (see --help)`);
  }
  if (command !== "start" && values.nodes !== undefined) throw new ScriptError(`--nodes goes with start, not ${command}`);
  const nodes = values.nodes === undefined ? DEFAULT_NODES : /^\d+$/.test(values.nodes.trim()) ? Number(values.nodes) : Number.NaN;
  if (!(nodes >= 1 && nodes <= MAX_NODES)) throw new ScriptError(`invalid --nodes '${values.nodes}': expected a whole number from 1 to ${MAX_NODES}`);
  if (values.base !== undefined) parseBase(values.base);
  if (command !== "start" && values.binary !== undefined) throw new ScriptError(`--binary goes with start, not ${command}`);
  return { command, nodes, base: values.base, statePath: values.state ?? defaultStatePath(), binary: resolve(values.binary ?? BINARY) };
}

/** Everything `start` spawns goes through here, so Ctrl-C or a failure while starting leaves nothing behind. */
const life = new Lifecycle("cluster");

async function start(options: ClusterOptions): Promise<void> {
  const { subnet, octet } = parseBase(options.base ?? DEFAULT_BASE);
  const lastPosition = octet + options.nodes;
  if (Number(subnet.split(".")[2]) + subnetsSpanned(octet, options.nodes + 1) - 1 > 255) {
    throw new ScriptError(`${options.nodes} nodes after ${subnet}.${octet} run past ${subnet.split(".").slice(0, 2).join(".")}.255.254: use a lower --base`);
  }
  checkBinary(options.binary);
  const dnsAddress = `${subnet}.${octet}:${DNS_PORT}`;
  const ips = Array.from({ length: options.nodes }, (_, index) => addressAt(subnet, octet + 1 + index));
  const busy = await busyAddresses([dnsAddress, ...ips.map((ip) => `${ip}:${PEER_PORT}`)]);
  if (busy.length > 0) {
    throw new ScriptError(
      `${busy.slice(0, 3).join(", ")}${busy.length > 3 ? ` and ${busy.length - 3} more` : ""} already in use: stop that network (npm run cluster -- stop) or pick another --base`,
    );
  }

  life.checkpoint();
  const begin = performance.now();
  const pids = new Map<string, number>();
  const startup = createTestnet({
    nodes: options.nodes,
    subnet,
    firstOctet: octet,
    executable: [options.binary],
    detached: true,
    onSpawn: (role, proc) => {
      life.track(proc);
      pids.set(role === "dns" ? dnsAddress : `${role}:${PEER_PORT}`, proc.pid);
    },
  });
  life.onStop(async () => (await settled(startup))?.close());
  const net = await startup;
  let ringSettled = true;
  try {
    await net.waitForConsistentRing(10_000 + 200 * options.nodes);
  } catch {
    // Not fatal: the nodes run and keep repairing; `p2p client status` shows where they are.
    ringSettled = false;
  }
  life.checkpoint();
  recordNetwork(options.statePath, {
    startedBy: "cluster",
    dns: dnsAddress,
    home: net.home,
    startedAt: new Date().toISOString(),
    processes: [...pids].map(([address, pid]) => ({ role: address === dnsAddress ? "dns" : address.split(":")[0]!, address, pid })),
  });
  // Ctrl-C from here on still stops the network; then the record must go too.
  life.onStop(() => forgetNetwork(options.statePath, dnsAddress));

  const ids = new Map(net.nodes.map((node) => [node.address, node.id]));
  console.log(
    `${options.nodes} ${options.nodes === 1 ? "node" : "nodes"} and a DNS running from ${commandPath(options.binary)}; ` +
      (ringSettled ? `ring consistent after ${seconds(performance.now() - begin)}` : "the ring is still settling (see p2p client status)"),
  );
  console.log(
    table([
      ["dns", dnsAddress, `pid ${pids.get(dnsAddress)}`, ""],
      ...ips.map((ip, index) => [`node ${index + 1}`, `${ip}:${PEER_PORT}`, `pid ${pids.get(`${ip}:${PEER_PORT}`)}`, `id ${ids.get(`${ip}:${PEER_PORT}`)!.slice(0, 12)}`]),
    ]),
  );
  const p2p = commandPath(options.binary);
  const stateFlag = options.statePath === defaultStatePath() ? "" : ` --state ${options.statePath}`;
  console.log(`
logs in ${join(net.home, "logs")}. Try:
  export P2P_HOME=${net.home}
  ${p2p} client status --node ${ips[0]}
  ${p2p} client upload ./README.md --node ${ips[0]}
  ${p2p} client list --node ${ips[ips.length - 1]}
  ${p2p} client download README.md --node ${ips[ips.length - 1]} --out /tmp/README.copy.md
  ${p2p} node ${addressAt(subnet, lastPosition + 1)} --dns ${dnsAddress} &    # one more node, by hand
stop it with:  npm run cluster -- stop${stateFlag}`);
}

/**
 * Stops one recorded network: only pids that are still its processes, nodes before the DNS so they can say goodbye.
 * Nodes started by hand with its P2P_HOME (the hint `start` prints) are asked to leave through their control socket;
 * the home is removed only once no node answers under it, so no node is left running on deleted files.
 */
async function stopNetwork(network: RecordedNetwork, statePath: string): Promise<string> {
  const ours = network.processes.filter((entry) => belongsTo(entry.pid, network.home, entry.address));
  const nodes = ours.filter((entry) => entry.role !== "dns").map((entry) => entry.pid);
  const dns = ours.filter((entry) => entry.role === "dns").map((entry) => entry.pid);
  const [left, extra] = await Promise.all([stopPids(nodes), stopUnrecordedNodes(network.home, network.processes)]);
  left.push(...(await stopPids(dns)));
  if (left.length > 0) throw new ScriptError(`could not stop pids ${left.join(" ")} of the network at ${network.dns}`);
  if (extra.stillRunning.length > 0) {
    throw new ScriptError(
      `node ${extra.stillRunning.join(", ")} under ${network.home} did not leave; stop it (p2p client leave --node <ip>) and run stop again (${network.home} kept)`,
    );
  }
  rmSync(network.home, { recursive: true, force: true });
  forgetNetwork(statePath, network.dns);
  const gone = network.processes.length - ours.length;
  const byHand = extra.left.length > 0 ? `, and ${extra.left.length} started by hand (${extra.left.join(", ")})` : "";
  return `stopped ${ours.length} processes of the ${network.startedBy} network at ${network.dns}${byHand}${gone > 0 ? ` (${gone} had already exited)` : ""}; removed ${network.home}`;
}

/** How long a node started by hand gets to leave the ring and close its control socket. */
const HAND_STARTED_LEAVE_MS = 15_000;

/** Asks every node that answers under `home` but is not recorded to leave; returns those that left and those still running. */
async function stopUnrecordedNodes(home: string, recorded: RecordedNetwork["processes"]): Promise<{ left: string[]; stillRunning: string[] }> {
  const recordedDirs = new Set(recorded.map((entry) => entry.address.replace(`:${PEER_PORT}`, "").replace(":", "-")));
  const extra = (await liveNodes(home)).filter((node) => !recordedDirs.has(node.name));
  await Promise.all(
    extra.map(async (node) => {
      const client = await connect({ unix: node.path }).catch(() => null);
      await client?.request("LEAVE", [], { timeoutMs: HAND_STARTED_LEAVE_MS }).catch(() => undefined);
      client?.close();
    }),
  );
  const deadline = Date.now() + HAND_STARTED_LEAVE_MS;
  let running = extra;
  for (let round = 0; round < 1_000 && running.length > 0 && Date.now() < deadline; round++) {
    await Bun.sleep(100);
    const live = new Set((await liveNodes(home)).map((node) => node.name));
    running = running.filter((node) => live.has(node.name));
  }
  const stillRunning = running.map((node) => node.name);
  return { left: extra.map((node) => node.name).filter((name) => !stillRunning.includes(name)), stillRunning };
}

async function stop(options: ClusterOptions): Promise<void> {
  const dns = options.base ? `${options.base}:${DNS_PORT}` : null;
  const networks = readNetworks(options.statePath).filter((network) => dns === null || network.dns === dns);
  if (networks.length === 0) {
    console.log(`no local network${dns ? ` with its DNS at ${dns}` : ""} recorded in ${options.statePath}: nothing to stop`);
    return;
  }
  for (const network of networks) console.log(await stopNetwork(network, options.statePath));
}

function status(options: ClusterOptions): void {
  const networks = readNetworks(options.statePath);
  if (networks.length === 0) {
    console.log(`no local network recorded in ${options.statePath}`);
    return;
  }
  console.log(
    table([
      ["dns", "started by", "since", "running", "addresses", "P2P_HOME"],
      ...networks.map((network) => {
        const running = network.processes.filter((entry) => isRunning(entry.pid) && belongsTo(entry.pid, network.home, entry.address)).length;
        const subnets = subnetsOf(network.processes.map((entry) => entry.address)).map((subnet) => `${subnet}.0/24`);
        return [network.dns, network.startedBy, network.startedAt.replace("T", " ").slice(0, 19), `${running} of ${network.processes.length}`, subnets.join(" "), network.home];
      }),
    ]),
  );
}

await life.run(async () => {
  const options = parseOptions(process.argv.slice(2));
  if (options.command === "start") await start(options);
  else if (options.command === "stop") await stop(options);
  else status(options);
});
