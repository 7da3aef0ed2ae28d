// The download engine: chunks from every holder at once, each verified, written in place to <out>.part, resumable.

import { existsSync } from "node:fs";
import { type FileHandle, open, rename } from "node:fs/promises";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { CatalogStore } from "./catalog";
import { type Manifest, sha256Hex } from "./manifest";

/** Chunk requests in flight to one holder (pipelined on its one connection). */
export const MAX_IN_FLIGHT_PER_SOURCE = 4;
/** Chunks requested or waiting to be written, in all: bounds the memory a download holds to this many chunks. */
export const MAX_IN_FLIGHT = 8;
/** First pause before asking a holder again after its link failed; doubles per failure in a row. */
export const SOURCE_RETRY_MS = 500;
/** Longest pause before asking a failed holder again. */
export const MAX_SOURCE_RETRY_MS = 8_000;
/** Least time between two requests to the ring for the current holder list while none is usable. */
export const SOURCE_REFRESH_MS = 2_000;
/**
 * A download gives up only when no chunk arrived for this long and no holder is working on one:
 * a slow holder is waited for as long as it keeps answering, however slow it is.
 */
export const MAX_STALL_MS = 60_000;
/** A chunk outstanding this long is also asked of a second holder once nothing new is left to ask. */
export const ENDGAME_AFTER_MS = 750;
/** Chunks received between two garbage collections. */
const CHUNKS_PER_COLLECTION = 16;
/** Least time between two progress events. */
const PROGRESS_INTERVAL_MS = 200;

export interface ChunkSource {
  /** `ip:port` of the holder, or "local". */
  readonly address: string;
  chunk(fileId: string, index: number): Promise<Uint8Array>;
}

export interface DownloadProgress {
  bytes: number;
  total: number;
  chunks: number;
  chunksDone: number;
  sources: number;
}

export interface DownloadJob {
  manifest: Manifest;
  name: string;
  outPath: string;
  catalog: CatalogStore;
  sources: ChunkSource[];
  /** Asks the ring again for holders when no known one can be asked. */
  refreshSources: () => Promise<ChunkSource[]>;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  sourcesUsed: string[];
  resumedChunks: number;
  /** Holders dropped for serving bytes that failed verification. */
  badSources: string[];
}

/** Fetches every missing chunk, then fsyncs and renames `<out>.part` into place. */
export async function runDownload(job: DownloadJob): Promise<DownloadResult> {
  const { manifest, catalog } = job;
  const partPath = `${job.outPath}.part`;
  const total = manifest.chunks.length;
  const saved = catalog.download(manifest.fileId);
  const resuming = saved !== null && saved.partPath === partPath && existsSync(partPath);
  const verified = resuming ? saved.verified : new Uint8Array(Math.ceil(total / 8));
  const handle = await openPart(partPath, resuming);
  try {
    catalog.startDownload({ fileId: manifest.fileId, name: job.name, partPath, manifest, verified });
    const resumedChunks = countBits(verified, total);
    const fetcher = new ChunkFetcher(job, handle, verified);
    await fetcher.run();
    await handle.sync();
    await handle.close();
    await rename(partPath, job.outPath);
    catalog.finishDownload(manifest.fileId);
    return { sourcesUsed: fetcher.sourcesUsed(), resumedChunks, badSources: fetcher.badSources() };
  } catch (error) {
    await handle.close().catch(() => {});
    throw diskError(error, partPath);
  }
}

interface SourceState {
  source: ChunkSource;
  inFlight: number;
  /** Link failures in a row; each one doubles the pause before this holder is asked again. */
  failures: number;
  /** Not asked before this time (performance.now()): its link just failed. */
  retryAt: number;
  /** Served bytes that failed verification: never asked again. */
  bad: boolean;
  /** Says it does not have the file (any more): not asked again in this download. */
  missing: boolean;
  delivered: number;
}

// One download's scheduling: missing chunks go to the least busy holders; near the end an
// outstanding chunk is also asked of a second holder (BitTorrent's endgame), first answer wins.
class ChunkFetcher {
  private readonly job: DownloadJob;
  private readonly handle: FileHandle;
  private readonly verified: Uint8Array;
  private readonly queue: number[] = [];
  private readonly inFlight = new Map<number, Set<SourceState>>();
  /** When each outstanding chunk was first requested. */
  private readonly requestedAt = new Map<number, number>();
  private endgameTimer: ReturnType<typeof setTimeout> | undefined;
  /** Wakes the pump when a holder that failed may be asked again. */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Verified and being written: not yet in `verified`, which must only ever name bytes on disk. */
  private readonly writingChunks = new Set<number>();
  private sources: SourceState[];
  private remaining = 0;
  private bytesDone = 0;
  private refreshing = false;
  private lastRefresh = Number.NEGATIVE_INFINITY;
  /** When the last chunk was verified (or the download started). */
  private lastChunkAt = performance.now();
  private lastProgress = 0;
  private failure: Error | null = null;
  private finish: (() => void) | null = null;
  private fail: ((error: Error) => void) | null = null;

