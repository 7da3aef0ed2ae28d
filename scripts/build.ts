// Compiles the one standalone `dist/p2p` executable (no Bun needed where it runs), for this machine or another Linux.
//
// bun scripts/build.ts [--target linux-x64|linux-x64-baseline|linux-arm64] [--outfile path] [path]
//
// Without --target it builds dist/p2p for the machine it runs on and downloads nothing. Any --target writes
// dist/p2p-<target> (dist/p2p stays this machine's) and fetches that Bun runtime from npm (@oven/bun-<target>)
// once; linux-arm64 is for VMs on an arm64 host (Vagrant on Apple silicon).

import { join, relative } from "node:path";
import { parseArgs } from "node:util";

/** What --target accepts: Bun's own target names without the `bun-` prefix. */
export const BUILD_TARGETS = ["linux-x64", "linux-x64-baseline", "linux-arm64"] as const;

const USAGE = `usage: npm run build -- [--target ${BUILD_TARGETS.join("|")}] [--outfile path]

  --target   build for another Linux machine, into dist/p2p-<target> (default: this machine, nothing downloaded)
  --outfile  where to write the executable (default: dist/p2p, or dist/p2p-<target> with --target)`;

const root = join(import.meta.dir, "..");

function options(argv: string[]): { target: string | undefined; outfile: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { target: { type: "string" }, outfile: { type: "string" }, help: { type: "boolean", default: false } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length > 1) fail(`one output path at most, got: ${positionals.join(" ")}\n${USAGE}`);
  const target = values.target;
  if (target !== undefined && !(BUILD_TARGETS as readonly string[]).includes(target)) {
    fail(`--target must be one of ${BUILD_TARGETS.join(", ")}, got "${target}"`);
  }
  // Another target's build goes beside dist/p2p, never over it: `npm run cluster` and the tests run dist/p2p here.
  const defaultOut = join(root, "dist", target ? `p2p-${target}` : "p2p");
  return { target, outfile: values.outfile ?? positionals[0] ?? defaultOut };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const { target, outfile } = options(process.argv.slice(2));

const args = [
  "build",
  "--compile",
  ...(target ? [`--target=bun-${target}`] : []),
  "--minify",
  "--sourcemap",
  "--bytecode",
  // Each command's modules in chunks of their own inside the executable, loaded when the command runs: every
  // process deserialized the whole program before (p2p --version 18 ms, now 13 ms; a node's start 3-6 ms less CPU).
  "--splitting",
  "--format=esm",
  // A daemon must not pick up whatever .env or bunfig.toml sits in the directory it is started from.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  join(root, "src", "cli.ts"),
  "--outfile",
  outfile,
];

const build = Bun.spawnSync([process.execPath, ...args], { stdout: "inherit", stderr: "inherit", cwd: root });
if (build.exitCode !== 0) {
  console.error(`build failed (exit ${build.exitCode})${target ? `: building for ${target} downloads @oven/bun-${target} from npm once` : ""}`);
  process.exit(build.exitCode ?? 1);
}
if (target) console.log(`built ${relative(process.cwd(), outfile) || outfile} for ${target}`);
