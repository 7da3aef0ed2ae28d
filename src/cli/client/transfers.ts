// `p2p client transfers|cancel|shared|unshare`: what the node downloads and serves, and what it shares.

import { defineCommand } from "citty";
import { CONTROL, type SharedEntry, type TransfersReport } from "../../wire/control";
import { TRANSFER_CONTROL } from "../../wire/control-transfers";
import { runCommand } from "../common";
import { clientArgs } from "../find-node";
import { formatBytes, formatDuration, renderTable } from "./render";
import { askNodeOp } from "./session";

const print = (json: boolean, value: unknown, text: string) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : text);
const ref = { type: "positional", description: "The name, or the start of the id (4+ hex digits)", required: true } as const;

export const transfers = defineCommand({
  meta: { name: "transfers", description: "List downloads under way, queued, paused and recent (%, rate, ETA, sources, state, start and end times) and what the node serves now" },
  args: { clear: { type: "boolean", description: "Forget the ended downloads (done, failed, cancelled, stopped) first", default: false }, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      if (args.clear) {
        const { cleared } = await askNodeOp(args, TRANSFER_CONTROL.CLEAR, undefined);
        process.stderr.write(`forgot ${cleared} ended ${cleared === 1 ? "download" : "downloads"}\n`);
      }
      const report = await askNodeOp(args, CONTROL.TRANSFERS, undefined);
      print(args.json, report, renderTransfers(report));
    }),
});

export const cancel = defineCommand({
  meta: { name: "cancel", description: "Stop a download under way; what it fetched is kept, and downloading it again resumes (unless --discard)" },
  args: { ref, discard: { type: "boolean", description: "Delete what it fetched so far too", default: false }, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const entry = await askNodeOp(args, CONTROL.CANCEL, { ref: args.ref, discard: args.discard });
      const kept = args.discard ? "its partial download was deleted" : `${formatBytes(entry.bytes)} kept; download it again to resume`;
      print(args.json, entry, `cancelled the download of ${entry.name} (${kept})\n`);
    }),
});

export const shared = defineCommand({
  meta: { name: "shared", description: "List what this node shares (name, id, size, path, since, bytes served)" },
  args: clientArgs,
  run: ({ args }) =>
    runCommand(args, async () => {
      const entries = await askNodeOp(args, CONTROL.SHARED, undefined);
      print(args.json, entries, renderShared(entries));
    }),
});

export const unshare = defineCommand({
  meta: { name: "unshare", description: "Stop sharing a file and withdraw it from the network at once (the file itself stays)" },
  args: { ref, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const entries = await askNodeOp(args, CONTROL.UNSHARE, args.ref);
      print(args.json, entries, entries.map((entry) => `no longer sharing ${entry.name} (id ${entry.id.slice(0, 12)}); ${entry.path} is untouched\n`).join(""));
    }),
});

export function renderTransfers(report: TransfersReport): string {
  const downloads =
    report.downloads.length === 0
      ? "no downloads\n"
      : renderTable(
          ["NAME", "ID", "DONE", "RATE", "ETA", "SOURCES", "STARTED", "ENDED", "STATE"],
          report.downloads.map((entry) => [
            entry.name,
            entry.id.slice(0, 12),
            `${entry.size > 0 ? Math.floor((entry.bytes / entry.size) * 100) : 100}%`,
            entry.state === "downloading" && entry.rate > 0 ? `${formatBytes(entry.rate)}/s` : "-",
            entry.etaSeconds === null ? "-" : formatDuration(entry.etaSeconds),
            entry.sources.length === 0 ? "-" : entry.sources.join(","),
            clockTime(entry.startedAt),
            entry.endedAt === undefined ? "-" : clockTime(entry.endedAt),
            entry.error ? `${entry.state}: ${entry.error}` : entry.state,
          ]),
        );
  const serving =
    report.serving.length === 0
      ? "serving nothing right now\n"
      : renderTable(["SERVING", "ID", "REQUESTS", "SERVED"], report.serving.map((entry) => [entry.name, entry.id.slice(0, 12), String(entry.requests), formatBytes(entry.servedBytes)]));
  return `${downloads}${serving}`;
}

/** A time of day in UTC, as the node's logs write it; a date too when it is not today's. */
function clockTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 10) === new Date().toISOString().slice(0, 10) ? iso.slice(11, 19) : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

export function renderShared(entries: readonly SharedEntry[]): string {
  if (entries.length === 0) return "sharing nothing; share a file with: p2p client upload <path>\n";
  return renderTable(
    ["NAME", "ID", "SIZE", "SINCE", "SERVED", "PATH"],
    entries.map((entry) => [
      entry.folder ? `${entry.name}/` : entry.name,
      entry.id.slice(0, 12),
      formatBytes(entry.size),
      entry.since === null ? "-" : new Date(entry.since).toISOString().slice(0, 19).replace("T", " "),
      formatBytes(entry.servedBytes),
      entry.path,
    ]),
  );
}
