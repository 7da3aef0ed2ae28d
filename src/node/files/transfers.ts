// What the node is doing with files, for TRANSFERS/CANCEL/SHARED: downloads under way and recent, and bytes served per file.

import { P2PError } from "../../protocol/errors";
import type { TransferEntry } from "../../wire/control";
import type { ServedStore } from "./served-store";

/** Ended downloads remembered for TRANSFERS. */
export const MAX_RECENT_TRANSFERS = 20;
/** The rate is measured over this window, so it follows the current speed and never counts resumed bytes. */
const RATE_WINDOW_MS = 5_000;

interface Active {
  entry: TransferEntry;
  controller: AbortController;
  samples: { at: number; bytes: number }[];
}

/** Downloads under way (each cancellable) and the last few that ended. */
export class TransferLog {
  private readonly active = new Map<string, Active>();
  private readonly recent: TransferEntry[] = [];

  /** Registers a download; refuses a second one of the same file or to the same path. The signal fires on CANCEL. */
  begin(id: string, name: string, path: string, size: number): AbortSignal {
    for (const { entry } of this.active.values()) {
      if (entry.path === path || entry.id === id) {
        throw new P2PError("CONFLICT", `already downloading ${entry.name} to ${entry.path}; see: p2p client transfers (or cancel it: p2p client cancel ${entry.name})`);
      }
    }
    const controller = new AbortController();
    const entry: TransferEntry = { id, name, path, size, bytes: 0, rate: 0, etaSeconds: null, sources: [], state: "downloading", startedAt: Date.now() };
    this.active.set(id, { entry, controller, samples: [] });
    return controller.signal;
  }

  progress(id: string, bytes: number, sources: readonly string[]): void {
    const active = this.active.get(id);
    if (!active) return;
    const now = performance.now();
    active.samples.push({ at: now, bytes });
    while (active.samples.length > 2 && now - active.samples[0]!.at > RATE_WINDOW_MS) active.samples.shift();
    const first = active.samples[0]!;
    const seconds = (now - first.at) / 1000;
    const { entry } = active;
    entry.bytes = bytes;
    entry.rate = seconds > 0.5 ? Math.max(0, (bytes - first.bytes) / seconds) : 0;
    entry.etaSeconds = entry.rate > 0 ? Math.ceil((entry.size - bytes) / entry.rate) : null;
    entry.sources = [...sources];
  }

  /** Ends a download: "stopped" when its client went away (Ctrl-C), which keeps the .part for a rerun to resume. */
  end(id: string, state: "done" | "failed" | "stopped", error?: string): void {
    const active = this.active.get(id);
    if (!active) return;
    this.active.delete(id);
    const cancelled = active.controller.signal.aborted;
    const entry: TransferEntry = { ...active.entry, state: cancelled ? "cancelled" : state, endedAt: Date.now(), rate: 0, etaSeconds: null };
    if (state === "done") entry.bytes = entry.size;
    if (error !== undefined && !cancelled && state === "failed") entry.error = error;
    this.recent.unshift(entry);
    this.recent.length = Math.min(this.recent.length, MAX_RECENT_TRANSFERS);
  }

  /** Stops the download named by `ref` (name, or a prefix of its id). */
  cancel(ref: string): TransferEntry {
    const matches = [...this.active.values()].filter(({ entry }) => entry.name === ref || (ref.length >= 4 && entry.id.startsWith(ref.toLowerCase())));
    if (matches.length === 0) throw new P2PError("NOT_FOUND", `no download of '${ref}' is under way; see: p2p client transfers`);
    if (matches.length > 1) throw new P2PError("CONFLICT", `'${ref}' names ${matches.length} downloads; give its id: ${matches.map(({ entry }) => entry.id.slice(0, 12)).join(", ")}`);
    const { entry, controller } = matches[0]!;
    controller.abort(new P2PError("CLOSED", `the download of ${entry.name} was cancelled`));
    return { ...entry, state: "cancelled" };
  }

  list(): TransferEntry[] {
    return [...[...this.active.values()].map(({ entry }) => ({ ...entry })), ...this.recent];
  }
}

/** Bytes served per file (kept across restarts when given a store) and requests in flight now. */
export class ServingStats {
  private readonly served: Map<string, number>;
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly store?: Pick<ServedStore, "load" | "add">) {
    this.served = store?.load() ?? new Map();
  }

  started(fileId: string): void {
    this.inFlight.set(fileId, (this.inFlight.get(fileId) ?? 0) + 1);
  }

  finished(fileId: string, bytes: number): void {
    const left = (this.inFlight.get(fileId) ?? 1) - 1;
    if (left > 0) this.inFlight.set(fileId, left);
    else this.inFlight.delete(fileId);
    if (bytes <= 0) return;
    this.served.set(fileId, (this.served.get(fileId) ?? 0) + bytes);
    this.store?.add(fileId, bytes);
  }

  servedBytes(fileId: string): number {
    return this.served.get(fileId) ?? 0;
  }

  /** Files with a request in flight now, or served in the last moments (their count may be zero). */
  serving(): { id: string; requests: number; servedBytes: number }[] {
    return [...this.inFlight.entries()].map(([id, requests]) => ({ id, requests, servedBytes: this.servedBytes(id) }));
  }
}
