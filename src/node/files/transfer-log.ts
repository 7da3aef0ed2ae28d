// The node's downloads for TRANSFERS/CANCEL/PAUSE/RESUME/CLEAR: each waits its turn under --max-active, may be paused, and is remembered a while after it ends.

import { P2PError } from "../../protocol/errors";
import type { TransferEntry } from "../../wire/control";

/** Ended downloads remembered for TRANSFERS (until CLEAR). */
export const MAX_RECENT_TRANSFERS = 20;
/** The rate is measured over this window, so it follows the current speed and never counts resumed bytes. */
const RATE_WINDOW_MS = 5_000;
/** A download waiting for its turn (or paused) tells its client so this often: the client's link stays alive. */
export const WAITING_HEARTBEAT_MS = 5_000;

interface Active {
  entry: TransferEntry;
  /** Aborted by CANCEL. */
  controller: AbortController;
  /** Aborted by PAUSE while the download runs; a new one for each turn. */
  turn: AbortController | null;
  /** Inside `turn()`, waiting for a slot or for RESUME. */
  waiting: boolean;
  paused: boolean;
  samples: { at: number; bytes: number }[];
}

const PATH_RANK = { direct: 0, reversed: 1, punched: 1, relayed: 2 } as const;

/** Downloads under way or waiting (each cancellable and pausable), and the last few that ended. */
export class TransferLog {
  private readonly active = new Map<string, Active>();
  private readonly recent: TransferEntry[] = [];
  /** Ids of the downloads holding one of the `maxActive` turns. */
  private readonly running = new Set<string>();
  private readonly wakers = new Set<() => void>();

  /** `maxActive` of 0: no limit, every download runs at once. */
  constructor(
    private readonly maxActive = 0,
    /** How the link to a source runs; by default, a relayed address (an edge's, `ip:port/<edge id>`) is relayed. */
    private readonly pathOf: (address: string) => "direct" | "reversed" | "punched" | "relayed" = (address) => (address.includes("/") ? "relayed" : "direct"),
  ) {}

  /** Registers a download (queued); refuses a second one of the same file or to the same path. The signal fires on CANCEL. */
  begin(id: string, name: string, path: string, size: number, paused = false): AbortSignal {
    for (const { entry } of this.active.values()) {
      if (entry.path === path || entry.id === id) {
        throw new P2PError("CONFLICT", `already downloading ${entry.name} to ${entry.path}; see: p2p client transfers (or cancel it: p2p client cancel ${entry.name})`);
      }
    }
    const controller = new AbortController();
    const entry: TransferEntry = { id, name, path, size, bytes: 0, rate: 0, etaSeconds: null, sources: [], mode: "direct", state: paused ? "paused" : "queued", startedAt: Date.now() };
    this.active.set(id, { entry, controller, turn: null, waiting: false, paused, samples: [] });
    return controller.signal;
  }

