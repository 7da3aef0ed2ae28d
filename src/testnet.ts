// A whole local network in one call: a DNS and N nodes as real processes on 127.x.y.z, in a temp P2P_HOME.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { P2PError } from "./protocol/errors";
import { DNS_PORT } from "./protocol/address";
import { writeNetworkKey } from "./protocol/network-key";
import { NodeStarter, controlOp, isInRing, nodeStatus, waitForConsistentRing, waitForJoin } from "./testnet/nodes";
import { TestnetProcesses, hasExited, waitUntil } from "./testnet/processes";
import { addressAt, subnetsSpanned } from "./testnet/addresses";
import { waitForCalmCpu } from "./testnet/cpu-calm";
import type { Testnet, TestnetNode, TestnetOptions } from "./testnet/types";

export type { AddNodeOptions, Testnet, TestnetNode, TestnetOptions } from "./testnet/types";

/**
 * Nodes one testnet may hold. Past the DNS's /24 they take the next ones (src/testnet/addresses.ts); the bound is
 * what one machine's processes and file descriptors carry (each node holds a few dozen sockets), not addresses.
 */
export const MAX_TESTNET_NODES = 1_000;
/** Random subnets tried before giving up when addresses are in use. */
const MAX_SUBNET_ATTEMPTS = 5;

export async function createTestnet(options: TestnetOptions): Promise<Testnet> {
  checkSize(options);
  if (options.subnet === undefined) return createOnRandomSubnet(options);
  const network = prepareNetwork(options, options.subnet);
  const testnet = testnetOf(options, network);
  try {
    await startDns(options, network);
    await startNodes(testnet, options.nodes);
  } catch (error) {
    await testnet.close();
    throw error;
  }
  return testnet;
}

/**
 * Nodes a testnet starts at once. Up to this many all start together (as tests want); a larger network starts
 * its first node alone, so one node founds the ring instead of hundreds racing to, then the rest in waves of
 * this many, each once the one before has joined and the nodes running leave a quarter of the cores free
 * (waitForCalmCpu): 500 processes starting on 2 cores at once starve each other.
 */
export const MAX_NODES_STARTING_TOGETHER = 64;
/** The longest a wave waits for the nodes before it to calm down (src/testnet/cpu-calm.ts). */
const MAX_WAVE_PAUSE_MS = 90_000;

async function startNodes(testnet: Testnet, count: number): Promise<void> {
  if (count <= MAX_NODES_STARTING_TOGETHER) {
    const together = { lastJoinAt: Date.now() };
    await Promise.all(Array.from({ length: count }, () => testnet.addNode(undefined, { startingTogether: count, wave: together })));
    return;
  }
  await testnet.addNode();
  for (let started = 1; started < count; started += MAX_NODES_STARTING_TOGETHER) {
    if (started > 1) await waitForCalmCpu(testnet.nodes.map((node) => node.process.pid), MAX_WAVE_PAUSE_MS);
    const wave = Math.min(MAX_NODES_STARTING_TOGETHER, count - started);
    const together = { lastJoinAt: Date.now() };
    await Promise.all(Array.from({ length: wave }, () => testnet.addNode(undefined, { startingTogether: wave, wave: together })));
  }
}

function checkSize(options: TestnetOptions): void {
  if (!(Number.isInteger(options.nodes) && options.nodes >= 0 && options.nodes <= MAX_TESTNET_NODES)) {
    throw new P2PError("MALFORMED", `a testnet holds 0 to ${MAX_TESTNET_NODES} nodes, not ${options.nodes}`);
  }
  const firstOctet = options.firstOctet ?? 1;
  if (!(Number.isInteger(firstOctet) && firstOctet >= 1 && firstOctet <= 254)) {
    throw new P2PError("MALFORMED", `the DNS's last octet must be from 1 to 254, not ${firstOctet}`);
  }
  if (options.subnet !== undefined) addressAt(options.subnet, firstOctet + options.nodes);
}

/** Another network (another test run, a demo) may hold a random subnet's addresses: draw again. */
async function createOnRandomSubnet(options: TestnetOptions): Promise<Testnet> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createTestnet({ ...options, subnet: randomSubnet(subnetsSpanned(options.firstOctet ?? 1, options.nodes + 1)) });
    } catch (error) {
      if (attempt >= MAX_SUBNET_ATTEMPTS || !/already in use/.test((error as Error).message)) throw error;
    }
  }
}

