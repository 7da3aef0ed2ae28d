// How client commands draw things: tables, sizes, durations, and a progress line on a terminal.

import type { FileSummary } from "../../model/reports";

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(bytes)} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Seconds as `45s`, `1m02s` or `2h05m`, the way download tools show time left. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  const hours = Math.floor(seconds / 3600);
  return `${hours}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

export function renderFiles(files: readonly FileSummary[]): string {
  if (files.length === 0) return "no files\n";
  return renderTable(["NAME", "SIZE", "ID", "HOLDERS"], files.map((file) => [file.folder ? `${file.name}/` : file.name, formatBytes(file.size), file.id.slice(0, 12), describeHolders(file)]));
}

/** Partial holders shown in a table cell; --json lists up to MAX_LISTED_PARTIAL. */
const SHOWN_PARTIAL = 2;

/** "2", or "2 + 1 partial (127.0.0.3:7495)": complete holders, then those still downloading, which serve what they verified. */
export function describeHolders(file: Pick<FileSummary, "holders" | "partial" | "partialHolders">): string {
  if (!file.partial) return String(file.holders);
  const shown = (file.partialHolders ?? []).slice(0, SHOWN_PARTIAL);
  const more = file.partial > shown.length ? ", ..." : "";
  return `${file.holders} + ${file.partial} partial${shown.length > 0 ? ` (${shown.join(", ")}${more})` : ""}`;
}

/** How long the rate is averaged over: it follows the current speed and never counts bytes resumed from disk. */
const RATE_WINDOW_MS = 5_000;

/** A one-line progress bar on stderr, redrawn in place; draws nothing off a terminal. */
export class ProgressLine {
  private readonly enabled: boolean;
  private samples: { at: number; bytes: number }[] = [];
  private drawn = false;

  constructor(enabled = Boolean(process.stderr.isTTY)) {
    this.enabled = enabled;
  }

  update(label: string, done: number, total: number, extra = ""): void {
    if (!this.enabled) return;
    process.stderr.write(`\r\x1b[2K${this.line(label, done, total, extra, performance.now()).slice(0, (process.stderr.columns ?? 100) - 1)}`);
    this.drawn = true;
  }

  /** The text of one update at time `now` (ms); kept separate so it can be checked without a terminal. */
  line(label: string, done: number, total: number, extra: string, now: number): string {
    this.samples.push({ at: now, bytes: done });
    while (this.samples.length > 2 && now - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (now - first.at) / 1000;
    // The first event of a resumed download already counts the bytes on disk: rate is measured from there on.
    const rate = seconds >= 0.5 && done > first.bytes ? (done - first.bytes) / seconds : 0;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const speed = rate > 0 ? ` ${formatBytes(rate)}/s` : "";
    const eta = rate > 0 && total > done ? ` ${formatDuration((total - done) / rate)} left` : "";
    return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)}${speed}${eta}${extra ? ` ${extra}` : ""}`;
  }

  done(): void {
    if (this.drawn) process.stderr.write("\r\x1b[2K");
    this.drawn = false;
  }
}
