// `p2p client upload|list|search|download`: the file-sharing commands.

import { defineCommand } from "citty";
import { resolve } from "node:path";
import type { FileSummary } from "../../node/files/sharing";
import { logArgs, runCommand } from "../common";
import { targetArgs } from "../find-node";
import { ProgressLine, formatBytes, renderFiles } from "./render";
import { askNode, parseJsonBody } from "./session";

/** A download or a hash of a large file may run for hours; progress events keep the link alive meanwhile. */
const LONG_OP_TIMEOUT_MS = 120_000;

const jsonArg = { json: { type: "boolean", description: "Print one JSON value instead of text", default: false } } as const;

export const upload = defineCommand({
  meta: { name: "upload", description: "Share a file: the node hashes it, serves it in place and announces it on the ring" },
  args: {
    path: { type: "positional", description: "The file to share", required: true },
    name: { type: "string", description: "Name to share it under (default: the file's name)" },
    ...jsonArg,
    ...targetArgs,
    ...logArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      const progress = new ProgressLine(!args.json && Boolean(process.stderr.isTTY));
      const request = args.name ? [resolve(args.path), args.name] : [resolve(args.path)];
      const body = await askNode(args, "UPLOAD", request, LONG_OP_TIMEOUT_MS, (event) => {
        if (event.phase === "hashing") progress.update("hashing", event.bytes as number, event.total as number);
      });
      progress.done();
      const file = parseJsonBody<{ name: string; size: number; id: string }>(body);
      process.stdout.write(args.json ? `${JSON.stringify(file)}\n` : `shared ${file.name} (${formatBytes(file.size)}, id ${file.id.slice(0, 12)})\n`);
    }),
});

export const list = defineCommand({
  meta: { name: "list", description: "List every file in the network (name, size, id, holders)" },
  args: { ...jsonArg, ...targetArgs, ...logArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const files = parseJsonBody<FileSummary[]>(await askNode(args, "LIST"));
      process.stdout.write(args.json ? `${JSON.stringify(files)}\n` : renderFiles(files));
    }),
});

export const search = defineCommand({
  meta: { name: "search", description: "Find files by a word of their name (case-insensitive) or any part of it" },
  args: { term: { type: "positional", description: "A word, or part of a name", required: true }, ...jsonArg, ...targetArgs, ...logArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const files = parseJsonBody<FileSummary[]>(await askNode(args, "SEARCH", [args.term]));
      process.stdout.write(args.json ? `${JSON.stringify(files)}\n` : renderFiles(files));
    }),
});

export const download = defineCommand({
  meta: { name: "download", description: "Download a file from all its holders at once, verifying every chunk; resumes if interrupted" },
  args: {
    name: { type: "positional", description: "The file's name, or name@id to pick one of several files of that name", required: true },
    out: { type: "string", description: "Where to write it (default: ./<name>)" },
    force: { type: "boolean", description: "Overwrite the output file if it exists", default: false },
    ...jsonArg,
    ...targetArgs,
    ...logArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      const progress = new ProgressLine(!args.json && Boolean(process.stderr.isTTY));
      const out = resolve(args.out ?? args.name.replace(/@[0-9a-f]{4,64}$/i, ""));
      const request = [args.name, out, ...(args.force ? ["force"] : [])];
      const body = await askNode(args, "DOWNLOAD", request, LONG_OP_TIMEOUT_MS, (event) => {
        if (event.phase === "downloading") {
          progress.update("downloading", event.bytes as number, event.total as number, `from ${event.sources} sources`);
        }
      });
      progress.done();
      const result = parseJsonBody<{ name: string; size: number; id: string; path: string; sources: string[]; milliseconds: number; resumedChunks: number }>(body);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const seconds = result.milliseconds / 1000;
      const resumed = result.resumedChunks > 0 ? `, resumed after ${result.resumedChunks} chunks` : "";
      process.stdout.write(
        `downloaded ${result.name} (${formatBytes(result.size)}) to ${result.path} in ${seconds.toFixed(1)} s from ${result.sources.length} sources${resumed}; every chunk verified\n`,
      );
    }),
});
