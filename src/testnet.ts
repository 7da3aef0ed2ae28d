// A whole local network in one call: a DNS and N nodes as real processes on 127.x.y.z, in a temp P2P_HOME.

import type { Subprocess } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "./protocol/client";
import { P2PError } from "./protocol/errors";
import type { NodeStatus } from "./node/node";
import { defaultDataDir } from "./node/home";
import { nodeId } from "./model/id";
import { DNS_PORT, PEER_PORT } from "./protocol/address";
import { writeNetworkKey } from "./protocol/network-key";

/** Nodes one testnet may hold: one /24 of loopback addresses, .2 to .254. */
export const MAX_TESTNET_NODES = 253;
/** Random subnets tried before giving up when addresses are in use. */
const MAX_SUBNET_ATTEMPTS = 5;

export interface TestnetOptions {
  nodes: number;
  /** The command that runs p2p: the built binary, or Bun on the source (default). */
  executable?: string[];
  /** First three octets, e.g. "127.0.0": DNS at .1, nodes from .2. Default: a random 127.x.y. */
  subnet?: string;
  /** Extra flags for every `p2p node`. */
  nodeArgs?: string[];
  /** Extra flags for `p2p dns`. */
  dnsArgs?: string[];
  /** Keep P2P_HOME after close (the demo's --keep). */
  keepHome?: boolean;
  /** Last octet of the DNS's address; nodes take the next ones (default 1: DNS at .1, nodes from .2). */
  firstOctet?: number;
  /**
   * Processes may outlive this one (demo --keep, scripts/cluster.ts): each runs in its own session, so a Ctrl-C
   * in the terminal does not reach it, and logs to <home>/logs/<ip or dns>.log, since a pipe dies with its reader.
   */
  detached?: boolean;
  /** Called as each process starts, so a caller knows every pid (the DNS's too) and can stop them even before this resolves. */
  onSpawn?: (role: string, proc: Subprocess) => void;
  env?: Record<string, string>;
  /**
   * Private network: writes a new key to <home>/network.key and gives it to the DNS and every node as P2P_KEY
   * (a node added with `env: { P2P_KEY: "" }` has none). Without it the network is open, whatever the caller's P2P_KEY.
   */
  key?: boolean;
}

export interface AddNodeOptions {
  /** The --dns value; null: no --dns flag at all (P2P_DNS or the default decides). Default: this testnet's DNS. */
  dns?: string | null;
  /** Extra environment for this node only. */
  env?: Record<string, string>;
  /** Extra flags for this node only, after the testnet's `nodeArgs`. */
  args?: string[];
}

export interface TestnetNode {
  readonly ip: string;
  readonly address: string;
  readonly id: string;
  readonly socketPath: string;
  readonly process: Subprocess;
  /** What the node wrote to stderr so far. */
  log(): string;
}

