// Every `$ p2p ... --help` shown in the docs is what the built binary prints, so the usage blocks cannot drift.
//
// The comparison is exact (after trailing spaces, which the binary strips too): citty pads each column to its
// widest entry and never wraps, so the output does not depend on the terminal. After changing a help text, run
// `P2P_UPDATE_DOCS=1 npx bun test test/docs/help.test.ts` to rewrite the blocks from the binary.

import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtBinary } from "../helpers/binary";
import { DOCUMENTS, codeBlocks, readDocument } from "../helpers/docs";
import { REPO_ROOT, runP2P, stopAllProcesses } from "../helpers/processes";

afterEach(stopAllProcesses);

const HELP_COMMAND = /^\$ p2p((?: [a-z][a-z-]*)*) --help$/;

/** One shown help: where its output starts in the document's lines, how many lines it takes, and the command. */
interface ShownHelp {
  document: string;
  words: string[];
  start: number;
  shown: string[];
}

/** The help blocks of a document: each `$ p2p ... --help` line and the output under it, up to the next `$ ` line or the block's end. */
function shownHelps(document: string): ShownHelp[] {
  const found: ShownHelp[] = [];
  for (const block of codeBlocks(readDocument(document))) {
    block.lines.forEach((line, index) => {
      const match = HELP_COMMAND.exec(line);
      if (!match) return;
      const rest = block.lines.slice(index + 1);
      const end = rest.findIndex((next) => next.startsWith("$ "));
      const shown = end === -1 ? rest : rest.slice(0, end);
      while (shown.length > 0 && shown[shown.length - 1]!.trim() === "") shown.pop();
      found.push({ document, words: match[1]!.trim().split(" ").filter(Boolean), start: block.firstLine + index + 1, shown });
    });
  }
  return found;
}

/** What `p2p <words> --help` prints off a terminal, as lines without trailing blank ones. */
async function printedHelp(words: string[]): Promise<string[]> {
  const binary = await builtBinary();
  const result = await runP2P([...words, "--help"], { executable: [binary], env: { NO_COLOR: "1", P2P_HOME: join(REPO_ROOT, "no-such-home") } });
  expect(result.code).toBe(0);
  const lines = result.stdout.split("\n").map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Replaces each shown help with the printed one (bottom-up, so earlier line numbers stay right). */
function rewrite(document: string, helps: ShownHelp[], printed: string[][]): void {
  const lines = readDocument(document).split("\n");
  for (let index = helps.length - 1; index >= 0; index--) lines.splice(helps[index]!.start, helps[index]!.shown.length, ...printed[index]!);
  writeFileSync(join(REPO_ROOT, document), lines.join("\n"));
}

describe("the usage blocks in the docs", () => {
  test("README shows the help of p2p dns and p2p node", () => {
    const commands = shownHelps("README.md").map((help) => help.words.join(" "));
    expect(commands).toContain("dns");
    expect(commands).toContain("node");
  });

  test("every --help block in README.md, BENCHMARKS.md and docs/ is exactly what dist/p2p prints", async () => {
    let compared = 0;
    for (const document of DOCUMENTS) {
      const helps = shownHelps(document);
      const printed = await Promise.all(helps.map((help) => printedHelp(help.words)));
      if (process.env.P2P_UPDATE_DOCS === "1" && helps.length > 0) {
        rewrite(document, helps, printed);
        continue;
      }
      helps.forEach((help, index) => {
        const where = `${help.document}, line ${help.start}: p2p ${help.words.join(" ")} --help (P2P_UPDATE_DOCS=1 rewrites it)`;
        expect({ where, lines: help.shown }).toEqual({ where, lines: printed[index]! });
        compared++;
      });
    }
    if (process.env.P2P_UPDATE_DOCS !== "1") expect(compared).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
