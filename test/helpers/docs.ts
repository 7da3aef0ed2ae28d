// The project's Markdown documents as tests read them: their code blocks, their inline code, their links.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./processes";

/** Every document a user reads, relative to the repository root. */
export const DOCUMENTS: readonly string[] = [
  "README.md",
  "BENCHMARKS.md",
  ...readdirSync(join(REPO_ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

export function readDocument(document: string): string {
  return readFileSync(join(REPO_ROOT, document), "utf8");
}

/** A fenced code block: the index of its first line inside the document's lines, and its lines. */
export interface CodeBlock {
  readonly firstLine: number;
  readonly lines: string[];
}

export function codeBlocks(text: string): CodeBlock[] {
  const lines = text.split("\n");
  const blocks: CodeBlock[] = [];
  let open: CodeBlock | null = null;
  for (let index = 0; index < lines.length; index++) {
    if (lines[index]!.startsWith("```")) {
      if (open) blocks.push(open);
      open = open ? null : { firstLine: index + 1, lines: [] };
    } else if (open) {
      open.lines.push(lines[index]!);
    }
  }
  return blocks;
}

/** The text outside code blocks. */
export function prose(text: string): string {
  return text.split(/^```.*$/m).filter((_, index) => index % 2 === 0).join("\n");
}

/** Every `inline code` span of the prose. */
export function inlineCode(text: string): string[] {
  return [...prose(text).matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!);
}

/** Every place a document shows something to type or read literally: the lines of its code blocks and its inline code. */
export function literals(text: string): string[] {
  return [...codeBlocks(text).flatMap((block) => block.lines), ...inlineCode(text)];
}

/** The targets of [text](target) links in the prose. */
export function linkTargets(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
}

/** PATH as on a fresh machine after `npm install`: no node_modules/.bin on it, so a bare `bun` is not found. */
export function freshPath(): string {
  return (process.env.PATH ?? "/usr/bin:/bin")
    .split(":")
    .filter((entry) => !entry.includes("node_modules"))
    .join(":");
}

/**
 * Runs a command line the way a document tells a user to (e.g. `npx bun scripts/sim.ts ...`), from the repository
 * root with a fresh machine's PATH. It runs in its own process group (npm, then bun under it), killed whole at the deadline.
 */
export async function runAsDocumented(argv: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(argv, {
    cwd: REPO_ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
    env: { ...process.env, PATH: freshPath(), NO_COLOR: "1" },
  });
  const killGroup = () => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  };
  // Only while the leader is alive (not yet reaped) is the group id surely still this command's.
  const timer = setTimeout(killGroup, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}
