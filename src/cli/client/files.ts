// `p2p client upload|list|search|download`: the file-sharing commands, and the actions the menu reuses.

import { defineCommand } from "citty";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { P2PError } from "../../protocol/errors";
import type { FileSummary } from "../../model/reports";
import { onInterrupt, runCommand } from "../common";
import { clientArgs } from "../find-node";
import { usage } from "../argv";
import { ProgressLine, formatBytes, renderFiles } from "./render";
import { askNodeOp } from "./session";
import { CONTROL, type DownloadReport } from "../../wire/control";
import { TRANSFER_CONTROL } from "../../wire/control-transfers";
import { looksLikeLink, parseLink } from "../../model/link";

/** A download or a hash of a large file may run for hours; progress events keep the link alive meanwhile. */
const LONG_OP_TIMEOUT_MS = 120_000;

type Target = { node?: string; socket?: string };

export type { DownloadReport };

export async function shareFile(target: Target, path: string, name: string | undefined, showProgress: boolean) {
  const progress = new ProgressLine(showProgress);
  const request = name ? { path: resolve(path), name } : { path: resolve(path) };
  const stopQuietly = onInterrupt(() => progress.done());
  try {
    return await askNodeOp(target, CONTROL.UPLOAD, request, {
      timeoutMs: LONG_OP_TIMEOUT_MS,
      onProgress: (event) => {
        if (event.phase === "hashing") progress.update("hashing", event.bytes as number, event.total as number);
      },
    });
  } finally {
    stopQuietly();
    progress.done();
  }
}

export async function listFiles(target: Target): Promise<FileSummary[]> {
  return askNodeOp(target, CONTROL.LIST, undefined);
}

export async function searchFiles(target: Target, term: string): Promise<FileSummary[]> {
  return askNodeOp(target, CONTROL.SEARCH, term);
}

export async function downloadFile(target: Target, ref: string, out: string | undefined, force: boolean, showProgress: boolean, share = true) {
  const progress = new ProgressLine(showProgress);
  const path = outputPath(ref, out);
  // Ctrl-C: the node keeps the .part and its verified chunks; the download is stopped, not failed.
  let sources = "finding sources";
  const sayStopped = onInterrupt(() => {
    progress.done();
    // A link is long: the line names what it downloads.
    process.stderr.write(`stopped the download of ${looksLikeLink(ref) ? parseLink(ref).name : ref}; run it again to resume\n`);
  });
  try {
    return await askNodeOp(target, CONTROL.DOWNLOAD, share ? { ref, out: path, force } : { ref, out: path, force, noShare: true }, {
      timeoutMs: LONG_OP_TIMEOUT_MS,
      onProgress: (event) => {
        if (event.phase !== "downloading") return;
        if (event.state === "queued" || event.state === "paused") {
          const why = event.state === "queued" ? "waiting for a turn (--max-active)" : `paused; p2p client resume ${String(event.id).slice(0, 12)}`;
          return progress.update(event.state, event.bytes as number, event.total as number, why);
        }
        // Between the files of a folder, or before the first holder answers, an event names no source:
        // keep showing the last ones rather than "from 0 sources".
        if (Number(event.sources ?? 0) > 0) sources = describeSources(event);
        progress.update("downloading", event.bytes as number, event.total as number, sources);
      },
    });
  } finally {
    sayStopped();
    progress.done();
  }
}

/**
 * Where a download goes: --out as given, inside it when it is a folder, else ./<name>; a missing folder is named as such.
 * A path ending in '/' is a folder: created if missing (as `curl --create-dirs` does), never taken for a file name.
 */
export function outputPath(ref: string, out: string | undefined): string {
  const name = looksLikeLink(ref) ? parseLink(ref).name : ref.replace(/@[0-9a-f]{4,64}$/i, "");
  if (out === undefined) return resolve(name);
  const path = resolve(out);
  if (/[/\\]$/.test(out) && !existsSync(path)) mkdirSync(path, { recursive: true });
  if (existsSync(path) && statSync(path).isDirectory()) return join(path, name);
  if (/[/\\]$/.test(out)) throw new P2PError("CONFLICT", `${path} is a file, not a folder; drop the trailing '/' to overwrite it (with --force) or choose another --out`);
  if (!existsSync(dirname(path))) throw P2PError.missingFolder(dirname(path));
  return path;
}

/** "from 2 sources (127.0.0.2, 127.0.0.3)" from a progress event's source count and addresses. */
export function describeSources(event: Record<string, unknown>): string {
  const count = Number(event.sources ?? 0);
  const names = Array.isArray(event.addresses) ? ` (${(event.addresses as string[]).slice(0, 3).join(", ")}${(event.addresses as string[]).length > 3 ? ", ..." : ""})` : "";
  return `from ${count} ${count === 1 ? "source" : "sources"}${count > 0 ? names : ""}`;
}

