// Sizes in src/: no file over MAX_FILE_LINES and no function over MAX_FUNCTION_LINES, measured with TypeScript's own parser.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { REPO_ROOT } from "../helpers/processes";

const SRC = join(REPO_ROOT, "src");
/** A file past this is split along its seams. */
const MAX_FILE_LINES = 300;
/** A function past this is read in steps: split into named ones. */
const MAX_FUNCTION_LINES = 80;

describe("the sizes of src/", () => {
  const files = sourceFiles(SRC);

  test(`no source file is over ${MAX_FILE_LINES} lines`, () => {
    const long = files
      .map((file) => ({ file: relative(REPO_ROOT, file), lines: lineCount(readFileSync(file, "utf8")) }))
      .filter(({ lines }) => lines > MAX_FILE_LINES);
    expect(long).toEqual([]);
  });

  test(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = files.flatMap((file) => longFunctions(file, readFileSync(file, "utf8")));
    expect(long).toEqual([]);
  });

  test("the function measure sees a long function, arrow or method when there is one", () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const text = `function long() {\n${body}\n}\nconst arrow = () => {\n${body}\n};\nclass C {\n  method() {\n${body}\n  }\n}\nfunction short() {\n  return 1;\n}\n`;
    expect(longFunctions("sample.ts", text).map((entry) => entry.split(" ")[0])).toEqual(["sample.ts:1", "sample.ts:83", "sample.ts:166"]);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Lines as an editor counts them: a final newline does not start another. */
function lineCount(text: string): number {
  return text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
}

/** `file:line name (N lines)` for each function, arrow function or method longer than MAX_FUNCTION_LINES. */
function longFunctions(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const long: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > MAX_FUNCTION_LINES) long.push(`${relative(REPO_ROOT, file) || file}:${first + 1} ${nameOf(node)} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return long;
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return named.name.text;
  if (ts.isVariableDeclaration(node.parent) && ts.isIdentifier(node.parent.name)) return node.parent.name.text;
  return "(anonymous)";
}
