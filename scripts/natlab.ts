// `sudo npm run natlab`: nodes behind four kinds of router in network namespaces; every ordered pair downloads a file; prints the matrix.
//
// bun scripts/natlab.ts [--size MiB] [--pair-timeout s] [--small]

import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Lab, startLab } from "../src/testnet/natlab";
import { destroyOwnRuns, labUnavailableReason, removeStaleRuns } from "../src/testnet/natlab-netns";
import { FULL_LAB, type PlanOptions } from "../src/testnet/natlab-plan";
import { modeCounts, renderReport } from "../src/testnet/natlab-report";
import { checkBinary } from "./localnet/binary";
import { ScriptError, flagError } from "./localnet/errors";
import { Lifecycle, settled } from "./localnet/lifecycle";

const USAGE = `usage: sudo npm run natlab -- [--size MiB] [--pair-timeout s] [--small]

  --size MiB          the file each node shares (default 16)
  --pair-timeout s    one download may take this long before its pair counts as failed (default 30)
  --small             the test's layout: routers A (masquerade), C (firewall) and D (port mapping), one node behind each, three public nodes (one dual-stack, one IPv6-only)`;

const BINARY = join(import.meta.dir, "..", "dist", "p2p");
const SMALL_LAB: PlanOptions = { routers: ["masquerade", "firewall", "upnp"], publicNodes: ["pub1", "pub2", "v6"], hostsPerRouter: 1 };
/** Bounds on the flags: a lab run stays minutes, not hours. */
const MAX_SIZE_MIB = 256;
const MAX_PAIR_TIMEOUT_S = 600;
const JOIN_TIMEOUT_MS = 30_000;

const life = new Lifecycle("natlab");

interface NatlabOptions {
  sizeMiB: number;
  pairTimeoutS: number;
  layout: PlanOptions;
}

function parseOptions(argv: string[]): NatlabOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        size: { type: "string", default: "16" },
        "pair-timeout": { type: "string", default: "30" },
        small: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw flagError(error);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    sizeMiB: boundedNumber(values.size, "--size", 0.001, MAX_SIZE_MIB),
    pairTimeoutS: boundedNumber(values["pair-timeout"], "--pair-timeout", 1, MAX_PAIR_TIMEOUT_S),
    layout: values.small ? SMALL_LAB : FULL_LAB,
  };
}

function boundedNumber(text: string, flag: string, low: number, high: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < low || value > high) throw new ScriptError(`invalid ${flag} '${text}': expected a number from ${low} to ${high}`);
  return value;
}

await life.run(async () => {
  const options = parseOptions(process.argv.slice(2));
  const unavailable = labUnavailableReason();
  if (unavailable) throw new ScriptError(unavailable);
  checkBinary(BINARY);
  const stale = removeStaleRuns();
  if (stale.length > 0) console.error(`removed ${stale.length} network namespaces left by an earlier run that was killed`);
  const startup: Promise<Lab> = startLab({
    layout: options.layout,
    binary: BINARY,
    fileBytes: Math.round(options.sizeMiB * 1024 * 1024),
    pairTimeoutMs: options.pairTimeoutS * 1000,
    joinTimeoutMs: JOIN_TIMEOUT_MS,
    onSpawn: (proc) => life.track(proc),
    progress: (line) => console.error(line),
  });
  life.onStop(async () => {
    const lab = await settled(startup);
    if (lab) await lab.close();
    destroyOwnRuns();
  });
  const lab = await startup;
  life.checkpoint();
  const report = await lab.measure();
  life.checkpoint();
  console.log(renderReport(report));
  const left = await lab.close();
  if (left.length > 0) throw new ScriptError(`teardown left: ${left.join("; ")}`);
  const counts = modeCounts(report.pairs);
  console.error(`natlab: ${report.pairs.length} pairs, ${counts.failed} failed; every namespace and process of the run is gone`);
});