export function describeShared(file: { name: string; size: number; id: string; folder?: boolean; files?: number }): string {
  const what = file.folder ? `folder ${file.name}/ (${file.files} ${file.files === 1 ? "file" : "files"}, ` : `${file.name} (`;
  return `shared ${what}${formatBytes(file.size)}, id ${file.id.slice(0, 12)})\n`;
}

export function describeDownload(result: DownloadReport): string {
  const corrupt = result.corruptChunks ? ` (${result.corruptChunks} ${result.corruptChunks === 1 ? "chunk" : "chunks"} kept from the earlier attempt no longer matched and ${result.corruptChunks === 1 ? "was" : "were"} fetched again)` : "";
  const resumed = result.resumedChunks > 0 || corrupt ? `, resumed after ${result.resumedChunks} chunks${corrupt}` : "";
  const what = result.folder ? `folder ${result.name}/ (${result.files} ${result.files === 1 ? "file" : "files"}, ` : `${result.name} (`;
  return `downloaded ${what}${formatBytes(result.size)}) to ${result.path} in ${(result.milliseconds / 1000).toFixed(1)} s from ${result.sources.length} ${result.sources.length === 1 ? "source" : "sources"}${resumed}; every chunk verified\n`;
}

const terminal = (json: boolean) => !json && Boolean(process.stderr.isTTY);
const print = (json: boolean, value: unknown, text: string) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : text);

export const upload = defineCommand({
  meta: { name: "upload", description: "Share a file: the node hashes it, serves it in place and announces it on the ring" },
  args: {
    path: { type: "positional", description: "The file or folder to share (a folder is one item: its tree, downloaded as a folder)", required: true },
    name: { type: "string", description: "Name to share it under (default: the file's name)" },
    ...clientArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      const file = await shareFile(args, args.path, args.name, terminal(args.json));
      print(args.json, file, describeShared(file));
    }),
});

export const list = defineCommand({
  meta: { name: "list", description: "List every file in the network (name, size, id, holders)" },
  args: clientArgs,
  run: ({ args }) =>
    runCommand(args, async () => {
      const files = await listFiles(args);
      print(args.json, files, renderFiles(files));
    }),
});

// Several unquoted words are one search for all of them, as quoted words are.
const words = { type: "positional", description: "One or more words of the name (a file must have all of them), or part of a name", required: true, variadic: true } as const;

export const search = defineCommand({
  meta: { name: "search", description: "Find files by words of their name (case-insensitive; several words: all of them) or any part of it" },
  args: { words, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const term = String(args.words).trim();
      if (term.length === 0) throw usage("search needs a word to look for, e.g. p2p client search report", ["client", "search"]);
      const files = await searchFiles(args, term);
      print(args.json, files, renderFiles(files));
    }),
});

export const download = defineCommand({
  meta: {
    name: "download",
    description: "Download a file from all its holders at once, verifying every chunk; resumes if interrupted. The copy is shared on (unless --no-share)",
  },
  args: {
    name: { type: "positional", description: "The file's name, name@id to pick one of several files of that name, or a link from `p2p client link`", required: true },
    path: { type: "positional", description: "Where to write it (same as --out)", required: false },
    out: { type: "string", valueHint: "path", description: "Where to write it: a file path, or an existing folder to save inside (default: ./<name>)" },
    force: { type: "boolean", description: "Overwrite the output file if it exists", default: false },
    detach: { type: "boolean", description: "Return at once with the transfer's id; the node downloads in the background (see: transfers, pause, resume, cancel)", default: false },
    share: {
      type: "boolean",
      description: "Share the downloaded copy on the ring",
      negativeDescription: "Keep the copy to yourself: it is neither offered to others while it downloads nor shared afterwards",
      default: true,
    },
    ...clientArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      if (args.path !== undefined && args.out !== undefined) throw usage("give the output path once: as PATH or as --out", ["client", "download"]);
      const out = (args.out ?? args.path) as string | undefined;
      if (args.detach) {
        const request = { ref: args.name, out: outputPath(args.name, out), force: args.force, ...(args.share ? {} : { noShare: true }) };
        const entry = await askNodeOp(args, TRANSFER_CONTROL.START, request);
        print(args.json, entry, `started ${entry.name} in the background: transfer ${entry.id.slice(0, 12)}, ${entry.state}; see: p2p client transfers\n`);
        return;
      }
      const result = await downloadFile(args, args.name, out, args.force, terminal(args.json), args.share);
      print(args.json, result, describeDownload(result));
    }),
});
