// Measures TCP hole punching in network namespaces: each pair of the punch lab punches N times (default 20); prints each pair's success rate.
//
// Usage: sudo npx bun scripts/bench-punch.ts [--tries N] [--pairs a1-e1,a1-c1,c1-f1,b1-a1] [--resetting-routers]

import { parseArgs } from "node:util";
import { join } from "node:path";
import { labUnavailableReason } from "../src/testnet/natlab-netns";
import { runPunchLab } from "../src/testnet/natlab-punch";

const { values } = parseArgs({ options: { tries: { type: "string", default: "20" }, pairs: { type: "string", default: "a1-e1,a1-c1,c1-f1,b1-a1" }, "resetting-routers": { type: "boolean", default: false } }, strict: true });
const unavailable = labUnavailableReason();
if (unavailable) {
  console.error(unavailable);
  process.exit(2);
}
const tries = Number(values.tries);
if (!Number.isInteger(tries) || tries < 1 || tries > 100) throw new Error("--tries must be a whole number from 1 to 100");
const pairs = values.pairs.split(",").map((pair) => pair.split("-") as [string, string]);
const results = await runPunchLab({ pairs, tries, resettingRouters: values["resetting-routers"], bun: process.execPath, root: join(import.meta.dir, ".."), progress: (line) => console.error(line) });
console.log("pair        punched   median ms   max ms   failures (first reason)");
for (const result of results) {
  const ok = result.tries.filter((entry) => entry.ok);
  const times = ok.map((entry) => entry.ms).sort((a, b) => a - b);
  const failed = result.tries.filter((entry) => !entry.ok);
  const median = times.length ? times[Math.floor(times.length / 2)] : "-";
  const max = result.tries.length ? Math.max(...result.tries.map((entry) => entry.ms)) : "-";
  const name = `${result.initiator}<->${result.responder}`.padEnd(12);
  console.log(`${name}${`${ok.length}/${tries}`.padStart(7)}   ${String(median).padStart(9)}   ${String(max).padStart(6)}   ${failed.length}${failed[0] ? ` (${failed[0].error})` : ""}${result.problem ? ` [${result.problem}]` : ""}`);
}
