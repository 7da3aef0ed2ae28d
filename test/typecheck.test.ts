// The whole repository type-checks under strict settings: a type error is a failing test, not a surprise at run time.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers/processes";

test("src, scripts and test type-check with tsc --strict", async () => {
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const run = Bun.spawn(["node", tsc, "-p", join(REPO_ROOT, "scripts", "tsconfig.json")], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
  const [code, out] = await Promise.all([run.exited, new Response(run.stdout).text()]);
  expect(out).toBe("");
  expect(code).toBe(0);
}, 120_000);
