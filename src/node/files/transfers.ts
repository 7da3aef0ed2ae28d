// What the node serves, for TRANSFERS and SHARED: bytes served per file and requests in flight (downloads: transfer-log.ts).

import type { ServedStore } from "./served-store";

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