/** What the parts of one testnet share. */
interface Network {
  subnet: string;
  firstOctet: number;
  executable: string[];
  home: string;
  keyFile: string | null;
  env: Record<string, string>;
  dnsAddress: string;
  processes: TestnetProcesses;
  dnsLog: () => string;
}

function prepareNetwork(options: TestnetOptions, subnet: string): Network {
  const executable = options.executable ?? [process.execPath, join(import.meta.dir, "cli.ts")];
  const firstOctet = options.firstOctet ?? 1;
  const home = mkdtempSync(join(tmpdir(), "p2p-net-"));
  const keyFile = options.key ? join(home, "network.key") : null;
  if (keyFile) writeNetworkKey(keyFile);
  const env = { ...process.env, P2P_KEY: keyFile ?? "", ...options.env, P2P_HOME: home, NO_COLOR: "1" } as Record<string, string>;
  const processes = new TestnetProcesses({ executable, env, home, detached: Boolean(options.detached), onSpawn: options.onSpawn });
  return { subnet, firstOctet, executable, home, keyFile, env, dnsAddress: `${subnet}.${firstOctet}:${DNS_PORT}`, processes, dnsLog: () => "" };
}

async function startDns(options: TestnetOptions, network: Network): Promise<void> {
  const address = `${network.subnet}.${network.firstOctet}`;
  const dns = network.processes.spawn("dns", ["dns", "--host", address, "--db", join(network.home, "p2pdns.db"), ...(options.dnsArgs ?? [])]);
  network.dnsLog = dns.log;
  await waitUntil("the DNS to listen", 15_000, () => {
    if (hasExited(dns.proc)) throw new P2PError("ERROR", `the DNS exited (${dns.proc.exitCode ?? dns.proc.signalCode}):\n${dns.log()}`);
    return /listening on/.test(dns.log());
  });
}

function testnetOf(options: TestnetOptions, network: Network): Testnet {
  const nodes: TestnetNode[] = [];
  const starter = new NodeStarter({ processes: network.processes, dnsAddress: network.dnsAddress, home: network.home, nodeArgs: options.nodeArgs ?? [] });
  const liveNodes = () => nodes.filter((node) => !hasExited(node.process));
  // Positions count loopback addresses from the DNS's /24 on: past .254 the nodes take the next /24.
  let nextPosition = network.firstOctet + 1;
  return {
    home: network.home,
    dnsAddress: network.dnsAddress,
    nodes,
    executable: network.executable,
    keyFile: network.keyFile,
    dnsLog: () => network.dnsLog(),
    env: network.env,
    async addNode(position = nextPosition, nodeOptions = {}) {
      nextPosition = Math.max(nextPosition, position + 1);
      const node = starter.start(addressAt(network.subnet, position), nodeOptions);
      nodes.push(node);
      await waitForJoin(node, nodeOptions.startingTogether, nodeOptions.wave);
      return node;
    },
    async restartNode(previous, restartOptions = {}) {
      const node = starter.restart(previous);
      const index = nodes.indexOf(previous);
      if (index >= 0) nodes[index] = node;
      else nodes.push(node);
      if (restartOptions.waitForJoin !== false) await waitForJoin(node);
      return node;
    },
    async stopNode(node, signal = "SIGTERM") {
      if (!hasExited(node.process)) node.process.kill(signal);
      return node.process.exited;
    },
    liveNodes,
    control: controlOp,
    status: nodeStatus,
    waitForNodesInRing: (timeoutMs = 30_000) => waitUntil("every node to be in the ring", timeoutMs, () => liveNodes().every(isInRing)),
    waitForConsistentRing: (timeoutMs = 20_000) => waitForConsistentRing(liveNodes, timeoutMs),
    async close() {
      await network.processes.killAll();
      if (!options.keepHome) rmSync(network.home, { recursive: true, force: true });
    },
  };
}

/** A random 127.x.y with room for `subnets` consecutive /24s. */
function randomSubnet(subnets: number): string {
  const octet = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));
  return `127.${octet(64, 254)}.${octet(0, 256 - subnets)}`;
}
