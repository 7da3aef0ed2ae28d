// How client commands draw things: file tables, sizes, and a progress line on a terminal.

import type { FileSummary } from "../../node/files/announcements";

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function renderFiles(files: readonly FileSummary[]): string {
  if (files.length === 0) return "no files\n";
  const rows = files.map((file) => [file.name, formatBytes(file.size), file.id.slice(0, 12), String(file.holders)]);
  const header = ["NAME", "SIZE", "ID", "HOLDERS"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 3 ? cell : cell.padEnd(widths[column]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** A one-line progress bar on stderr, redrawn in place; draws nothing off a terminal. */
export class ProgressLine {
  private readonly enabled: boolean;
  private readonly started = performance.now();
  private drawn = false;

  constructor(enabled = Boolean(process.stderr.isTTY)) {
    this.enabled = enabled;
  }

  update(label: string, done: number, total: number, extra = ""): void {
    if (!this.enabled) return;
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const eta = rate > 0 && total > done ? `${Math.ceil((total - done) / rate)} s left` : "";
    const text = `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s ${eta} ${extra}`;
    process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns ?? 100) - 1)}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) process.stderr.write("\r\x1b[2K");
    this.drawn = false;
  }
}
