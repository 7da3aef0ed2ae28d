// The tests depend on src/ and test/ only: what they share with scripts/ lives under src/ (e.g. src/testnet/) or
// test/helpers/. Running a script as a process (`bun scripts/x.ts`) is how a test uses one, never importing it.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { REPO_ROOT } from "../helpers/processes";

const TESTS = join(REPO_ROOT, "test");
const SCRIPTS = join(REPO_ROOT, "scripts");

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The relative module specifiers of a file: static imports and re-exports (`import type` included), `import()` and `require()`. */
function specifiersOf(text: string): string[] {
  const patterns = [/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/g, /(?:^|\n)\s*import\s+["'](\.[^"']+)["']/g, /\b(?:import|require)\(\s*["'](\.[^"']+)["']\s*\)/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!));
}

/** The specifiers of `file` (with this text) that resolve into scripts/. */
function scriptImports(file: string, text: string): string[] {
  return specifiersOf(text).filter((specifier) => {
    const target = resolve(dirname(file), specifier);
    return target === SCRIPTS || target.startsWith(SCRIPTS + sep);
  });
}

describe("the tests' imports", () => {
  test("no test file imports a module from scripts/", () => {
    const offenders = typescriptFiles(TESTS).flatMap((file) =>
      scriptImports(file, readFileSync(file, "utf8")).map((specifier) => `${relative(REPO_ROOT, file)}: ${specifier}`),
    );
    expect(offenders).toEqual([]);
  });

  test("the check sees an import from scripts/ in any form, and not a script run as a process", () => {
    const file = join(TESTS, "demo", "example.test.ts");
    const text = [
      'import { isRunning } from "../../scripts/localnet/pids";',
      'import type { VmSpec } from "../../scripts/vms/machines";',
      'export { ringProblem } from "../../scripts/vms/ring";',
      'import "../../scripts/demo";',
      // Split so that this file's own text holds no dynamic import of scripts/.
      `const lazy = await import${'("../../scripts/cluster")'};`,
      'import { REPO_ROOT } from "../helpers/processes";',
      'Bun.spawn([process.execPath, "scripts/cluster.ts", "stop"]);',
    ].join("\n");
    expect(scriptImports(file, text)).toEqual(["../../scripts/localnet/pids", "../../scripts/vms/machines", "../../scripts/vms/ring", "../../scripts/demo", "../../scripts/cluster"]);
  });
});
