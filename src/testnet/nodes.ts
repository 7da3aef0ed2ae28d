// The nodes of one testnet: started on their loopback address against its DNS, restarted the way they were started.

import { getPriority, setPriority } from "node:os";
import { join } from "node:path";
import { defaultDataDir } from "../node/home";
import { nodeId } from "../model/id";
import { PEER_PORT } from "../protocol/address";
import { connect } from "../protocol/client";
import { P2PError } from "../protocol/errors";
import type { NodeStatus } from "../node/node";
import { type TestnetProcesses, hasExited, waitUntil } from "./processes";
import type { AddNodeOptions, JoinWave, TestnetNode } from "./types";

/**
 * How much lower than the DNS and the harness a testnet's nodes run (nice). On one machine hundreds of nodes
 * stand in for hundreds of machines, the DNS for one of its own: at equal priority 400 busy nodes left it a
 * 1/400th share of the cores, and it stopped answering JOIN within 3 s while a ring of that size formed.
 */
export const NODE_NICENESS = 10;
/** The lowest priority there is (nice 19). */
const MAX_NICENESS = 19;

/** The line a node logs once it is in the ring. */
const IN_RING = / is in the ring| is reached through its relay/;

export interface NodeSettings {
  processes: TestnetProcesses;
  dnsAddress: string;
  home: string;
  /** Extra flags for every node. */
  nodeArgs: string[];
}

export class NodeStarter {
  /** How each node was started, so a restart starts it the same way. */
  private readonly started = new Map<string, AddNodeOptions>();
  private readonly settings: NodeSettings;

  constructor(settings: NodeSettings) {
    this.settings = settings;
  }

  start(ip: string, nodeOptions: AddNodeOptions = {}): TestnetNode {
    const { processes, dnsAddress, home, nodeArgs } = this.settings;
    this.started.set(ip, nodeOptions);
    const dns = nodeOptions.dns === undefined ? dnsAddress : nodeOptions.dns;
    const dnsArgs = dns === null ? [] : ["--dns", dns];
    const { proc, log } = processes.spawn(ip, ["node", ip, ...dnsArgs, ...nodeArgs, ...(nodeOptions.args ?? [])], nodeOptions.env);
    lowerPriority(proc.pid);
    return { ip, address: `${ip}:${PEER_PORT}`, id: nodeId(`${ip}:${PEER_PORT}`), socketPath: join(defaultDataDir(ip, PEER_PORT, home), "node.sock"), process: proc, log };
  }

  /** Starts a stopped node again with the options it was first started with. */
  restart(previous: TestnetNode): TestnetNode {
    if (!hasExited(previous.process)) throw new P2PError("CONFLICT", `node ${previous.ip} is still running; stop it first`);
    return this.start(previous.ip, this.started.get(previous.ip));
  }
}

/** Lowers a node's priority NODE_NICENESS below this process's; a node that already exited is waitForJoin's to report. */
function lowerPriority(pid: number): void {
  try {
    setPriority(pid, Math.min(MAX_NICENESS, getPriority() + NODE_NICENESS));
  } catch (error) {
    if ((error as { info?: { code?: string } }).info?.code !== "ESRCH") throw error;
  }
}

/** How long a node may take to join when it starts alone; each node started beside it adds JOIN_WAIT_PER_NODE_MS (they share the cores). */
export const JOIN_WAIT_MS = 30_000;
export const JOIN_WAIT_PER_NODE_MS = 200;

/** Resolves once the node says it is in the ring; rejects at once if it exits. */
export async function waitForJoin(node: TestnetNode, startingTogether = 1, wave: JoinWave = { lastJoinAt: Date.now() }): Promise<void> {
  const patienceMs = JOIN_WAIT_MS + JOIN_WAIT_PER_NODE_MS * Math.max(0, startingTogether - 1);
  const startedAt = Date.now();
  for (let poll = 0; Date.now() - startedAt < MAX_WAVE_WAIT_MS; poll++) {
    const proc = node.process;
    if (hasExited(proc)) throw new P2PError("ERROR", `node ${node.ip} exited (${proc.exitCode ?? proc.signalCode}):\n${node.log()}`);
    if (IN_RING.test(node.log())) {
      wave.lastJoinAt = Date.now();
      return;
    }
    if (Date.now() - Math.max(startedAt, wave.lastJoinAt) > patienceMs) break;
    await Bun.sleep(JOIN_POLL_MS);
  }
  // Why it did not join is in its log: a timeout without it says nothing.
  const waited = Math.round((Date.now() - startedAt) / 1000);
  throw new P2PError("TIMEOUT", `node ${node.ip} did not join within ${waited} s (no node started with it joined for ${patienceMs / 1000} s); its log ends:\n${lastLines(node.log(), LOG_LINES_ON_TIMEOUT)}`);
}

/** How often a joining node's log is looked at. */
const JOIN_POLL_MS = 100;
/** The longest a wave of nodes may keep joining, however steadily. */
const MAX_WAVE_WAIT_MS = 15 * 60_000;

/** Lines of a node's log a join timeout shows. */
const LOG_LINES_ON_TIMEOUT = 20;

function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n") || "(nothing logged)";
}

export function isInRing(node: TestnetNode): boolean {
  return IN_RING.test(node.log());
}

/** One op on a node's control socket. */
export async function controlOp(node: TestnetNode, op: string, args: string[] = []): Promise<Uint8Array> {
  const client = await connect({ unix: node.socketPath });
  try {
    return (await client.request(op, args)).body;
  } finally {
    client.close();
  }
}

export async function nodeStatus(node: TestnetNode): Promise<NodeStatus> {
  return JSON.parse(new TextDecoder().decode(await controlOp(node, "STATUS"))) as NodeStatus;
}

/** Resolves when every live node's successor and predecessor are the true ones; rejects at the deadline. */
export function waitForConsistentRing(liveNodes: () => TestnetNode[], timeoutMs: number): Promise<void> {
  return waitUntil("a consistent ring", timeoutMs, async () => {
    const all = await Promise.all(liveNodes().map(async (node) => ({ node, status: await nodeStatus(node) })));
    // Edge nodes (named by a relayed address, `ip:port/<edge id>`) own no place on the ring.
    const members = all.filter(({ status }) => !status.address.includes("/")).sort((a, b) => (a.node.id < b.node.id ? -1 : 1));
    const live = members.map(({ node }) => node);
    const statuses = members.map(({ status }) => status);
    const consistent = statuses.every((status, index) => {
      const successor = live[(index + 1) % live.length]!;
      const predecessor = live[(index - 1 + live.length) % live.length]!;
      if (live.length === 1) return status.successors.length === 0 || status.successors[0]!.address === status.address;
      return status.successors[0]?.address === successor.address && status.predecessor?.address === predecessor.address;
    });
    if (consistent) return true;
    // Not yet: what each member sees, which the timeout's message then carries (a flaky wait says where it stuck).
    const views = statuses.map((status) => `${status.address} after ${status.predecessor?.address ?? "none"}, before ${status.successors[0]?.address ?? "none"}`);
    throw new P2PError("UNAVAILABLE", `ring in order of ids ${live.map((node) => node.address).join(", ")}; each sees: ${views.join("; ")}`);
  });
}
