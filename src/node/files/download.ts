// One download, wired: the scheduler decides, the file's peers answer, every chunk is verified, the .part file keeps it.

import { P2PError, isP2PError } from "../../protocol/errors";
import { type Manifest, sha256Hex } from "../../model/manifest";
import { chunkLength } from "./part-file";
import type { DownloadPart, PartFiles } from "./ports";
import { Bitfield } from "../../model/bitfield";
import { type FilePeers, failureOf } from "./swarm/file-peers";
import { type Assignment, ChunkScheduler } from "./swarm/scheduler";
import { HAVE_RETRY_MS, MAX_REPORTED_SOURCES, MAX_STALL_MS, PROGRESS_INTERVAL_MS, holderRefreshDelay } from "./download-timing";

export { holderRefreshDelay } from "./download-timing";

export interface DownloadProgress {
  bytes: number;
  total: number;
  chunks: number;
  chunksDone: number;
  sources: number;
  /** Addresses of the usable sources (at most a few). */
  addresses: string[];
}

export interface DownloadJob {
  manifest: Manifest;
  name: string;
  outPath: string;
  /** Where the .part file is opened (or resumed). */
  parts: PartFiles;
  peers: FilePeers;
  onProgress?: (progress: DownloadProgress) => void;
  /** The .part file is open: from now on this node may serve its verified chunks. */
  onOpen?: (part: DownloadPart) => void;
  /** A chunk is verified and on disk. */
  onStored?: (index: number, part: DownloadPart) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  sourcesUsed: string[];
  resumedChunks: number;
  /** Chunks an earlier attempt had verified whose bytes in the .part file no longer matched: fetched again. */
  corruptChunks: number;
  /** Holders dropped for serving bytes that failed verification. */
  badSources: string[];
}

/** Fetches every missing chunk from the swarm, then fsyncs and renames `<out>.part` into place. */
export async function runDownload(job: DownloadJob): Promise<DownloadResult> {
  const part = await job.parts.open({ outPath: job.outPath, name: job.name, manifest: job.manifest });
  let done = false;
  try {
    job.onOpen?.(part);
    const swarm = new SwarmDownload(job, part);
    await swarm.run();
    await part.finish(job.outPath);
    done = true;
    const peers = swarm.peerSummaries();
    return {
      sourcesUsed: peers.filter((peer) => peer.delivered > 0).map((peer) => peer.address),
      resumedChunks: part.resumedChunks,
      corruptChunks: part.corruptChunks,
      badSources: peers.filter((peer) => peer.bad).map((peer) => peer.address),
    };
  } finally {
    job.peers.close?.();
    if (done) await part.close();
    else await part.discardIfEmpty().finally(() => part.close());
  }
}

// The event loop of one download: requests out, answers in, the scheduler told of each.
class SwarmDownload {
  private readonly job: DownloadJob;
  private readonly part: DownloadPart;
  private readonly scheduler: ChunkScheduler;
  private readonly following = new Set<string>();
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly startedAt = performance.now();
  private lastChunkAt = performance.now();
  private lastProgress = 0;
  private bytesDone = 0;
  private refreshing = false;
  private finished = false;
  private resolve: () => void = () => {};
  private reject: (error: Error) => void = () => {};

