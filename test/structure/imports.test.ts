// The module graph of src/: no import cycle (type-only imports included), and no source file over 400 lines.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../helpers/processes";

const SRC = join(REPO_ROOT, "src");
/** Files over this many lines are split. */
const MAX_LINES = 400;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports and re-exports of one file, resolved to files (`import type` included). */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const text = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g)) {
    const base = resolve(dirname(file), match[1]!);
    const candidates = [base, `${base}.ts`, join(base, "index.ts")];
    const found = candidates.find((candidate) => known.has(candidate));
    if (found) targets.push(found);
  }
  for (const match of text.matchAll(/import\(\s*"(\.[^"]+)"\s*\)/g)) {
    const base = resolve(dirname(file), match[1]!);
    const found = [base, `${base}.ts`, join(base, "index.ts")].find((candidate) => known.has(candidate));
    if (found) targets.push(found);
  }
  return targets;
}

/** Every cycle found by a depth-first walk, each as the list of files around it. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

describe("the structure of src/", () => {
  const files = sourceFiles(SRC);
  const known = new Set(files);

  test("no module imports itself through others", () => {
    const graph = new Map(files.map((file) => [file, importsOf(file, known)]));
    const cycles = findCycles(graph).map((cycle) => cycle.map((file) => relative(REPO_ROOT, file)).join(" -> "));
    expect(cycles).toEqual([]);
  });

  test("the cycle finder sees a cycle when there is one", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
    ]);
    expect(findCycles(graph)).toEqual([["a", "b", "c", "a"]]);
  });

  test(`no source file is over ${MAX_LINES} lines`, () => {
    const long = files
      .map((file) => ({ file: relative(REPO_ROOT, file), lines: readFileSync(file, "utf8").split("\n").length }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
