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
/** A holder that fails this many requests in a row is dropped for this download. */
export const MAX_SOURCE_FAILURES = 3;
/** Times the holder list is refreshed from the ring when every holder has failed. */
export const MAX_SOURCE_REFRESHES = 3;
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
  /** Asks the ring again for holders when all known ones have failed. */
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
  failures: number;
  /** Dropped: served bad data (never again) or kept failing. */
  dropped: boolean;
  bad: boolean;
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
  /** Verified and being written: not yet in `verified`, which must only ever name bytes on disk. */
  private readonly writingChunks = new Set<number>();
  private sources: SourceState[];
  private remaining = 0;
  private bytesDone = 0;
  private refreshes = 0;
  private refreshing = false;
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
      this.finish?.();
      return;
    }
    // Chunks waiting for the disk count too: when the disk is slower than the network, fetching
    // must slow down with it, or received chunks pile up in memory.
    let total = this.writingChunks.size + [...this.inFlight.values()].reduce((sum, set) => sum + set.size, 0);
    const usable = this.sources.filter((state) => !state.dropped).sort((a, b) => a.inFlight - b.inFlight);
    for (let round = 0; round < MAX_IN_FLIGHT_PER_SOURCE && total < MAX_IN_FLIGHT; round++) {
      for (const state of usable) {
        if (state.inFlight >= MAX_IN_FLIGHT_PER_SOURCE || total >= MAX_IN_FLIGHT) continue;
        const index = this.nextChunkFor(state);
        if (index === undefined) continue;
        this.request(state, index);
        total++;
      }
    }
    // Chunks wait but no holder can take them: every known holder is dropped.
    if (total === 0 && this.queue.length > 0) void this.refillSources();
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
      state.dropped = true;
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
    state.failures++;
    const gone = error.code === "UNREACHABLE" || error.code === "CLOSED" || error.code === "TIMEOUT";
    if (gone || state.failures >= MAX_SOURCE_FAILURES) state.dropped = true;
    if (fetching && fetching.size === 0 && !hasBit(this.verified, index) && !this.writingChunks.has(index)) {
      this.inFlight.delete(index);
      this.requestedAt.delete(index);
      this.queue.unshift(index);
    }
    this.pump();
  }

  /** Every holder is dropped or busy with nothing to do: ask the ring for holders again, a few times. */
  private async refillSources(): Promise<void> {
    if (this.refreshing || this.failure) return;
    if (this.refreshes >= MAX_SOURCE_REFRESHES) {
      const done = countBits(this.verified, this.job.manifest.chunks.length);
      this.abort(new P2PError("UNAVAILABLE", `no reachable holder has the rest of ${this.job.name}; ${done} verified chunks are kept, run the download again to resume`));
      return;
    }
    this.refreshing = true;
    this.refreshes++;
    try {
      const known = new Map(this.sources.map((state) => [state.source.address, state]));
      const fresh = await this.job.refreshSources();
      for (const source of fresh) {
        const existing = known.get(source.address);
        if (!existing) this.sources.push(newSourceState(source));
        else if (!existing.bad) Object.assign(existing, { dropped: false, failures: 0 });
      }
    } catch (error) {
      if (!isP2PError(error)) throw error;
    } finally {
      this.refreshing = false;
    }
    // Holders that came back may still be restarting: give them a moment before the next round.
    await Bun.sleep(250 * this.refreshes);
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
      sources: this.sources.filter((state) => !state.dropped).length,
    });
  }

  private abort(error: Error): void {
    if (this.failure) return;
    clearTimeout(this.endgameTimer);
    this.failure = error;
    this.fail?.(error);
  }
}

function newSourceState(source: ChunkSource): SourceState {
  return { source, inFlight: 0, failures: 0, dropped: false, bad: false, delivered: 0 };
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
