// The NAT lab's processes: the DNS and the nodes, each run as `ip netns exec <ns> dist/p2p ...` (so the pid held is p2p's), and client commands.

import type { Subprocess } from "bun";
import { join } from "node:path";
import { DNS_PORT, formatAddress } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { hasExited } from "./processes";
import { namespaceOf } from "./natlab-netns";
import { DNS_V4, DNS_V6, type LabHost, type LabPlan, nodeIp } from "./natlab-plan";

/** The line a node logs once it is in the ring. */
const IN_RING = / is in the ring| is reached through its relay/;
/** The line the DNS logs once it listens. */
const DNS_LISTENING = /listening on/;
/** A node's log is kept up to this many characters (the tail), so a chatty node cannot fill memory. */
const MAX_LOG_CHARS = 200_000;
/** Between two looks at a log or a process. */
const POLL_MS = 100;

export interface LabProcess {
  readonly name: string;
  readonly namespace: string;
  readonly proc: Subprocess;
  /** What it wrote to stderr so far (the tail). */
  log(): string;
}

export interface LabNode extends LabProcess {
  readonly host: LabHost;
  readonly ip: string;
  readonly socketPath: string;
  /** Null once it is in the ring; else why it is not. */
  problem: string | null;
}

export interface LabSettings {
  runId: string;
  binary: string;
  /** The run's temp dir: data dirs, the DNS database, files. */
  home: string;
  /** Extra flags for every node (e.g. a faster stabilize in the test). */
  nodeArgs?: string[];
  /** Called as each process starts, so a Ctrl-C handler knows every pid. */
  onSpawn?: (proc: Subprocess) => void;
}

/** Every process of one lab run: started in a namespace, killed by pid. */
export class LabProcesses {
  private readonly all: Subprocess[] = [];

  constructor(private readonly settings: LabSettings) {}

  spawn(name: string, part: string, args: string[]): LabProcess {
    const namespace = namespaceOf(this.settings.runId, part);
    const proc = Bun.spawn(["ip", "netns", "exec", namespace, this.settings.binary, ...args], {
      env: { ...process.env, P2P_HOME: this.settings.home, NO_COLOR: "1", P2P_LOG_LEVEL: "info", P2P_KEY: "" },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    this.all.push(proc);
    this.settings.onSpawn?.(proc);
    return { name, namespace, proc, log: captureTail(proc.stderr as ReadableStream<Uint8Array>) };
  }

  /** Starts the DNS on the public segment, listening on both families; resolves once it listens. */
  async startDns(timeoutMs: number): Promise<LabProcess> {
    const dns = this.spawn("dns", "dns", ["dns", "--host", "::", "--port", String(DNS_PORT), "--db", join(this.settings.home, "dns.db")]);
    const problem = await waitForLine(dns, DNS_LISTENING, timeoutMs);
    if (problem) throw new P2PError("ERROR", `the lab's DNS did not start: ${problem}`);
    return dns;
  }

  /**
   * Starts one node per host of the plan (the DNS's excepted) in three waves, as a network grows: the first
   * public node, then the other public ones, then every node behind a router; each wave waits until its
   * nodes are in the ring or `timeoutMs` passes. Each node's `problem` says if it did not get in.
   */
  async startNodes(plan: LabPlan, timeoutMs: number): Promise<LabNode[]> {
    const hosts = plan.hosts.filter((host) => host.name !== "dns");
    const publicHosts = hosts.filter((host) => host.router === null);
    const waves = [publicHosts.slice(0, 1), publicHosts.slice(1), hosts.filter((host) => host.router !== null)];
    const nodes: LabNode[] = [];
    for (const wave of waves) {
      const started = wave.map((host) => this.startNode(host));
      await Promise.all(
        started.map(async (node) => {
          node.problem = await waitForLine(node, IN_RING, timeoutMs);
        }),
      );
      nodes.push(...started);
    }
    return nodes;
  }

  private startNode(host: LabHost): LabNode {
    const ip = nodeIp(host);
    const dns = host.ipv4 ? formatAddress(DNS_V4, DNS_PORT) : formatAddress(DNS_V6, DNS_PORT);
    const dataDir = join(this.settings.home, "nodes", host.name);
    // A dual-stack host's node joins on IPv4 and listens on its IPv6 address too, a relay for IPv6-only nodes.
    const also = host.ipv4 && host.ipv6 ? ["--also", host.ipv6] : [];
    const spawned = this.spawn(host.name, host.name, ["node", ip, ...also, "--dns", dns, "--data", dataDir, ...(this.settings.nodeArgs ?? [])]);
    return { ...spawned, host, ip, socketPath: join(dataDir, "node.sock"), problem: "not started" };
  }

  /** SIGKILLs every process still running and waits (bounded) until each has exited. */
  async killAll(timeoutMs = 5_000): Promise<void> {
    for (const proc of this.all) if (!hasExited(proc)) proc.kill("SIGKILL");
    await Promise.race([Promise.all(this.all.map((proc) => proc.exited)), Bun.sleep(timeoutMs)]);
  }

  /** Pids of processes still running (none after killAll). */
  running(): number[] {
    return this.all.filter((proc) => !hasExited(proc)).map((proc) => proc.pid);
  }
}

export interface ClientResult {
  ok: boolean;
  stdout: string;
  /** The CLI's error line, or why the command gave no answer. */
  error: string;
  ms: number;
}

/** Runs `p2p client <args> --socket <node's> --json` inside the node's namespace, killed after `timeoutMs`. */
export async function runClient(settings: LabSettings, node: LabNode, args: string[], timeoutMs: number): Promise<ClientResult> {
  const started = performance.now();
  const proc = Bun.spawn(["ip", "netns", "exec", node.namespace, settings.binary, "client", ...args, "--socket", node.socketPath, "--json"], {
    env: { ...process.env, NO_COLOR: "1", P2P_HOME: settings.home },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  settings.onSpawn?.(proc);
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  if (code === 0) return { ok: true, stdout, error: "", ms };
  const line = stderr.split("\n").find((text) => /^(\[error\]|error:)/.test(text))?.replace(/^(\[error\]|error:)\s*/, "");
  return { ok: false, stdout, error: line ?? (proc.signalCode ? `no answer within ${Math.round(timeoutMs / 1000)} s` : `exit ${code}`), ms };
}

/** Waits for `pattern` in the process's log; null when seen, else why not (it exited, or the deadline passed). */
async function waitForLine(process_: LabProcess, pattern: RegExp, timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < Math.ceil(timeoutMs / POLL_MS) + 1; round++) {
    if (pattern.test(process_.log())) return null;
    if (hasExited(process_.proc)) return `exited (${process_.proc.exitCode ?? process_.proc.signalCode}): ${lastErrorLine(process_.log())}`;
    if (Date.now() > deadline) break;
    await Bun.sleep(POLL_MS);
  }
  return `not in the ring after ${Math.round(timeoutMs / 1000)} s: ${lastErrorLine(process_.log())}`;
}

/** The last error or warning a process logged, else its last line. */
export function lastErrorLine(log: string): string {
  const lines = log.split("\n").map((line) => line.trim()).filter(Boolean);
  const problem = [...lines].reverse().find((line) => /^\[(error|warn)\]|^error:/.test(line));
  return (problem ?? lines.at(-1) ?? "no output").slice(0, 200);
}

/** Keeps the last MAX_LOG_CHARS of a stream as text. */
export function captureTail(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length > MAX_LOG_CHARS) text = text.slice(-MAX_LOG_CHARS);
    }
  })();
  return () => text;
}