export interface Testnet {
  readonly home: string;
  readonly dnsAddress: string;
  readonly nodes: TestnetNode[];
  readonly executable: string[];
  /** The key file of a private testnet (`key: true`), else null. */
  readonly keyFile: string | null;
  /** What the DNS wrote to stderr so far. */
  dnsLog(): string;
  /** Starts one more node on the next free address (or the given last octet). */
  addNode(octet?: number, options?: AddNodeOptions): Promise<TestnetNode>;
  /**
   * Starts a stopped node again on the same address and data directory, replacing its entry in `nodes`;
   * resolves once it is in the ring (or, with `waitForJoin: false`, as soon as it is spawned).
   */
  restartNode(node: TestnetNode, options?: { waitForJoin?: boolean }): Promise<TestnetNode>;
  /** Sends a signal to a node and waits for it to exit. */
  stopNode(node: TestnetNode, signal?: NodeJS.Signals): Promise<number>;
  /** Nodes whose process is still running. */
  liveNodes(): TestnetNode[];
  status(node: TestnetNode): Promise<NodeStatus>;
  /** One op on a node's control socket, for tests and tools. */
  control(node: TestnetNode, op: string, args?: string[]): Promise<Uint8Array>;
  /** Resolves when every live node has said it is in the ring (after restarts that did not wait). */
  waitForNodesInRing(timeoutMs?: number): Promise<void>;
  /** Resolves when every live node's successor and predecessor are the true ones; rejects at the deadline. */
  waitForConsistentRing(timeoutMs?: number): Promise<void>;
  /** Env for running `p2p client` against this network. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export async function createTestnet(options: TestnetOptions): Promise<Testnet> {
  if (!(Number.isInteger(options.nodes) && options.nodes >= 0 && options.nodes <= MAX_TESTNET_NODES)) {
    throw new P2PError("MALFORMED", `a testnet holds 0 to ${MAX_TESTNET_NODES} nodes, not ${options.nodes}`);
  }
  const firstOctet = options.firstOctet ?? 1;
  if (!(Number.isInteger(firstOctet) && firstOctet >= 1 && firstOctet + options.nodes <= 254)) {
    throw new P2PError("MALFORMED", `${options.nodes} nodes after the DNS at .${firstOctet} do not fit below .255`);
  }
  if (options.subnet === undefined) {
    // Another network (another test run, a demo) may hold a random subnet's addresses: draw again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await createTestnet({ ...options, subnet: randomSubnet() });
      } catch (error) {
        if (attempt >= MAX_SUBNET_ATTEMPTS || !/already in use/.test((error as Error).message)) throw error;
      }
    }
  }
  const executable = options.executable ?? [process.execPath, join(import.meta.dir, "cli.ts")];
  const subnet = options.subnet;
  const home = mkdtempSync(join(tmpdir(), "p2p-net-"));
  const keyFile = options.key ? join(home, "network.key") : null;
  if (keyFile) writeNetworkKey(keyFile);
  const env = { ...process.env, P2P_KEY: keyFile ?? "", ...options.env, P2P_HOME: home, NO_COLOR: "1" } as Record<string, string>;
  const dnsAddress = `${subnet}.${firstOctet}:${DNS_PORT}`;
  const processes: Subprocess[] = [];
  const nodes: TestnetNode[] = [];
  let nextOctet = firstOctet + 1;
  let dnsLog = () => "";

  const spawn = (role: string, args: string[], extraEnv?: Record<string, string>) => {
    const logFile = options.detached ? join(home, "logs", `${role}.log`) : null;
    if (logFile) mkdirSync(join(home, "logs"), { recursive: true });
    const proc = Bun.spawn([...executable, ...args], {
      env: extraEnv ? { ...env, ...extraEnv } : env,
      stdin: "ignore",
      stdout: "ignore",
      stderr: logFile ? Bun.file(logFile) : "pipe",
      detached: Boolean(options.detached),
    });
    processes.push(proc);
    options.onSpawn?.(role, proc);
    const log = logFile ? () => readTextOrEmpty(logFile) : captureText(proc.stderr as ReadableStream<Uint8Array>);
    return { proc, log };
  };

  /** How each node was started, so a restart starts it the same way. */
  const started = new Map<string, AddNodeOptions>();
  const startNode = (ip: string, nodeOptions: AddNodeOptions = {}): TestnetNode => {
    started.set(ip, nodeOptions);
    const dns = nodeOptions.dns === undefined ? dnsAddress : nodeOptions.dns;
    const dnsArgs = dns === null ? [] : ["--dns", dns];
    const { proc, log } = spawn(ip, ["node", ip, ...dnsArgs, ...(options.nodeArgs ?? []), ...(nodeOptions.args ?? [])], nodeOptions.env);
    return { ip, address: `${ip}:${PEER_PORT}`, id: nodeId(`${ip}:${PEER_PORT}`), socketPath: join(defaultDataDir(ip, PEER_PORT, home), "node.sock"), process: proc, log };
  };
  const waitForJoin = (node: TestnetNode) =>
    waitUntil(`node ${node.ip} to join`, 30_000, async () => {
      const proc = node.process;
      if (hasExited(proc)) throw new P2PError("ERROR", `node ${node.ip} exited (${proc.exitCode ?? proc.signalCode}):\n${node.log()}`);
      return / is in the ring/.test(node.log());
    });

