// `npm run build -- --target <t>`: another target's executable goes beside dist/p2p, which stays this machine's.

import { afterAll, expect, test } from "bun:test";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BINARY, builtBinary } from "../helpers/binary";
import { REPO_ROOT } from "../helpers/processes";

const targetOut = join(REPO_ROOT, "dist", "p2p-linux-x64");
afterAll(() => {
  rmSync(targetOut, { force: true });
  rmSync(`${targetOut}.map`, { force: true });
});

// linux-x64 is the one target this x64 machine builds without downloading a Bun runtime; any --target goes the same way.
test.skipIf(process.platform !== "linux" || process.arch !== "x64")("a build with --target writes dist/p2p-<target> and leaves dist/p2p as it was", async () => {
  await builtBinary();
  const before = statSync(BINARY);
  const build = Bun.spawn([process.execPath, join(REPO_ROOT, "scripts", "build.ts"), "--target", "linux-x64"], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
  const [code, stdout] = await Promise.all([build.exited, new Response(build.stdout).text()]);
  expect(code).toBe(0);
  expect(stdout).toContain("built dist/p2p-linux-x64 for linux-x64");
  expect(existsSync(targetOut)).toBe(true);
  const after = statSync(BINARY);
  expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs });
}, 120_000);
