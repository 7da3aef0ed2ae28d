// Runs the standard simulation table (N = 1,000 and 10,000; fail 0, 0.25, 0.5) against the targets.
//
// bun scripts/sim-table.ts [--seed S] [--json]

import { parseArgs } from "node:util";
import { DEFAULT_OPTIONS, runSimulation, type SimReport } from "../src/node/ring/sim/simulation";

const SIZES = [1000, 10000];
const FAILURES = [0, 0.25, 0.5];

export type TableRow = SimReport & {
  fail: number;
  meanHopsTarget: number;
  p99HopsTarget: number;
  meetsTargets: boolean;
};

/** Targets: mean hops <= log2(N)/2 + 0.5, p99 <= log2(N), every lookup correct once stable. */
export function judge(report: SimReport, fail: number): TableRow {
  const log2 = Math.log2(report.nodes);
  const meanHopsTarget = log2 / 2 + 0.5;
  const p99HopsTarget = log2;
  const meetsTargets =
    report.meanHops <= meanHopsTarget && report.p99Hops <= p99HopsTarget && report.correct === report.lookups && report.stable;
  return { ...report, fail, meanHopsTarget, p99HopsTarget, meetsTargets };
}

export function formatTable(rows: readonly TableRow[]): string {
  const header = ["nodes", "fail", "correct", "mean hops (target)", "p99 (target)", "checks", "lost / expected", "readable", "repair", "s", "targets"];
  const lines = rows.map((row) => [
    String(row.nodes),
    row.fail.toFixed(2),
    `${((100 * row.correct) / row.lookups).toFixed(1)}%`,
    `${row.meanHops.toFixed(2)} (<= ${row.meanHopsTarget.toFixed(2)})`,
    `${row.p99Hops} (<= ${row.p99HopsTarget.toFixed(2)})`,
    row.meanChecks.toFixed(2),
    `${row.lostRecords} / ${row.expectedLostRecords.toFixed(1)}`,
    `${row.readableRecords}/${row.records}`,
    `${row.repairRounds}${row.stable ? "" : " UNSTABLE"}`,
    row.seconds.toFixed(1),
    row.meetsTargets ? "ok" : "MISSED",
  ]);
  const table = [header, ...lines];
  const widths = header.map((_, column) => Math.max(...table.map((line) => (line[column] ?? "").length)));
  return table.map((line) => line.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")).join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { seed: { type: "string" }, json: { type: "boolean", default: false } },
    strict: true,
  });
  const seed = values.seed === undefined ? DEFAULT_OPTIONS.seed : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) {
    console.error(`--seed must be a non-negative integer, got ${values.seed}`);
    process.exit(1);
  }
  const rows: TableRow[] = [];
  for (const nodes of SIZES) {
    for (const fail of FAILURES) {
      const report = await runSimulation({ ...DEFAULT_OPTIONS, nodes, fail, seed });
      rows.push(judge(report, fail));
      if (!values.json) console.error(`done: ${nodes} nodes, fail ${fail}`);
    }
  }
  console.log(values.json ? JSON.stringify(rows) : formatTable(rows));
}