  /**
   * Waits until the download is not paused and has a turn (first come, first served), then marks it
   * downloading. The returned signal fires on PAUSE; `release` gives the turn back. `heartbeat` is
   * called now and every WAITING_HEARTBEAT_MS while it waits.
   */
  async turn(id: string, signal: AbortSignal, heartbeat: (entry: TransferEntry) => void): Promise<AbortSignal> {
    const active = this.active.get(id);
    if (!active) throw new P2PError("ERROR", `no transfer ${id.slice(0, 12)} to run`);
    active.waiting = true;
    let timer: ReturnType<typeof setInterval> | undefined;
    let wake: () => void = () => {};
    try {
      while (!this.mayRun(id)) {
        if (signal.aborted) throw signal.reason;
        if (timer === undefined) {
          heartbeat({ ...active.entry });
          timer = setInterval(() => heartbeat({ ...active.entry }), WAITING_HEARTBEAT_MS);
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.wakers.add(wake);
          signal.addEventListener("abort", wake, { once: true });
        });
        this.wakers.delete(wake);
        signal.removeEventListener("abort", wake);
      }
      if (signal.aborted) throw signal.reason;
    } finally {
      clearInterval(timer);
      active.waiting = false;
      this.wakers.delete(wake);
    }
    this.running.add(id);
    active.entry.state = "downloading";
    active.samples = [];
    active.turn = new AbortController();
    return active.turn.signal;
  }

  /** The download's turn is over (it ended or was paused): the next one waiting may run. */
  release(id: string): void {
    const active = this.active.get(id);
    if (active) active.turn = null;
    if (this.running.delete(id)) this.wakeAll();
  }

  /** The manifest gave the file's size. */
  sized(id: string, size: number): void {
    const active = this.active.get(id);
    if (active) active.entry.size = size;
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
    // The least direct path any source took so far: relayed over reversed over direct.
    for (const path of sources.map(this.pathOf)) if (PATH_RANK[path] > PATH_RANK[entry.mode ?? "direct"]) entry.mode = path;
  }

  /** Ends a download: "stopped" when its client went away (Ctrl-C), which keeps the .part for a rerun to resume. */
  end(id: string, state: "done" | "failed" | "stopped", error?: string): void {
    const active = this.active.get(id);
    if (!active) return;
    this.active.delete(id);
    this.release(id);
    this.wakeAll();
    const cancelled = active.controller.signal.aborted;
    const entry: TransferEntry = { ...active.entry, state: cancelled ? "cancelled" : state, endedAt: Date.now(), rate: 0, etaSeconds: null };
    if (state === "done") entry.bytes = entry.size;
    if (error !== undefined && !cancelled && state === "failed") entry.error = error;
    this.recent.unshift(entry);
    this.recent.length = Math.min(this.recent.length, MAX_RECENT_TRANSFERS);
  }

  /** Stops the download named by `ref` (name, or a prefix of its id). */
  cancel(ref: string): TransferEntry {
    const active = this.find(ref);
    active.controller.abort(new P2PError("CLOSED", `the download of ${active.entry.name} was cancelled`));
    this.wakeAll();
    return { ...active.entry, state: "cancelled" };
  }

  /** Pauses a download: it gives its turn back and keeps its verified chunks until RESUME. */
  pause(ref: string): TransferEntry {
    const active = this.find(ref);
    if (active.paused) throw new P2PError("CONFLICT", `${active.entry.name} is paused already; resume it with: p2p client resume ${active.entry.id.slice(0, 12)}`);
    active.paused = true;
    active.entry.state = "paused";
    active.entry.rate = 0;
    active.entry.etaSeconds = null;
    active.turn?.abort(new P2PError("CLOSED", `the download of ${active.entry.name} was paused`));
    this.wakeAll(); // one queued behind it may go first now
    return { ...active.entry };
  }

  /** Resumes a paused download: it waits for a turn again, behind none that came after it. */
  resume(ref: string): TransferEntry {
    const active = this.find(ref);
    if (!active.paused) throw new P2PError("CONFLICT", `${active.entry.name} is not paused (it is ${active.entry.state})`);
    active.paused = false;
    active.entry.state = "queued";
    this.wakeAll();
    return { ...active.entry };
  }

  /** Whether a download to `path` is under way, queued or paused. */
  activeAt(path: string): boolean {
    return [...this.active.values()].some(({ entry }) => entry.path === path);
  }

  /** Forgets the ended downloads; returns how many. */
  clear(): number {
    return this.recent.splice(0).length;
  }

  list(): TransferEntry[] {
    return [...[...this.active.values()].map(({ entry }) => ({ ...entry })), ...this.recent];
  }

  private find(ref: string): Active {
    const matches = [...this.active.values()].filter(({ entry }) => entry.name === ref || (ref.length >= 4 && entry.id.startsWith(ref.toLowerCase())));
    if (matches.length === 0) throw new P2PError("NOT_FOUND", `no download of '${ref}' is under way; see: p2p client transfers`);
    if (matches.length > 1) throw new P2PError("CONFLICT", `'${ref}' names ${matches.length} downloads; give its id: ${matches.map(({ entry }) => entry.id.slice(0, 12)).join(", ")}`);
    return matches[0]!;
  }

  /** First come, first served: a download runs when it is not paused and a turn is free after those waiting before it. */
  private mayRun(id: string): boolean {
    const self = this.active.get(id);
    if (!self || self.paused || self.controller.signal.aborted) return self?.controller.signal.aborted === true;
    if (this.maxActive <= 0) return true;
    let taken = this.running.size;
    for (const [otherId, other] of this.active) {
      if (otherId === id) return taken < this.maxActive;
      if (other.waiting && !other.paused && !this.running.has(otherId)) taken++;
    }
    return false;
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
