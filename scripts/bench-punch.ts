// Measures TCP hole punching in network namespaces: each pair of the punch lab punches N times (default 20); prints each pair's success rate.
//
// Usage: sudo npx bun scripts/bench-punch.ts [--tries N] [--pairs a1-e1,a1-c1,c1-f1,b1-a1,c1-b1] [--resetting-routers]

import { join } from "node:path";
import { parseArgs } from "node:util";
import { destroyOwnRuns, labUnavailableReason, removeStaleRuns } from "../src/testnet/natlab-netns";
import { type PunchPairResult, punchLabPlan, runPunchLab } from "../src/testnet/natlab-punch";
import { ScriptError } from "./localnet/errors";
import { Lifecycle } from "./localnet/lifecycle";

/** A run stays minutes: each try of a pair may take up to about 15 s. */
const MAX_TRIES = 100;

const life = new Lifecycle("bench-punch");

await life.run(async () => {
  const { values } = parseArgs({ options: { tries: { type: "string", default: "20" }, pairs: { type: "string", default: "a1-e1,a1-c1,c1-f1,b1-a1,c1-b1" }, "resetting-routers": { type: "boolean", default: false } }, strict: true });
  const unavailable = labUnavailableReason();
  if (unavailable) throw new ScriptError(unavailable);
  const tries = Number(values.tries);
  if (!Number.isInteger(tries) || tries < 1 || tries > MAX_TRIES) throw new ScriptError(`invalid --tries '${values.tries}': expected a whole number from 1 to ${MAX_TRIES}`);
  const hosts = punchLabPlan().hosts.map((host) => host.name).filter((name) => name !== "rv");
  const pairs = values.pairs.split(",").map((pair) => pair.split("-"));
  const bad = pairs.find((pair) => pair.length !== 2 || pair[0] === pair[1] || !pair.every((host) => hosts.includes(host!)));
  if (bad) throw new ScriptError(`invalid pair '${bad.join("-")}' in --pairs: expected two different hosts of ${hosts.join(", ")}, as a1-e1`);
  const stale = removeStaleRuns();
  if (stale.length > 0) console.error(`removed ${stale.length} network namespaces left by an earlier run that was killed`);
  life.onStop(() => void destroyOwnRuns());
  const results = await runPunchLab({
    pairs: pairs as [string, string][],
    tries,
    resettingRouters: values["resetting-routers"],
    bun: process.execPath,
    root: join(import.meta.dir, ".."),
    onSpawn: (proc) => life.track(proc),
    progress: (line) => console.error(line),
  });
  life.checkpoint();
  console.log(renderResults(results, tries));
});

function renderResults(results: PunchPairResult[], tries: number): string {
  const lines = ["pair        punched   median ms   max ms   failures (first reason)"];
  for (const result of results) {
    const times = result.tries.filter((entry) => entry.ok).map((entry) => entry.ms).sort((a, b) => a - b);
    const failed = result.tries.filter((entry) => !entry.ok);
    const median = times.length ? String(times[Math.floor(times.length / 2)]) : "-";
    const max = result.tries.length ? String(Math.max(...result.tries.map((entry) => entry.ms))) : "-";
    const name = `${result.initiator}<->${result.responder}`.padEnd(12);
    lines.push(`${name}${`${times.length}/${tries}`.padStart(7)}   ${median.padStart(9)}   ${max.padStart(6)}   ${failed.length}${failed[0] ? ` (${failed[0].error})` : ""}${result.problem ? ` [${result.problem}]` : ""}`);
  }
  return lines.join("\n");
}
