// The NAT lab's late direct path: a download from an edge runs through its relay while a rule at the edge's router blocks its dial back, and moves to a direct link once the rule goes.

import type { Subprocess } from "bun";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { startLab } from "./natlab";
import { namespaceOf, run } from "./natlab-netns";
import { type LabNode, runClient } from "./natlab-nodes";
import { failureOf, modeOf, shareFiles, transferOf } from "./natlab-matrix";

/** Router C (a firewall) with its edge c1, and two public members: c1's relay and the downloader. */
export const LATE_PATH_LAYOUT = { routers: ["firewall"], publicNodes: ["pub1", "pub2"], hostsPerRouter: 1 } as const;
/** Between two looks at the download and the downloader's log. */
const POLL_MS = 25;
/** What the downloader logs when a relayed link moves (src/node/relay/relayed-upgrade.ts). */
const MOVED = /the link to \S+ moved from its relay to a (\w+) connection/;

export interface LatePathOptions {
  binary: string;
  fileBytes: number;
  /** Every node's --upload-limit (MB/s), so the download lasts long enough to move. */
  uploadLimitMBps: number;
  /** How long the download runs through the relay, once its first bytes came, before the rule goes. */
  relayedMs: number;
  joinTimeoutMs: number;
  /** The download's whole budget. */
  timeoutMs: number;
  onSpawn?: (proc: Subprocess) => void;
  progress?: (line: string) => void;
}

export interface LatePathResult {
  /** Null when the download completed with the shared bytes; else why not. */
  failure: string | null;
  /** The path the download's first bytes took (TRANSFERS' mode then). */
  firstPath: string | null;
  /** Bytes downloaded when the rule went. */
  bytesAtUnblock: number;
  /** From the rule's removal to the downloader's line saying the link moved; null when it never did. */
  movedAfterMs: number | null;
  /** The path it moved to (reversed, punched, direct). */
  movedTo: string | null;
  totalMs: number;
  /** Whatever the lab left behind (processes, namespaces): empty when all went. */
  left: string[];
}

/** Builds the small lab, runs the download with the rule in place, removes it, watches the link move; tears all down. */
export async function runLatePath(options: LatePathOptions): Promise<LatePathResult> {
  const progress = options.progress ?? (() => undefined);
  const lab = await startLab({
    layout: LATE_PATH_LAYOUT,
    binary: options.binary,
    fileBytes: options.fileBytes,
    pairTimeoutMs: options.timeoutMs,
    joinTimeoutMs: options.joinTimeoutMs,
    nodeArgs: ["--upload-limit", String(options.uploadLimitMBps)],
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    progress,
  });
  try {
    const problem = lab.nodes.find((node) => node.problem !== null);
    if (problem) throw new Error(`${problem.host.name} did not start: ${problem.problem}`);
    const edge = lab.nodes.find((node) => node.host.name === "c1")!;
    const relay = await relayOf(lab.settings, edge);
    const downloader = lab.nodes.find((node) => node.host.router === null && `${node.ip}:7495` !== relay)!;
    progress(`c1 is relayed through ${relay}; ${downloader.host.name} downloads from it`);
    const result = await blockedThenOpen(lab.settings, lab.runId, edge, downloader, options, progress);
    return { ...result, left: await lab.close() };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

async function blockedThenOpen(settings: Parameters<typeof runClient>[0], runId: string, edge: LabNode, downloader: LabNode, options: LatePathOptions, progress: (line: string) => void): Promise<Omit<LatePathResult, "left">> {
  const { files, problems } = await shareFiles(settings, [edge], options.fileBytes);
  const file = files.get("c1");
  if (!file) throw new Error(`c1 could not share its file: ${problems.get("c1")}`);
  // c1 may still reach its relay, but not the downloader: a reversal cannot open, the download goes through the relay.
  const rule = ["FORWARD", "-s", edge.ip, "-d", downloader.ip, "-p", "tcp", "-j", "DROP"];
  const iptables = (...args: string[]) => run(["ip", "netns", "exec", namespaceOf(runId, "rc"), "iptables", "-w", "5", ...args]);
  iptables("-I", ...rule);
  const out = join(settings.home, "downloads", file.name);
  mkdirSync(join(settings.home, "downloads"), { recursive: true });
  const started = performance.now();
  let done = false;
  const download = runClient(settings, downloader, ["download", file.name, "--out", out, "--no-share"], options.timeoutMs).finally(() => {
    done = true;
  });
  let firstPath: string | null = null;
  let firstAt = 0;
  let bytesAtUnblock = 0;
  let unblockedAt: number | null = null;
  let moved: { afterMs: number; to: string } | null = null;
  for (let round = 0; round < Math.ceil(options.timeoutMs / POLL_MS) && !done && moved === null; round++) {
    const entry = await transferOf(downloader, file.name);
    if (firstPath === null && entry !== null && entry.bytes > 0) {
      firstPath = modeOf(entry);
      firstAt = performance.now();
      progress(`first bytes after ${Math.round(firstAt - started)} ms, ${firstPath}`);
    }
    if (unblockedAt === null && firstPath !== null && performance.now() - firstAt >= options.relayedMs) {
      bytesAtUnblock = entry?.bytes ?? 0;
      iptables("-D", ...rule);
      unblockedAt = performance.now();
      progress(`rule removed with ${bytesAtUnblock} bytes downloaded`);
    }
    const line = unblockedAt === null ? null : MOVED.exec(downloader.log());
    if (line && unblockedAt !== null) moved = { afterMs: performance.now() - unblockedAt, to: line[1]! };
    await Promise.race([download, Bun.sleep(POLL_MS)]);
  }
  if (unblockedAt === null) iptables("-D", ...rule);
  const result = await download;
  const totalMs = performance.now() - started;
  const failure = failureOf(result, out, file, await transferOf(downloader, file.name));
  return { failure, firstPath, bytesAtUnblock, movedAfterMs: moved?.afterMs ?? null, movedTo: moved?.to ?? null, totalMs };
}

/** The relay an edge's status names (`unreachable: relayed through <address>`). */
async function relayOf(settings: Parameters<typeof runClient>[0], edge: LabNode): Promise<string> {
  const status = await runClient(settings, edge, ["status"], 10_000);
  const relay = /relayed through ([^\s"]+)/.exec(status.stdout)?.[1];
  if (!status.ok || !relay) throw new Error(`c1 names no relay: ${status.error || status.stdout.slice(0, 200)}`);
  return relay;
}