  const testnet: Testnet = {
    home,
    dnsAddress,
    nodes,
    executable,
    keyFile,
    dnsLog: () => dnsLog(),
    env,
    async addNode(octet = nextOctet, nodeOptions = {}) {
      nextOctet = Math.max(nextOctet, octet + 1);
      const node = startNode(`${subnet}.${octet}`, nodeOptions);
      nodes.push(node);
      await waitForJoin(node);
      return node;
    },
    async restartNode(previous, restartOptions = {}) {
      if (!hasExited(previous.process)) throw new P2PError("CONFLICT", `node ${previous.ip} is still running; stop it first`);
      const node = startNode(previous.ip, started.get(previous.ip));
      const index = nodes.indexOf(previous);
      if (index >= 0) nodes[index] = node;
      else nodes.push(node);
      if (restartOptions.waitForJoin !== false) await waitForJoin(node);
      return node;
    },
    async stopNode(node, signal = "SIGTERM") {
      if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill(signal);
      return node.process.exited;
    },
    liveNodes: () => nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null),
    async control(node, op, args = []) {
      const client = await connect({ unix: node.socketPath });
      try {
        return (await client.request(op, args)).body;
      } finally {
        client.close();
      }
    },
    async status(node) {
      return JSON.parse(new TextDecoder().decode(await testnet.control(node, "STATUS"))) as NodeStatus;
    },
    async waitForNodesInRing(timeoutMs = 30_000) {
      await waitUntil("every node to be in the ring", timeoutMs, () => testnet.liveNodes().every((node) => / is in the ring/.test(node.log())));
    },
    async waitForConsistentRing(timeoutMs = 20_000) {
      await waitUntil("a consistent ring", timeoutMs, async () => {
        const live = testnet.liveNodes().sort((a, b) => (a.id < b.id ? -1 : 1));
        const statuses = await Promise.all(live.map((node) => testnet.status(node)));
        return statuses.every((status, index) => {
          const successor = live[(index + 1) % live.length]!;
          const predecessor = live[(index - 1 + live.length) % live.length]!;
          if (live.length === 1) return status.successors.length === 0 || status.successors[0]!.address === status.address;
          return status.successors[0]?.address === successor.address && status.predecessor?.address === predecessor.address;
        });
      });
    },
    async close() {
      for (const proc of processes) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await Promise.all(processes.map((proc) => proc.exited));
      if (!options.keepHome) rmSync(home, { recursive: true, force: true });
    },
  };

  try {
    const dns = spawn("dns", ["dns", "--host", `${subnet}.${firstOctet}`, "--db", join(home, "p2pdns.db"), ...(options.dnsArgs ?? [])]);
    dnsLog = dns.log;
    await waitUntil("the DNS to listen", 15_000, () => {
      if (hasExited(dns.proc)) throw new P2PError("ERROR", `the DNS exited (${dns.proc.exitCode ?? dns.proc.signalCode}):\n${dns.log()}`);
      return /listening on/.test(dns.log());
    });
    await Promise.all(Array.from({ length: options.nodes }, () => testnet.addNode()));
  } catch (error) {
    await testnet.close();
    throw error;
  }
  return testnet;
}

function randomSubnet(): string {
  const octet = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));
  return `127.${octet(64, 254)}.${octet(0, 255)}`;
}

/** A process killed by a signal has no exit code, only a signal code. */
function hasExited(proc: Subprocess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function captureText(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return () => text;
}

/** Polls `check` until it returns true; errors from `check` count as "not yet" unless they are P2PError ERROR. */
async function waitUntil(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let attempt = 0; attempt < 100_000 && Date.now() < deadline; attempt++) {
    try {
      if (await check()) return;
    } catch (error) {
      if (error instanceof P2PError && error.code === "ERROR") throw error;
      last = error;
    }
    await Bun.sleep(100);
  }
  throw new P2PError("TIMEOUT", `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}
