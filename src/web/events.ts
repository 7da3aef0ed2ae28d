// Live updates for open pages: one snapshot of the node (status, transfers, shared) a second, sent to every page as server-sent events.

import type { OpCaller } from "./actions";

/** How often open pages get a new snapshot; no timer runs while no page is open. */
export const SNAPSHOT_INTERVAL_MS = 1_000;
/** Most pages open at once; one more is refused (each holds a stream). */
export const MAX_PAGES = 32;

export class PageEvents {
  private readonly pages = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private last = "";
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly caller: OpCaller,
    private readonly warn: (message: string) => void,
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
        this.timer ??= setInterval(() => void this.publish(), SNAPSHOT_INTERVAL_MS);
        void this.publish();
      },
      cancel: () => this.drop(page),
    });
    signal.addEventListener("abort", () => this.drop(page), { once: true });
    return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-store" } });
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
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async publish(): Promise<void> {
    try {
      const [status, transfers, shared] = await Promise.all(["STATUS", "TRANSFERS", "SHARED"].map((op) => this.caller.call(op, [])));
      this.last = `data: {"time":${Date.now()},"status":${status},"transfers":${transfers},"shared":${shared}}\n\n`;
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