  constructor(job: DownloadJob, handle: FileHandle, verified: Uint8Array) {
    this.job = job;
    this.handle = handle;
    this.verified = verified;
    this.sources = job.sources.map(newSourceState);
    const { manifest } = job;
    for (let index = 0; index < manifest.chunks.length; index++) {
      if (hasBit(verified, index)) this.bytesDone += chunkLength(manifest, index);
      else this.queue.push(index);
    }
    this.remaining = this.queue.length;
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
      this.job.signal?.addEventListener("abort", () => this.abort(new P2PError("CLOSED", "the download was cancelled; run it again to resume")));
      this.report(true);
      this.pump();
    });
  }

  sourcesUsed(): string[] {
    return this.sources.filter((state) => state.delivered > 0).map((state) => state.source.address);
  }

  badSources(): string[] {
    return this.sources.filter((state) => state.bad).map((state) => state.source.address);
  }

  private pump(): void {
    if (this.failure) return;
    if (this.remaining === 0) {
      clearTimeout(this.endgameTimer);
      clearTimeout(this.retryTimer);
      this.finish?.();
      return;
    }
    // Chunks waiting for the disk count too: when the disk is slower than the network, fetching
    // must slow down with it, or received chunks pile up in memory.
    let total = this.writingChunks.size + [...this.inFlight.values()].reduce((sum, set) => sum + set.size, 0);
    const now = performance.now();
    const usable = this.sources.filter((state) => isUsable(state, now)).sort((a, b) => a.inFlight - b.inFlight);
    for (let round = 0; round < MAX_IN_FLIGHT_PER_SOURCE && total < MAX_IN_FLIGHT; round++) {
      for (const state of usable) {
        if (state.inFlight >= MAX_IN_FLIGHT_PER_SOURCE || total >= MAX_IN_FLIGHT) continue;
        const index = this.nextChunkFor(state);
        if (index === undefined) continue;
        this.request(state, index);
        total++;
      }
    }
    // Chunks wait but no holder can take them now: wait for one to recover, or ask the ring again.
    if (total === 0 && this.queue.length > 0) this.waitForSources(now);
    // Nothing new to hand out: look again soon for chunks stuck on one slow holder.
    if (this.queue.length === 0 && this.inFlight.size > 0 && this.endgameTimer === undefined) {
      this.endgameTimer = setTimeout(() => {
        this.endgameTimer = undefined;
        this.pump();
      }, ENDGAME_AFTER_MS);
    }
  }

  private nextChunkFor(state: SourceState): number | undefined {
    const fresh = this.queue.shift();
    if (fresh !== undefined) return fresh;
    // Endgame: nothing left to hand out, so ask this holder too for a chunk that one holder has
    // kept for a while; fast holders are not doubled up on.
    const stale = performance.now() - ENDGAME_AFTER_MS;
    for (const [index, fetching] of this.inFlight) {
      if (fetching.size === 1 && !fetching.has(state) && (this.requestedAt.get(index) ?? 0) <= stale) return index;
    }
    return undefined;
  }

  private request(state: SourceState, index: number): void {
    state.inFlight++;
    let fetching = this.inFlight.get(index);
    if (!fetching) {
      this.inFlight.set(index, (fetching = new Set()));
      this.requestedAt.set(index, performance.now());
    }
    fetching.add(state);
    state.source.chunk(this.job.manifest.fileId, index).then(
      (bytes) => this.received(state, index, bytes),
      (error) => this.failed(state, index, error),
    );
  }

  private received(state: SourceState, index: number, bytes: Uint8Array): void {
    state.inFlight--;
    const fetching = this.inFlight.get(index);
    fetching?.delete(state);
    if (hasBit(this.verified, index) || this.writingChunks.has(index) || !fetching) {
      this.pump(); // the endgame's other holder was faster
      return;
    }
    const { manifest } = this.job;
    if (bytes.length !== chunkLength(manifest, index) || sha256Hex(bytes) !== manifest.chunks[index]) {
      // Bad data is never an accident worth a retry: this holder is not used again.
      state.bad = true;
      if (fetching.size === 0) {
        this.inFlight.delete(index);
        this.requestedAt.delete(index);
        this.queue.unshift(index);
      }
      this.pump();
      return;
    }
    state.failures = 0;
    state.delivered++;
    this.lastChunkAt = performance.now();
    this.inFlight.delete(index);
    this.requestedAt.delete(index);
    this.writingChunks.add(index);
    this.handle.write(bytes, 0, bytes.length, index * manifest.chunkSize).then(
      () => {
        this.writingChunks.delete(index);
        setBit(this.verified, index);
        this.job.catalog.saveVerified(manifest.fileId, this.verified);
        this.remaining--;
        this.bytesDone += bytes.length;
        // Each chunk leaves a 1 MiB body and its socket reads as garbage; JSC lets that pile up
        // well past the live set, so collect every so often to keep a long download's memory flat.
        if (this.remaining % CHUNKS_PER_COLLECTION === 0) Bun.gc(false);
        this.report(this.remaining === 0);
        this.pump();
      },
      (error) => this.abort(error),
    );
    this.pump();
  }

  private failed(state: SourceState, index: number, error: unknown): void {
    state.inFlight--;
    const fetching = this.inFlight.get(index);
    fetching?.delete(state);
    if (!isP2PError(error)) {
      this.abort(error as Error);
      return;
    }
    if (error.code === "NOT_FOUND") state.missing = true;
    else if (error.code === "MALFORMED") state.bad = true; // it does not speak of the same file
    else {
      // Unreachable, closed, silent, or at its limits: alive or not, ask again after a pause.
      state.failures++;
      state.retryAt = performance.now() + Math.min(MAX_SOURCE_RETRY_MS, SOURCE_RETRY_MS * 2 ** (state.failures - 1));
    }
    if (fetching && fetching.size === 0 && !hasBit(this.verified, index) && !this.writingChunks.has(index)) {
      this.inFlight.delete(index);
      this.requestedAt.delete(index);
      this.queue.unshift(index);
    }
    this.pump();
  }

  /**
   * Chunks are waiting and no holder can be asked now. Ask again when the first failed holder's
   * pause ends; meanwhile ask the ring for holders every so often. Give up only after a long
   * stretch in which no chunk arrived and nobody was working on one.
   */
  private waitForSources(now: number): void {
    if (now - this.lastChunkAt > MAX_STALL_MS) {
      const done = countBits(this.verified, this.job.manifest.chunks.length);
      const seconds = Math.round(MAX_STALL_MS / 1000);
      this.abort(new P2PError("UNAVAILABLE", `no reachable holder has the rest of ${this.job.name} (nothing arrived for ${seconds} s); ${done} verified chunks are kept, run the download again to resume`));
      return;
    }
    if (!this.refreshing && now - this.lastRefresh >= SOURCE_REFRESH_MS) void this.refreshSources();
    const candidates = this.sources.filter((state) => !state.bad && !state.missing).map((state) => state.retryAt);
    const wake = candidates.length > 0 ? Math.max(0, Math.min(...candidates) - now) : SOURCE_REFRESH_MS;
    if (this.retryTimer === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, Math.max(50, Math.min(wake, SOURCE_REFRESH_MS)));
    }
  }

  /** Asks the ring for the current holders; newcomers are added. */
  private async refreshSources(): Promise<void> {
    this.refreshing = true;
    this.lastRefresh = performance.now();
    try {
      const known = new Set(this.sources.map((state) => state.source.address));
      for (const source of await this.job.refreshSources()) {
        if (!known.has(source.address)) this.sources.push(newSourceState(source));
      }
    } catch (error) {
      if (!isP2PError(error)) throw error;
    } finally {
      this.refreshing = false;
    }
    if (this.sources.every((state) => state.bad || state.missing)) {
      // Every holder answered, and none has the file (or none sent the right bytes): waiting cannot help.
      const done = countBits(this.verified, this.job.manifest.chunks.length);
      this.abort(new P2PError("UNAVAILABLE", `no reachable holder has the rest of ${this.job.name}; ${done} verified chunks are kept, run the download again to resume`));
      return;
    }
    this.pump();
  }

  private report(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS) return;
    this.lastProgress = now;
    this.job.onProgress?.({
      bytes: this.bytesDone,
      total: this.job.manifest.size,
      chunks: this.job.manifest.chunks.length,
      chunksDone: this.job.manifest.chunks.length - this.remaining,
      sources: this.sources.filter((state) => !state.bad && !state.missing).length,
    });
  }

  private abort(error: Error): void {
    if (this.failure) return;
    clearTimeout(this.endgameTimer);
    clearTimeout(this.retryTimer);
    this.failure = error;
    this.fail?.(error);
  }
}