  constructor(job: DownloadJob, part: DownloadPart) {
    this.job = job;
    this.part = part;
    this.scheduler = new ChunkScheduler({ chunkCount: job.manifest.chunks.length, have: part.verified.copy(), clock: () => performance.now(), random: Math.random });
    for (const index of part.verified.indices()) this.bytesDone += chunkLength(job.manifest, index);
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      if (this.scheduler.complete) return this.finish();
      this.job.signal?.addEventListener("abort", () => this.fail(new P2PError("CLOSED", "the download was cancelled; run it again to resume")));
      this.report(true);
      void this.refreshHolders();
    });
  }

  peerSummaries() {
    return this.scheduler.peerSummaries();
  }

  private async refreshHolders(): Promise<void> {
    if (this.refreshing || this.finished) return;
    this.refreshing = true;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refreshHolders(), holderRefreshDelay(performance.now() - this.startedAt));
    try {
      for (const holder of await this.job.peers.holders()) {
        if (this.finished) return;
        if (!holder.partial) this.scheduler.setPeer(holder.address, null);
        else if (!this.scheduler.hasPeer(holder.address)) {
          this.scheduler.setPeer(holder.address, new Bitfield(this.scheduler.chunkCount));
          void this.followHave(holder.address);
        }
      }
    } catch (error) {
      if (!isP2PError(error)) return this.fail(error as Error);
    } finally {
      this.refreshing = false;
    }
    this.pump();
  }

  /** Keeps this download's view of a partial holder current, until it is complete or gone. */
  private async followHave(address: string): Promise<void> {
    if (this.following.has(address)) return;
    this.following.add(address);
    let version: number | null = null;
    try {
      while (!this.finished) {
        let report;
        try {
          report = await this.job.peers.have(address, version);
        } catch (error) {
          const failure = failureOf(error);
          if (failure === "missing" || failure === "bad") {
            this.scheduler.failed(address, null, failure);
            return;
          }
          await Bun.sleep(HAVE_RETRY_MS);
          continue;
        }
        if (this.finished) return;
        this.scheduler.setPeer(address, report.have);
        this.pump();
        if (report.have === null) return; // complete: it has everything from now on
        version = report.version;
      }
    } finally {
      this.following.delete(address);
    }
  }

  private pump(): void {
    if (this.finished) return;
    if (this.scheduler.complete) return this.finish();
    for (const assignment of this.scheduler.assign()) this.request(assignment);
    if (this.scheduler.busy === 0) this.checkStall();
    const wake = this.scheduler.nextWakeAt();
    clearTimeout(this.wakeTimer);
    this.wakeTimer = wake === null ? undefined : setTimeout(() => this.pump(), Math.max(1, wake - performance.now()));
  }

  private request(assignment: Assignment): void {
    const { peer } = assignment;
    if (assignment.index === null) {
      this.job.peers.chosenChunk(peer, assignment.wanted).then(
        ({ index, bytes }) => this.received(peer, index, bytes, true),
        (error) => this.failed(peer, null, error),
      );
    } else {
      const { index } = assignment;
      this.job.peers.chunk(peer, index).then(
        (bytes) => this.received(peer, index, bytes, false),
        (error) => this.failed(peer, index, error),
      );
    }
  }

  private received(peer: string, index: number, bytes: Uint8Array, chosen: boolean): void {
    if (this.finished) return this.job.peers.release?.(bytes);
    const { manifest } = this.job;
    const valid = Number.isSafeInteger(index) && index >= 0 && index < manifest.chunks.length && bytes.length === chunkLength(manifest, index);
    // Hashed here, on the event loop: a hashing thread was tried and taken out again, slower on 2 cores and
    // 40-70 % more CPU per chunk, since the bytes cross cores (BENCHMARKS.md, transfers).
    if (valid && sha256Hex(bytes) === manifest.chunks[index]) this.verified(peer, index, bytes, chosen);
    else this.rejected(peer, index, bytes, chosen);
  }

  private rejected(peer: string, index: number, bytes: Uint8Array, chosen: boolean): void {
    // Bad data is never an accident worth a retry: this holder is not asked again.
    this.job.peers.release?.(bytes);
    if (this.finished) return;
    this.scheduler.failed(peer, chosen ? null : index, "bad");
    this.pump();
  }

  private verified(peer: string, index: number, bytes: Uint8Array, chosen: boolean): void {
    if (this.finished || this.scheduler.delivered(peer, index, chosen) === "late") {
      this.job.peers.release?.(bytes);
      return this.pump();
    }
    this.lastChunkAt = performance.now();
    const length = bytes.length;
    this.part.write(index, bytes).then(
      () => {
        // On disk: the body's buffer goes back to the pool for the next chunk.
        this.job.peers.release?.(bytes);
        if (this.finished) return;
        this.scheduler.stored(index);
        this.bytesDone += length;
        this.job.onStored?.(index, this.part);
        this.report(this.scheduler.complete);
        this.pump();
      },
      (error) => {
        this.job.peers.release?.(bytes);
        this.fail(error as Error);
      },
    );
    this.pump();
  }

  private failed(peer: string, index: number | null, error: unknown): void {
    if (this.finished) return;
    if (!isP2PError(error)) return this.fail(error as Error);
    this.scheduler.failed(peer, index, failureOf(error));
    this.pump();
  }

  /** Nothing in flight and nothing to ask now: give up only when waiting cannot help. */
  private checkStall(): void {
    const now = performance.now();
    const verified = this.scheduler.verifiedCount;
    if (!this.scheduler.hasCandidates && !this.refreshing) {
      // Every holder answered, and none has the file (or none sent the right bytes).
      this.fail(new P2PError("UNAVAILABLE", `no reachable holder has the rest of ${this.job.name}; ${verified} verified chunks are kept, run the download again to resume`));
    } else if (now - this.lastChunkAt > MAX_STALL_MS) {
      const seconds = Math.round(MAX_STALL_MS / 1000);
      this.fail(new P2PError("UNAVAILABLE", `no reachable holder has the rest of ${this.job.name} (nothing arrived for ${seconds} s); ${verified} verified chunks are kept, run the download again to resume`));
    }
  }

  private report(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS) return;
    this.lastProgress = now;
    const { manifest } = this.job;
    const usable = this.scheduler.peerSummaries().filter((peer) => peer.usable);
    this.job.onProgress?.({
      bytes: this.bytesDone,
      total: manifest.size,
      chunks: manifest.chunks.length,
      chunksDone: this.scheduler.verifiedCount,
      sources: usable.length,
      addresses: usable.slice(0, MAX_REPORTED_SOURCES).map((peer) => peer.address),
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.stop();
    this.resolve();
  }

  private fail(error: Error): void {
    if (this.finished) return;
    this.stop();
    this.reject(error);
  }

  private stop(): void {
    this.finished = true;
    clearTimeout(this.wakeTimer);
    clearTimeout(this.refreshTimer);
  }
}
