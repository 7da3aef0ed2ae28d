// Live updates for open pages: one snapshot of the node (status, transfers, shared) a second while anything changes, every few seconds at rest, sent to every page as server-sent events.

import type { OpCaller } from "./actions";

/** How often open pages get a new snapshot while the node changes; no timer runs while no page is open. */
export const SNAPSHOT_INTERVAL_MS = 1_000;
/**
 * How often once nothing has changed for QUIET_AFTER_MS: re-reading a node at rest every second cost it 0.16 % of a
 * core per open page (bench-web), over the 0.1 % target. A page's action, a transfer or a ring change brings 1 s back.
 */
export const QUIET_SNAPSHOT_INTERVAL_MS = 5_000;
/** How long without a change before snapshots slow down. */
export const QUIET_AFTER_MS = 10_000;
/** STATUS fields that move every snapshot without anything happening: left out when deciding whether the node changed. */
const TICKING_FIELDS = new Set(["uptimeSeconds", "maintenanceMs", "clockSkewMs"]);
/** Most pages open at once; one more is refused (each holds a stream). */
export const MAX_PAGES = 32;

export class PageEvents {
  private readonly pages = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private last = "";
  /** The last snapshot without its ticking fields, and when it last differed from the one before. */
  private lastContent = "";
  private changedAt = 0;
  private readonly encoder = new TextEncoder();
  private slot: symbol | null = null;

  constructor(
    private readonly caller: OpCaller,
    private readonly warn: (message: string) => void,
    private readonly timing = { busyMs: SNAPSHOT_INTERVAL_MS, quietMs: QUIET_SNAPSHOT_INTERVAL_MS, quietAfterMs: QUIET_AFTER_MS },
  ) {}

  get full(): boolean {
    return this.pages.size >= MAX_PAGES;
  }

  /** A `text/event-stream` response that gets the latest snapshot at once, then every new one. */
  stream(signal: AbortSignal): Response {
    let page: ReadableStreamDefaultController<Uint8Array> | null = null;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        page = controller;
        this.pages.add(controller);
        if (this.last) controller.enqueue(this.encoder.encode(this.last));
        this.refresh();
      },
      cancel: () => this.drop(page),
    });
    signal.addEventListener("abort", () => this.drop(page), { once: true });
    return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-store" } });
  }

  /** A snapshot now, and one a second until the node is quiet again: after a page's action, or a new page. */
  refresh(): void {
    this.changedAt = Date.now();
    if (this.pages.size === 0) return;
    this.stopTimer();
    void this.tick();
  }

  close(): void {
    for (const page of this.pages) page.close();
    this.pages.clear();
    this.stopTimer();
  }

  private drop(page: ReadableStreamDefaultController<Uint8Array> | null): void {
    if (page) this.pages.delete(page);
    if (this.pages.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Publishes, then sets the next snapshot's timer (a second, or QUIET_SNAPSHOT_INTERVAL_MS at rest), while pages are open. */
  private async tick(): Promise<void> {
    // A tick that publishes owns the timer slot: a refresh meanwhile replaces it, and this one then sets none.
    const slot = Symbol();
    this.slot = slot;
    await this.publish();
    if (this.slot !== slot || this.pages.size === 0) return;
    const quiet = Date.now() - this.changedAt >= this.timing.quietAfterMs;
    this.timer = setTimeout(() => void this.tick(), quiet ? this.timing.quietMs : this.timing.busyMs);
  }

  private async publish(): Promise<void> {
    try {
      const [status, transfers, shared] = await Promise.all(["STATUS", "TRANSFERS", "SHARED"].map((op) => this.caller.call(op, [])));
      this.last = `data: {"time":${Date.now()},"status":${status},"transfers":${transfers},"shared":${shared}}\n\n`;
      const content = `${JSON.stringify(JSON.parse(status!), (field, value) => (TICKING_FIELDS.has(field) ? undefined : value))}${transfers}${shared}`;
      if (content !== this.lastContent) this.changedAt = Date.now();
      this.lastContent = content;
    } catch (error) {
      this.warn(`web snapshot failed: ${(error as Error).message}`);
      return;
    }
    const bytes = this.encoder.encode(this.last);
    for (const page of this.pages) {
      // A page that does not read its stream (desiredSize <= 0) skips snapshots instead of queueing them.
      if ((page.desiredSize ?? 1) > 0) page.enqueue(bytes);
    }
  }
}
