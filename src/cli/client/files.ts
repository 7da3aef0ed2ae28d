// `p2p client upload|list|search|download`: the file-sharing commands, and the actions the menu reuses.

import { defineCommand } from "citty";
import { resolve } from "node:path";
import type { FileSummary } from "../../node/files/announcements";
import { logArgs, runCommand } from "../common";
import { targetArgs } from "../find-node";
import { ProgressLine, formatBytes, renderFiles } from "./render";
import { askNodeOp } from "./session";
import { CONTROL, type DownloadReport } from "../../wire/control";

/** A download or a hash of a large file may run for hours; progress events keep the link alive meanwhile. */
const LONG_OP_TIMEOUT_MS = 120_000;

type Target = { node?: string; socket?: string };

export type { DownloadReport };

export async function shareFile(target: Target, path: string, name: string | undefined, showProgress: boolean) {
  const progress = new ProgressLine(showProgress);
  const request = name ? { path: resolve(path), name } : { path: resolve(path) };
  try {
    return await askNodeOp(target, CONTROL.UPLOAD, request, {
      timeoutMs: LONG_OP_TIMEOUT_MS,
      onProgress: (event) => {
        if (event.phase === "hashing") progress.update("hashing", event.bytes as number, event.total as number);
      },
    });
  } finally {
    progress.done();
  }
}

export async function listFiles(target: Target): Promise<FileSummary[]> {
  return askNodeOp(target, CONTROL.LIST, undefined);
}

export async function searchFiles(target: Target, term: string): Promise<FileSummary[]> {
  return askNodeOp(target, CONTROL.SEARCH, term);
}

export async function downloadFile(target: Target, ref: string, out: string | undefined, force: boolean, showProgress: boolean) {
  const progress = new ProgressLine(showProgress);
  const path = resolve(out ?? ref.replace(/@[0-9a-f]{4,64}$/i, ""));
  try {
    return await askNodeOp(target, CONTROL.DOWNLOAD, { ref, out: path, force }, {
      timeoutMs: LONG_OP_TIMEOUT_MS,
      onProgress: (event) => {
        if (event.phase === "downloading") {
          progress.update("downloading", event.bytes as number, event.total as number, `from ${event.sources} sources`);
        }
      },
    });
  } finally {
    progress.done();
  }
}

export function describeShared(file: { name: string; size: number; id: string }): string {
  return `shared ${file.name} (${formatBytes(file.size)}, id ${file.id.slice(0, 12)})\n`;
}

export function describeDownload(result: DownloadReport): string {
  const resumed = result.resumedChunks > 0 ? `, resumed after ${result.resumedChunks} chunks` : "";
  return `downloaded ${result.name} (${formatBytes(result.size)}) to ${result.path} in ${(result.milliseconds / 1000).toFixed(1)} s from ${result.sources.length} ${result.sources.length === 1 ? "source" : "sources"}${resumed}; every chunk verified\n`;
}

const jsonArg = { json: { type: "boolean", description: "Print one JSON value instead of text", default: false } } as const;
const terminal = (json: boolean) => !json && Boolean(process.stderr.isTTY);
const print = (json: boolean, value: unknown, text: string) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : text);

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
      const file = await shareFile(args, args.path, args.name, terminal(args.json));
      print(args.json, file, describeShared(file));
    }),
});

export const list = defineCommand({
  meta: { name: "list", description: "List every file in the network (name, size, id, holders)" },
  args: { ...jsonArg, ...targetArgs, ...logArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const files = await listFiles(args);
      print(args.json, files, renderFiles(files));
    }),
});

export const search = defineCommand({
  meta: { name: "search", description: "Find files by a word of their name (case-insensitive) or any part of it" },
  args: { term: { type: "positional", description: "A word, or part of a name", required: true }, ...jsonArg, ...targetArgs, ...logArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const files = await searchFiles(args, args.term);
      print(args.json, files, renderFiles(files));
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
      const result = await downloadFile(args, args.name, args.out, args.force, terminal(args.json));
      print(args.json, result, describeDownload(result));
    }),
});
