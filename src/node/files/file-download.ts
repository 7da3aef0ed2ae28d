// Downloading files: by name (following a file to its new id once), or by id for a folder's files; the downloads under way, their partial announcements and the TRANSFERS log.

import { rmSync, statSync } from "node:fs";
import { P2PError } from "../../protocol/errors";
import type { DownloadReport, TransferEntry, TransfersReport } from "../../wire/control";
import type { FileSummary } from "../../model/reports";
import type { RecordEntry } from "../../model/record";
import { answerTwice, nameHolders } from "./announcements";
import type { Announcer } from "./announcer";
import type { SharedFile } from "./catalog";
import type { ChunkServer } from "./chunk-server";
import { type DownloadProgress, type DownloadResult, runDownload } from "./download";
import { downloadPeers } from "./download-peers";
import type { FileFinder } from "./file-finder";
import type { Manifest } from "../../model/manifest";
import { ManifestUnavailable, fetchManifest } from "./manifest-fetch";
import { checkOutputPath } from "./part-file";
import type { FileCatalog, FileLinks, FileRecords, PartFiles } from "./ports";
import type { FilePeers, Holder } from "./swarm/file-peers";
import { TransferLog } from "./transfer-log";
import type { RateLimiter } from "./rate-limiter";
import { limitedPeers } from "./limited-peers";
import { type Running, follow } from "./follow-download";

/** A progress event of one file; `state` is set while it waits for a turn ("queued") or for RESUME ("paused"). */
export type FileProgress = DownloadProgress & { name: string; id: string; state?: "queued" | "paused" };
export type DownloadOptions = {
  force?: boolean;
  noShare?: boolean;
  onProgress?: (progress: FileProgress) => void;
  signal?: AbortSignal;
  /** Registered paused (a restart of a download that was paused): it waits for RESUME. */
  paused?: boolean;
  /** Runs with no client (START, or resumed at start): a DOWNLOAD of the same file to the same path follows it. */
  background?: boolean;
  /** Called once the transfer is registered (START replies then). */
  onBegin?: (entry: TransferEntry) => void;
};
/**
 * One file to fetch by id: where from (read again during the download) and whether to announce it under its name.
 * `size`: what the caller was told (shown until the manifest arrives); `linkSize`: a link's size, which the manifest must match.
 */
export type FetchJob = { name: string; id: string; out: string; holders: () => Promise<Holder[]>; announce: boolean; stream?: string; size?: number; linkSize?: number };

/** Times one download may be paused and resumed: each round is a user's PAUSE, so this is only a bound on the loop. */
const MAX_PAUSES = 100_000;
/** Times a download by name follows its file to a new id (its holder changed it on disk and announced it again). */
const MAX_ID_CHANGES = 1;

export interface FileDownloadsOptions {
  selfAddress: string;
  ring: FileRecords;
  links: FileLinks;
  catalog: FileCatalog;
  parts: PartFiles;
  server: ChunkServer;
  announcer: Announcer;
  finder: FileFinder;
  /** A file this node shares whole, unchanged on disk (`FileShares.servable`). */
  servable: (fileId: string) => SharedFile | null;
  warn: (message: string) => void;
  /** Downloads at once (--max-active); 0: no limit. */
  maxActive?: number;
  /** Paces every chunk this node fetches (--download-limit). */
  downloadLimiter?: RateLimiter;
}

export class FileDownloads {
  private readonly options: FileDownloadsOptions;
  /** Downloads under way, by file id: their partial announcements are renewed with the rest. */
  private readonly downloading = new Map<string, { name: string; size: number }>();
  /** Downloads under way and recent, for TRANSFERS and CANCEL. */
  private readonly transfers: TransferLog;
  /** File downloads running now, by file id, so a request for one that runs in the background follows it. */
  private readonly running = new Map<string, Running<FileProgress>>();

  constructor(options: FileDownloadsOptions) {
    this.options = options;
    this.transfers = new TransferLog(options.maxActive ?? 0, (address) => options.links.pathOf?.(address) ?? "direct");
  }

  /** Downloads the file `target` that `name` led to into `out` (asked without an id, follows it to a new id once); `entries`: the name's records, if just read. */
  async byName(name: string, idPrefix: string | null, target: FileSummary, out: string, options: DownloadOptions, started: number, entries?: RecordEntry[]): Promise<DownloadReport> {
    checkOutputPath(out, options.force === true);
    for (let attempt = 0; ; attempt++) {
      const id = target.id;
      const holders = nameHolders((key) => this.options.ring.get(key), name, id, attempt === 0 ? entries : undefined);
      try {
        return await this.fetchFile({ name, id, out, holders, announce: true }, options, started);
      } catch (error) {
        // Every holder said it no longer has this id: the file changed on disk and is being announced
        // again under its new id. Asked by name, the new id is what the user wants: wait for it.
        if (!(error instanceof ManifestUnavailable && error.allMissing) || idPrefix !== null || attempt >= MAX_ID_CHANGES) throw error;
        const next = await this.options.finder.newTarget(name, id);
        if (next === null || next.folder === true) throw error;
        target = next;
      }
    }
  }

