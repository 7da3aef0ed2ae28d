// The NAT lab's connectivity matrix as text: a grid of modes (holder by downloader), then one line per ordered pair.

import type { LabPlan } from "./natlab-plan";
import { placeOf } from "./natlab-plan";
import type { PairResult, PathMode } from "./natlab-matrix";

const MARKS: Record<PathMode, string> = { direct: "D", reversed: "R", punched: "P", relayed: "L", failed: "x" };

export interface LabReport {
  plan: LabPlan;
  fileBytes: number;
  /** Nodes that did not start or join, with why. */
  nodeProblems: Map<string, string>;
  pairs: PairResult[];
  /** A line on the port-mapping router (the lab's NAT-PMP and UPnP IGD gateway) when there is one. */
  upnp?: string;
}

/** Counts of each mode over every ordered pair. */
export function modeCounts(pairs: readonly PairResult[]): Record<PathMode, number> {
  const counts: Record<PathMode, number> = { direct: 0, reversed: 0, punched: 0, relayed: 0, failed: 0 };
  for (const pair of pairs) counts[pair.mode] += 1;
  return counts;
}

export function renderReport(report: LabReport): string {
  const names = report.plan.hosts.filter((host) => host.name !== "dns").map((host) => host.name);
  const width = Math.max(5, ...names.map((name) => name.length)) + 1;
  const lines: string[] = [];
  lines.push("Nodes:");
  for (const host of report.plan.hosts) {
    const addresses = [host.ipv4, host.ipv6].filter(Boolean).join(", ");
    const problem = report.nodeProblems.get(host.name);
    lines.push(`  ${host.name.padEnd(width)}${placeOf(report.plan, host).padEnd(20)}${addresses.padEnd(30)}${problem ?? "in the ring"}`.trimEnd());
  }
  lines.push("", `Matrix (row: holder sharing a ${formatSize(report.fileBytes)} file; column: downloader): D direct, R reversed, P punched, L relayed, x failed`);
  lines.push(`${"".padEnd(width + 2)}${names.map((name) => name.padEnd(width)).join("")}`.trimEnd());
  for (const from of names) {
    const cells = names.map((to) => (to === from ? "-" : MARKS[report.pairs.find((pair) => pair.from === from && pair.to === to)?.mode ?? "failed"]).padEnd(width));
    lines.push(`  ${from.padEnd(width)}${cells.join("")}`.trimEnd());
  }
  const counts = modeCounts(report.pairs);
  lines.push("", `${report.pairs.length} ordered pairs: ${Object.entries(counts).map(([mode, count]) => `${count} ${mode}`).join(", ")}`);
  if (report.upnp) lines.push(report.upnp);
  lines.push("", `${"holder".padEnd(width + 2)}${"downloader".padEnd(12)}${"mode".padEnd(9)}${"1st byte".padStart(9)}${"total".padStart(9)}${"rate".padStart(12)}  reason`);
  for (const pair of report.pairs) {
    const rate = pair.bytesPerSecond === null ? "-" : `${(pair.bytesPerSecond / 1e6).toFixed(1)} MB/s`;
    const firstByte = pair.firstByteMs === null ? "-" : seconds(pair.firstByteMs);
    lines.push(`${pair.from.padEnd(width + 2)}${pair.to.padEnd(12)}${pair.mode.padEnd(9)}${firstByte.padStart(9)}${seconds(pair.totalMs).padStart(9)}${rate.padStart(12)}  ${pair.reason}`.trimEnd());
  }
  return lines.join("\n");
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}
