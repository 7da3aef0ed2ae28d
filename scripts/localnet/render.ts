// Plain, aligned text for the demo and cluster scripts: tables, sizes, durations, the ring.

import { relative } from "node:path";
import type { NodeStatus } from "../../src/node/node";

/** Left-aligned columns separated by two spaces, each row indented by `indent`. */
export function table(rows: string[][], indent = "  "): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows
    .map((row) => indent + row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ").trimEnd())
    .join("\n");
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function seconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(milliseconds < 10_000 ? 2 : 1)} s`;
}

/** How to type the binary's path from here: `dist/p2p` from the repository, absolute elsewhere. */
export function commandPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere.startsWith("..") || fromHere.startsWith("/") ? path : fromHere;
}

/** One row per node, clockwise from the smallest id: who follows whom and how many records each holds. */
export function ringTable(statuses: NodeStatus[], nameOf: (address: string) => string): string {
  const sorted = [...statuses].sort((a, b) => (a.id < b.id ? -1 : 1));
  const rows = sorted.map((status) => [
    nameOf(status.address),
    status.address,
    status.id.slice(0, 12),
    status.predecessor ? nameOf(status.predecessor.address) : "-",
    status.successors.map((peer) => nameOf(peer.address)).join(" ") || "-",
    `${status.records.primary} primary, ${status.records.replica} replica`,
  ]);
  return table([["name", "address", "id", "predecessor", "successors", "records"], ...rows]);
}