  /**
   * Fetches one file by id from `holders` into `out`; `announce: false` for a file of a folder (catalogued, announced
   * through its folder). It waits for a turn under --max-active first, and again after each PAUSE (then RESUME).
   */
  async fetchFile(job: FetchJob, options: DownloadOptions, started = performance.now()): Promise<DownloadReport> {
    const running = this.running.get(job.id);
    if (running?.background && running.out === job.out) {
      const entry = this.transfers.list().find((candidate) => candidate.id === job.id && candidate.endedAt === undefined);
      if (entry) options.onBegin?.(entry);
      return follow(running, options);
    }
    const listeners = new Set<(progress: FileProgress) => void>();
    const onProgress = (progress: FileProgress) => {
      options.onProgress?.(progress);
      for (const listener of listeners) listener(progress);
    };
    const own: Running<FileProgress> = { out: job.out, background: options.background === true, listeners, done: this.fetchOwn(job, { ...options, onProgress }, started) };
    this.running.set(job.id, own);
    try {
      return await own.done;
    } finally {
      if (this.running.get(job.id) === own) this.running.delete(job.id);
    }
  }

  private async fetchOwn(asked: FetchJob, options: DownloadOptions, started: number): Promise<DownloadReport> {
    // The swarm's first look for holders takes the answer the manifest was fetched with: a lookup fewer.
    const job = { ...asked, holders: answerTwice(asked.holders) };
    const cancelled = this.transfers.begin(job.id, job.name, job.out, job.size ?? job.linkSize ?? 0, options.paused === true && job.announce);
    const signal = options.signal ? AbortSignal.any([options.signal, cancelled]) : cancelled;
    options.onBegin?.(this.transfers.list().find((entry) => entry.id === job.id)!);
    const heartbeat = (entry: TransferEntry) =>
      options.onProgress?.({ bytes: entry.bytes, total: entry.size, chunks: 0, chunksDone: 0, sources: 0, addresses: [], name: job.name, id: job.id, state: entry.state === "paused" ? "paused" : "queued" });
    try {
      let manifest: Manifest | null = null;
      // One round per turn: a round ends with the file in place, or with PAUSE (then the next waits for RESUME).
      for (let round = 1; ; round++) {
        const paused = await this.transfers.turn(job.id, signal, heartbeat);
        try {
          manifest ??= await this.manifestOf(job);
          this.transfers.sized(job.id, manifest.size);
          signal.throwIfAborted();
          if (paused.aborted) throw paused.reason;
          const result = await this.run(job, manifest, this.peersFor(job, manifest, signal), options, AbortSignal.any([signal, paused]));
          this.transfers.end(job.id, "done");
          return await this.completed(job, manifest, result, options, started);
        } catch (error) {
          if (!(paused.aborted && !signal.aborted) || round >= MAX_PAUSES) throw error;
        } finally {
          this.transfers.release(job.id);
        }
      }
    } catch (error) {
      // The client went away (Ctrl-C): stopped, resumable from the .part; not a failure.
      this.transfers.end(job.id, options.signal?.aborted ? "stopped" : "failed", (error as Error).message);
      if (cancelled.aborted) throw cancelled.reason;
      throw error;
    }
  }

  /** Pauses a download under way or queued (by name or id prefix). */
  pause(ref: string): TransferEntry {
    return this.transfers.pause(ref);
  }

  resume(ref: string): TransferEntry {
    return this.transfers.resume(ref);
  }

  /** Forgets the ended downloads; returns how many. */
  clear(): number {
    return this.transfers.clear();
  }

  /** Whether a download to `path` is under way, queued or paused (one this request only followed goes on). */
  activeAt(path: string): boolean {
    return this.transfers.activeAt(path);
  }

  private async manifestOf(job: FetchJob): Promise<Manifest> {
    const { selfAddress, server } = this.options;
    const manifest = await fetchManifest({ selfAddress, links: this.options.links }, server, job.name, job.id, (await job.holders()).map((holder) => holder.address));
    if (job.linkSize !== undefined && manifest.size !== job.linkSize) {
      throw new P2PError("MALFORMED", `the link says ${job.name} is ${job.linkSize} bytes, but id ${job.id.slice(0, 12)} is ${manifest.size} bytes: the link is damaged`);
    }
    return manifest;
  }

  /** Downloads under way and recent, and the files peers are fetching from here now. */
  transfersReport(): TransfersReport {
    const nameOf = (id: string) => this.options.catalog.byFileId(id)[0]?.name ?? this.downloading.get(id)?.name ?? id.slice(0, 12);
    return { downloads: this.transfers.list(), serving: this.options.server.stats.serving().map((entry) => ({ ...entry, name: nameOf(entry.id) })) };
  }