function newSourceState(source: ChunkSource): SourceState {
  return { source, inFlight: 0, failures: 0, retryAt: 0, bad: false, missing: false, delivered: 0 };
}

function isUsable(state: SourceState, now: number): boolean {
  return !state.bad && !state.missing && now >= state.retryAt;
}

async function openPart(partPath: string, resuming: boolean): Promise<FileHandle> {
  try {
    return await open(partPath, resuming ? "r+" : "w", 0o644);
  } catch (error) {
    throw diskError(error, partPath);
  }
}

/** File-system failures as errors a user can act on. */
function diskError(error: unknown, path: string): unknown {
  const code = (error as { code?: string }).code;
  if (code === "ENOSPC") return new P2PError("ERROR", `disk full while writing ${path}; free some space and run the download again to resume`);
  if (code === "EACCES" || code === "EPERM") return new P2PError("ERROR", `no permission to write ${path}`);
  if (code === "ENOENT") return new P2PError("NOT_FOUND", `the folder of ${path} does not exist`);
  return error;
}

function chunkLength(manifest: Manifest, index: number): number {
  return Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
}

function hasBit(bits: Uint8Array, index: number): boolean {
  return (bits[index >> 3]! & (1 << (index & 7))) !== 0;
}

function setBit(bits: Uint8Array, index: number): void {
  bits[index >> 3] = (bits[index >> 3] ?? 0) | (1 << (index & 7));
}

function countBits(bits: Uint8Array, total: number): number {
  let count = 0;
  for (let index = 0; index < total; index++) if (hasBit(bits, index)) count++;
  return count;
}
