// The command line of the ring simulation (src/node/ring/sim/simulation.ts): one configuration, as text or JSON.
//
// bun scripts/sim.ts --nodes N [--fail FRACTION] [--seed S] [--replicas R] [--successors K]
//                   [--records M] [--lookups L] [--json]

import { parseArgs } from "node:util";
import { DEFAULT_OPTIONS, formatReport, runSimulation, type SimOptions } from "../src/node/ring/sim/simulation";

// ---- command line -----------------------------------------------------------------------------

export function parseSimArgs(argv: string[]): SimOptions & { json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: "string" },
      fail: { type: "string" },
      seed: { type: "string" },
      replicas: { type: "string" },
      successors: { type: "string" },
      records: { type: "string" },
      lookups: { type: "string" },
      "max-repair-rounds": { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const count = (flag: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${flag} must be an integer >= ${min}, got ${raw}`);
    return value;
  };
  const fail = values.fail === undefined ? DEFAULT_OPTIONS.fail : Number(values.fail);
  if (!(fail >= 0 && fail < 1)) throw new Error(`--fail must be a fraction in [0, 1), got ${values.fail}`);
  return {
    nodes: count("nodes", values.nodes, DEFAULT_OPTIONS.nodes, 1),
    fail,
    seed: count("seed", values.seed, DEFAULT_OPTIONS.seed, 0),
    replicas: count("replicas", values.replicas, DEFAULT_OPTIONS.replicas, 1),
    successors: count("successors", values.successors, DEFAULT_OPTIONS.successors, 1),
    records: count("records", values.records, DEFAULT_OPTIONS.records, 0),
    lookups: count("lookups", values.lookups, DEFAULT_OPTIONS.lookups, 1),
    maxRepairRounds: count("max-repair-rounds", values["max-repair-rounds"], DEFAULT_OPTIONS.maxRepairRounds, 1),
    json: values.json ?? false,
  };
}

if (import.meta.main) {
  try {
    const { json, ...options } = parseSimArgs(process.argv.slice(2));
    const report = await runSimulation(options);
    console.log(json ? JSON.stringify(report) : formatReport(report));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
