// The compiled `dist/p2p`, built once per test run and shared by every test that needs the real binary.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./processes";

export const BINARY = join(REPO_ROOT, "dist", "p2p");

let building: Promise<string> | null = null;

export function builtBinary(): Promise<string> {
  building ??= (async () => {
    const build = Bun.spawn([process.execPath, join(REPO_ROOT, "scripts", "build.ts")], { stdout: "pipe", stderr: "pipe", cwd: REPO_ROOT });
    const code = await build.exited;
    if (code !== 0 || !existsSync(BINARY)) {
      throw new Error(`npm run build failed (exit ${code}):\n${await new Response(build.stderr).text()}`);
    }
    return BINARY;
  })();
  return building;
}
