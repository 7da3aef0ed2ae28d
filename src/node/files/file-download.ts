// Downloading files: by name (following a file to its new id once), or by id for a folder's files; the downloads under way, their partial announcements and the TRANSFERS log.

import { rmSync, statSync } from "node:fs";
import type { DownloadReport, TransferEntry, TransfersReport } from "../../wire/control";
import type { FileSummary } from "../../model/reports";
import type { RecordEntry } from "../../model/record";
import { holdersOf } from "./announcements";
import type { Announcer } from "./announcer";
import type { SharedFile } from "./catalog";
import type { ChunkServer } from "./chunk-server";
import { type DownloadProgress, type DownloadResult, runDownload } from "./download";
import { downloadPeers } from "./download-peers";
import type { FileFinder } from "./file-finder";
import type { Manifest } from "../../model/manifest";
import { ManifestUnavailable, fetchManifest } from "./manifest-fetch";
import { nameKey } from "./names";
import { checkOutputPath } from "./part-file";
import type { FileCatalog, FileLinks, FileRecords, PartFiles } from "./ports";
import type { FilePeers, Holder } from "./swarm/file-peers";
import { TransferLog } from "./transfers";

export type DownloadOptions = { force?: boolean; noShare?: boolean; onProgress?: (progress: DownloadProgress & { name: string; id: string }) => void; signal?: AbortSignal };
/** One file to fetch by id: where from (read again during the download) and whether to announce it under its name. */
export type FetchJob = { name: string; id: string; out: string; holders: () => Promise<Holder[]>; announce: boolean; stream?: string };

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
}

export class FileDownloads {
  private readonly options: FileDownloadsOptions;
  /** Downloads under way, by file id: their partial announcements are renewed with the rest. */
  private readonly downloading = new Map<string, { name: string; size: number }>();
  /** Downloads under way and recent, for TRANSFERS and CANCEL. */
  private readonly transfers = new TransferLog();

  constructor(options: FileDownloadsOptions) {
    this.options = options;
  }

  /**
   * Downloads the file `target` that `name` led to into `out`; asked without an id, follows it to a new id once.
   * `entries`: the name's record entries `target` was found in, if just read: its first holders, without a lookup.
   */
  async byName(name: string, idPrefix: string | null, target: FileSummary, out: string, options: DownloadOptions, started: number, entries?: RecordEntry[]): Promise<DownloadReport> {
    checkOutputPath(out, options.force === true);
    let known = entries;
    for (let attempt = 0; ; attempt++) {
      const id = target.id;
      const holders = async () => {
        const read = known ?? (await this.options.ring.get(nameKey(name)));
        known = undefined;
        return holdersOf(read, id);
      };
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

  /** Fetches one file by id from `holders` into `out`; `announce: false` for a file of a folder (catalogued, announced through its folder). */
  async fetchFile(job: FetchJob, options: DownloadOptions, started = performance.now()): Promise<DownloadReport> {
    const { selfAddress, server } = this.options;
    const holders = await job.holders();
    const manifest = await fetchManifest({ selfAddress, links: this.options.links }, server, job.name, job.id, holders.map((holder) => holder.address));
    // The swarm's first look for holders takes the answer the manifest was fetched with: a lookup fewer.
    let first: Holder[] | null = holders;
    const reuseFirst = async () => {
      const reused = first;
      first = null;
      return reused ?? job.holders();
    };
    const result = await this.run(job, manifest, this.peersFor({ ...job, holders: reuseFirst }, manifest), options);
    return this.completed(job, manifest, result, options, started);
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

  private peersFor(job: FetchJob, manifest: Manifest): FilePeers {
    const { selfAddress, server } = this.options;
    return downloadPeers({
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
  }

  /** The download itself: logged for TRANSFERS, served and announced as partly held from its first verified chunk. */
  private async run(job: FetchJob, manifest: Manifest, peers: FilePeers, options: DownloadOptions): Promise<DownloadResult> {
    const { name, id } = job;
    const { server, announcer } = this.options;
    let announcedPartial = options.noShare === true || !job.announce; // --no-share: never announced, not even partly
    const cancelled = this.transfers.begin(id, name, job.out, manifest.size);
    const signal = options.signal ? AbortSignal.any([options.signal, cancelled]) : cancelled;
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
      this.transfers.end(id, "done");
      return result;
    } catch (error) {
      // The client went away (Ctrl-C): stopped, resumable from the .part; not a failure.
      this.transfers.end(id, options.signal?.aborted ? "stopped" : "failed", (error as Error).message);
      this.downloading.delete(id);
      server.endPartial(id);
      if (announcedPartial && !options.noShare) await announcer.withdrawPartial(id, name).catch(() => {});
      if (cancelled.aborted) throw cancelled.reason;
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