  /** Stops a download under way; with `discard`, its .part and saved progress go too. */
  cancel(ref: string, discard: boolean): TransferEntry {
    const entry = this.transfers.cancel(ref);
    if (discard) {
      this.options.catalog.finishDownload(entry.id);
      rmSync(`${entry.path}.part`, { force: true });
    }
    return entry;
  }

  /** Announces the downloads under way again as partly held, with the rest of this node's announcements. */
  async renewPartials(): Promise<void> {
    for (const [fileId, download] of this.downloading) {
      await this.options.announcer
        .announcePartial(fileId, download.name, download.size)
        .catch((error) => this.options.warn(`could not re-announce ${download.name} as partly held: ${error.message}`));
    }
  }

  private peersFor(job: FetchJob, manifest: Manifest, signal: AbortSignal): FilePeers {
    const { selfAddress, server } = this.options;
    const peers = downloadPeers({
      fileId: job.id,
      chunkCount: manifest.chunks.length,
      selfAddress,
      links: this.options.links,
      // This node is a source only of a file it shares whole: then the download is a verified local copy.
      holders: async () => (await job.holders()).filter((holder) => holder.address !== selfAddress || (!holder.partial && this.options.servable(job.id) !== null)),
      stream: job.stream,
      local: {
        chunk: (fileId, index) => server.chunk(fileId, index, undefined),
        chosenChunk: (fileId, wanted) => server.chosenChunk(fileId, wanted, undefined),
        have: (fileId, version) => server.have(fileId, version),
      },
    });
    const limiter = this.options.downloadLimiter;
    return limiter?.limited ? limitedPeers(peers, limiter, manifest.chunkSize, signal) : peers;
  }

  /** The download itself: logged for TRANSFERS, served and announced as partly held from its first verified chunk. */
  private async run(job: FetchJob, manifest: Manifest, peers: FilePeers, options: DownloadOptions, signal: AbortSignal): Promise<DownloadResult> {
    const { name, id } = job;
    const { server, announcer } = this.options;
    let announcedPartial = options.noShare === true || !job.announce; // --no-share: never announced, not even partly
    if (!options.noShare && job.announce) this.downloading.set(id, { name, size: manifest.size });
    try {
      const result = await runDownload({
        manifest,
        name,
        outPath: job.out,
        parts: this.options.parts,
        peers,
        onProgress: (progress) => {
          this.transfers.progress(id, progress.bytes, progress.addresses);
          options.onProgress?.({ ...progress, name, id });
        },
        onOpen: (part) => server.startPartial(part),
        onStored: (_index, part) => {
          server.chunkStored(id);
          // The last chunk: the complete announcement follows at once, so a partial one would only delay it.
          if (announcedPartial || part.verified.count() === part.manifest.chunks.length) return;
          // From its first verified chunk on, this node serves the file to the rest of the swarm.
          announcedPartial = true;
          void announcer.announcePartial(part.manifest.fileId, name, part.manifest.size).catch((error) => this.options.warn(`could not announce ${name} as partly held: ${error.message}`));
        },
        signal,
      });
      return result;
    } catch (error) {
      this.downloading.delete(id);
      server.endPartial(id);
      if (announcedPartial && !options.noShare) await announcer.withdrawPartial(id, name).catch(() => {});
      throw error;
    }
  }

  /** The file is in place: this node is now a holder of it (unless --no-share), and the report says how it went. */
  private async completed(job: FetchJob, manifest: Manifest, result: DownloadResult, options: DownloadOptions, started: number): Promise<DownloadReport> {
    const { name, out } = job;
    const { catalog, server } = this.options;
    if (result.corruptChunks > 0) this.options.warn(`${result.corruptChunks} chunks of ${out}.part no longer matched their hashes (changed on disk since they were written); fetched them again`);
    this.downloading.delete(job.id);
    // Now a holder itself: no re-hash, the manifest was verified chunk by chunk.
    const stat = statSync(out);
    const file: SharedFile = { ...manifest, name, path: out, mtimeMs: stat.mtimeMs };
    server.endPartial(job.id);
    // A copy of a file this node already shares under this name: the catalog keeps serving the original.
    const sharedAlready = catalog.byFileId(file.fileId).some((shared) => shared.name === name && shared.path !== out && this.options.servable(file.fileId) !== null);
    if (!options.noShare && !sharedAlready) catalog.share(file);
    if (!options.noShare && job.announce) {
      await this.options.announcer.announce(file).catch((error) => this.options.warn(`downloaded ${name} but could not announce it: ${(error as Error).message}`));
    }
    return {
      name,
      size: manifest.size,
      id: manifest.fileId,
      path: out,
      sources: result.sourcesUsed,
      badSources: result.badSources,
      resumedChunks: result.resumedChunks,
      ...(result.corruptChunks > 0 ? { corruptChunks: result.corruptChunks } : {}),
      milliseconds: Math.round(performance.now() - started),
    };
  }
}
