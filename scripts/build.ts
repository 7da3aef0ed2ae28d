// Compiles the one standalone `dist/p2p` executable (no Bun needed where it runs).

import { join } from "node:path";

const root = join(import.meta.dir, "..");
const outfile = process.argv[2] ?? join(root, "dist", "p2p");

const args = [
  "build",
  "--compile",
  "--minify",
  "--sourcemap",
  "--bytecode",
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
  console.error(`build failed (exit ${build.exitCode})`);
  process.exit(build.exitCode ?? 1);
}
