// The ring's hop counts quoted in the docs are the simulation's: ARCHITECTURE.md and BENCHMARKS.md's prose agree with
// BENCHMARKS.md's table, and the table's 1,000-node row is what the documented `npx bun scripts/sim.ts` prints.

import { describe, expect, test } from "bun:test";
import { readDocument, runAsDocumented } from "../helpers/docs";

/** BENCHMARKS.md's simulation table: mean hops by node count, for the rows with no crashed nodes. */
function tableMeanHops(): Map<number, string> {
  const rows = [...readDocument("BENCHMARKS.md").matchAll(/^\| ([\d,]+) \| 0 \| [\d.]+% \| ([\d.]+) /gm)];
  return new Map(rows.map((row) => [Number(row[1]!.replace(/,/g, "")), row[2]!]));
}

const rounded = (figure: string | undefined) => (figure === undefined ? undefined : Number(figure).toFixed(1));

describe("hop counts in the docs", () => {
  test("ARCHITECTURE.md and BENCHMARKS.md's prose give the table's mean hops at 1,000 and 10,000 nodes", () => {
    const table = tableMeanHops();
    expect([...table.keys()].sort((a, b) => a - b)).toEqual([1_000, 10_000]);
    const architecture = /mean ([\d.]+) at N = 1,000 and ([\d.]+) at N = 10,000/.exec(readDocument("docs/ARCHITECTURE.md"));
    expect(architecture?.slice(1)).toEqual([rounded(table.get(1_000))!, rounded(table.get(10_000))!]);
    const benchmarks = /a lookup takes ([\d.]+) hops at 1,000 nodes and ([\d.]+) at 10,000/.exec(readDocument("BENCHMARKS.md"));
    expect(benchmarks?.slice(1)).toEqual([rounded(table.get(1_000))!, rounded(table.get(10_000))!]);
  });

  test("npx bun scripts/sim.ts --nodes 1000 --seed 1 --json gives the table's 1,000-node mean hops", async () => {
    const run = await runAsDocumented(["npx", "bun", "scripts/sim.ts", "--nodes", "1000", "--seed", "1", "--json"], 120_000);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { meanHops: number; correct: number; lookups: number };
    expect(report.correct).toBe(report.lookups);
    expect(report.meanHops.toFixed(2)).toBe(tableMeanHops().get(1_000)!);
  }, 120_000);
});
