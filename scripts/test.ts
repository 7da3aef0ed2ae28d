// `npm test`: runs the whole suite and ends with one plain line `N passed, N failed` (`, N skipped` when some were) for CI.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const reportDir = mkdtempSync(join(tmpdir(), "p2p-junit-"));
const report = join(reportDir, "junit.xml");
const run = Bun.spawn([process.execPath, "test", "--reporter=junit", `--reporter-outfile=${report}`, ...process.argv.slice(2)], {
  stdio: ["ignore", "inherit", "inherit"],
  cwd: join(import.meta.dir, ".."),
});
const code = await run.exited;

let summary = "0 passed, 0 failed";
try {
  const head = /<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"[^>]*\bskipped="(\d+)"/.exec(readFileSync(report, "utf8"));
  if (head) {
    const [tests, failures, skipped] = head.slice(1).map(Number) as [number, number, number];
    summary = `${tests - failures - skipped} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ""}`;
  }
} catch {
  summary = `0 passed, 1 failed (bun test wrote no report; exit ${code})`;
}
rmSync(reportDir, { recursive: true, force: true });
console.log(summary);
process.exit(code === 0 && !summary.includes(" 0 passed") ? 0 : code || 1);
