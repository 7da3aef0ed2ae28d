// The module graph of src/: no import cycle (type-only imports included), and folders layered with no import back up (sizes: sizes.test.ts).

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../helpers/processes";

const SRC = join(REPO_ROOT, "src");

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

/**
 * What each folder of src/ (or file directly in it) may import besides itself: the layers below it, never
 * one above. protocol <- model <- wire <- node <- cli: the wire speaks the model's data and knows no node;
 * the introducer (dns/) speaks protocol and wire and knows no node; a node knows no CLI.
 */
const LAYERS: Record<string, readonly string[]> = {
  "log.ts": [],
  "random.ts": [],
  "version.ts": [],
  protocol: [],
  "sqlite.ts": ["protocol"],
  model: ["protocol"],
  wire: ["protocol", "model"],
  dns: ["protocol", "model", "wire", "log.ts", "sqlite.ts"],
  node: ["protocol", "model", "wire", "log.ts", "random.ts", "sqlite.ts"],
  testnet: ["protocol", "model", "wire", "node"],
  "testnet.ts": ["protocol", "model", "wire", "node", "testnet"],
  web: ["protocol", "model", "wire", "node", "log.ts", "version.ts"],
  cli: ["protocol", "model", "wire", "dns", "node", "web", "log.ts", "version.ts"],
  "cli.ts": ["cli", "version.ts"],
};

/** The layer a file of src/ belongs to: its top folder, or its own name for a file directly in src/. */
function layerOf(file: string): string {
  return relative(SRC, file).split("/")[0]!;
}

/** Every import that crosses layers in a direction `layers` does not allow, as "from -> to"; a file of no layer is one too. */
function layerViolations(graph: Map<string, string[]>, layerOfFile: (file: string) => string, layers: Record<string, readonly string[]>): string[] {
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOfFile(file);
    const allowed = layers[from];
    if (allowed === undefined) {
      violations.push(`${file}: ${from} has no place in the layering`);
      continue;
    }
    for (const target of targets) {
      const to = layerOfFile(target);
      if (to !== from && !allowed.includes(to)) violations.push(`${file} -> ${target} (${from} may not import ${to})`);
    }
  }
  return violations;
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

  test("no folder imports from a layer above it", () => {
    const graph = new Map(files.map((file) => [relative(REPO_ROOT, file), importsOf(file, known).map((target) => relative(REPO_ROOT, target))]));
    const violations = layerViolations(graph, (file) => layerOf(join(REPO_ROOT, file)), LAYERS);
    expect(violations).toEqual([]);
  });

  test("the layers themselves only point down: no two may import each other", () => {
    expect(findCycles(new Map(Object.entries(LAYERS).map(([layer, below]) => [layer, [...below]])))).toEqual([]);
  });

  test("the layer rule catches an import back up, and a folder with no place in it", () => {
    const graph = new Map([
      ["src/wire/ring.ts", ["src/model/id.ts", "src/protocol/errors.ts"]],
      ["src/model/id.ts", ["src/node/ring/chord.ts"]],
      ["src/node/ring/chord.ts", ["src/wire/ring.ts", "src/model/id.ts"]],
      ["src/gui/app.ts", ["src/wire/ring.ts"]],
    ]);
    const layer = (file: string) => file.split("/")[1]!;
    expect(layerViolations(graph, layer, LAYERS)).toEqual([
      "src/model/id.ts -> src/node/ring/chord.ts (model may not import node)",
      "src/gui/app.ts: gui has no place in the layering",
    ]);
  });
});
