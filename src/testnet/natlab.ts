// One NAT lab run, shared by `npm run natlab` and its test: namespaces up, DNS and nodes started, every ordered pair measured, all torn down.

import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLab, destroyLab, newRunId } from "./natlab-netns";
import { type LabNode, LabProcesses, type LabSettings, lastErrorLine } from "./natlab-nodes";
import { hasExited } from "./processes";
import { type PairResult, measurePair, shareFiles, untried } from "./natlab-matrix";
import { type LabPlan, type PlanOptions, labPlan } from "./natlab-plan";
import type { LabReport } from "./natlab-report";
import { type UpnpRouter, natPmpHosts, startUpnp } from "./natlab-upnp";

export interface LabOptions {
  layout: PlanOptions;
  binary: string;
  fileBytes: number;
  /** One download may take this long before its pair counts as failed. */
  pairTimeoutMs: number;
  /** Nodes get this long to join the ring. */
  joinTimeoutMs: number;
  nodeArgs?: string[];
  onSpawn?: (proc: Subprocess) => void;
  /** Progress lines (to stderr in the script). */
  progress?: (line: string) => void;
}

export interface Lab {
  readonly runId: string;
  readonly home: string;
  readonly plan: LabPlan;
  readonly nodes: LabNode[];
  readonly upnp: UpnpRouter | null;
  /** Where its processes run from: for client commands (`runClient`) and files of its own. */
  readonly settings: LabSettings;
  /** Shares a file on every node and downloads it on every other one. */
  measure(): Promise<LabReport>;
  /** Kills every process by pid, deletes every namespace and the temp dir; returns what would not go (empty when all went). Runs once. */
  close(): Promise<string[]>;
}

/** Builds the namespaces and starts the DNS and the nodes; on any failure tears down what it made and throws. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const runId = newRunId();
  const home = mkdtempSync(join(tmpdir(), "p2p-natlab-"));
  const plan = labPlan(options.layout);
  const settings: LabSettings = { runId, binary: options.binary, home, nodeArgs: options.nodeArgs, onSpawn: options.onSpawn };
  const processes = new LabProcesses(settings);
  let upnp: UpnpRouter | null = null;
  let closing: Promise<string[]> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await upnp?.stop();
      await processes.killAll();
      const left = [...processes.running().map((pid) => `process ${pid} still runs`), ...destroyLab(runId)];
      rmSync(home, { recursive: true, force: true });
      return left;
    })());
  const progress = options.progress ?? (() => undefined);
  try {
    progress(`creating ${plan.hosts.length + plan.routers.length + 1} network namespaces (run ${runId})`);
    createLab(runId, plan);
    const upnpRouter = plan.routers.find((router) => router.kind === "upnp");
    if (upnpRouter) upnp = await startUpnp(runId, upnpRouter, natPmpHosts(plan, upnpRouter), options.onSpawn);
    await processes.startDns(options.joinTimeoutMs);
    progress(`starting ${plan.hosts.length - 1} nodes`);
    const nodes = await processes.startNodes(plan, options.joinTimeoutMs);
    return { runId, home, plan, nodes, upnp, settings, measure: () => measureAll(settings, plan, nodes, options, upnp), close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function measureAll(settings: LabSettings, plan: LabPlan, nodes: LabNode[], options: LabOptions, upnp: UpnpRouter | null): Promise<LabReport> {
  const progress = options.progress ?? (() => undefined);
  const nodeProblems = new Map<string, string>();
  for (const node of nodes) if (node.problem !== null) nodeProblems.set(node.host.name, node.problem);
  progress(`sharing a file on each of ${nodes.length - nodeProblems.size} running nodes`);
  const { files, problems } = await shareFiles(settings, nodes, options.fileBytes);
  const pairs: PairResult[] = [];
  for (const from of nodes) {
    for (const to of nodes) {
      if (from === to) continue;
      const file = files.get(from.host.name);
      const exited = [from, to].find((node) => hasExited(node.proc));
      if (exited) pairs.push(untried(from.host.name, to.host.name, `${exited.host.name}: ${nodeProblems.get(exited.host.name) ?? `exited: ${lastErrorLine(exited.log())}`}`));
      else if (!file) pairs.push(untried(from.host.name, to.host.name, problems.get(from.host.name) ?? "nothing shared"));
      else pairs.push(await measurePair(settings, from, to, file, options.pairTimeoutMs));
      const last = pairs.at(-1)!;
      progress(`${last.from} -> ${last.to}: ${last.mode}${last.reason ? ` (${last.reason})` : ""}`);
    }
  }
  return { plan, fileBytes: options.fileBytes, nodeProblems, pairs, upnp: upnp?.describe() };
}
