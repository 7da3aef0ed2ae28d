// Measures how soon a download through an edge's relay moves to a direct path that opens later, in network namespaces (root).
//
// Usage: sudo npx bun scripts/bench-late-path.ts [--runs 3] [--size-mib 32] [--upload-limit 4] [--relayed-ms 2000]
// (builds dist/p2p first). Each run builds the small NAT lab (router C with its edge c1, two public members), blocks
// c1's connections to the downloader at its router, starts the download, removes the rule once the download has run
// through the relay for --relayed-ms, and times the downloader's "moved from its relay" line from that moment.

import { parseArgs } from "node:util";
import { destroyOwnRuns, labUnavailableReason, removeStaleRuns } from "../src/testnet/natlab-netns";
import { type LatePathResult, runLatePath } from "../src/testnet/natlab-late-path";
import { buildBinary } from "./lib/bench";
import { ScriptError } from "./localnet/errors";
import { Lifecycle } from "./localnet/lifecycle";

/** Each run builds and tears down a lab: a minute at most. */
const MAX_RUNS = 20;

const life = new Lifecycle("bench-late-path");

await life.run(async () => {
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "3" }, "size-mib": { type: "string", default: "32" }, "upload-limit": { type: "string", default: "4" }, "relayed-ms": { type: "string", default: "2000" } },
    strict: true,
  });
  const unavailable = labUnavailableReason();
  if (unavailable) throw new ScriptError(unavailable);
  const runs = wholeNumber(values.runs, "runs", 1, MAX_RUNS);
  const sizeMib = wholeNumber(values["size-mib"], "size-mib", 1, 1024);
  const limit = wholeNumber(values["upload-limit"], "upload-limit", 1, 1000);
  const relayedMs = wholeNumber(values["relayed-ms"], "relayed-ms", 0, 60_000);
  const binary = buildBinary();
  const stale = removeStaleRuns();
  if (stale.length > 0) console.error(`removed ${stale.length} network namespaces left by an earlier run that was killed`);
  life.onStop(() => void destroyOwnRuns());
  const results: LatePathResult[] = [];
  for (let index = 0; index < runs; index++) {
    results.push(
      await runLatePath({
        binary,
        fileBytes: sizeMib * 1024 * 1024,
        uploadLimitMBps: limit,
        relayedMs,
        joinTimeoutMs: 30_000,
        timeoutMs: 120_000,
        onSpawn: (proc) => life.track(proc),
        progress: (line) => console.error(line),
      }),
    );
    life.checkpoint();
  }
  console.log(`${sizeMib} MiB from an edge behind a firewall, every node at --upload-limit ${limit}; the rule goes after ${relayedMs} ms through the relay`);
  console.log("run   first path   moved to    moved after   downloaded then   total      result");
  results.forEach((result, index) => {
    const moved = result.movedAfterMs === null ? "never" : `${(result.movedAfterMs / 1000).toFixed(2)} s`;
    console.log(
      `${String(index + 1).padEnd(6)}${(result.firstPath ?? "-").padEnd(13)}${(result.movedTo ?? "-").padEnd(12)}${moved.padEnd(14)}${`${(result.bytesAtUnblock / 1048576).toFixed(1)} MiB`.padEnd(18)}${`${(result.totalMs / 1000).toFixed(1)} s`.padEnd(11)}${result.failure ?? "SHA-256 verified"}${result.left.length ? ` [left: ${result.left.join("; ")}]` : ""}`,
    );
  });
});

function wholeNumber(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new ScriptError(`invalid --${name} '${text}': expected a whole number from ${min} to ${max}`);
  return value;
}
