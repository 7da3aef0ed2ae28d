// File sharing on the ring: share (hash, catalog, announce), list, search and download; serving is ChunkServer's.

import { existsSync, rmSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { RecordEntry } from "../../model/record";
import type { FileSummary } from "../../model/reports";
import { holdersOf, summarize } from "./announcements";
import type { CatalogStore, SharedFile } from "./catalog";
import type { ServedStore } from "./served-store";
import { ChunkServer } from "./chunk-server";
import { runDownload } from "./download";
import { checkOutputPath } from "./part-file";
import { FileLister, type ListerOptions } from "./file-list";
import type { Manifest } from "../../model/manifest";
import { hashFile } from "./manifest";
import { MAX_INDEXED_WORDS, foldText, nameKey, parseNameRef, wordKey, wordsOf } from "./names";
import { checkShareName } from "../../model/share-name";
import { type AnnouncedItem, Announcer } from "./announcer";
import type { RateLimiter } from "./rate-limiter";
import { tcpFilePeers } from "./tcp-file-peers";
import type { DownloadReport, SharedEntry, TransferEntry, TransfersReport } from "../../wire/control";
import { TransferLog } from "./transfers";
import { notFound, statOrThrow } from "./not-found";
import { ManifestUnavailable, fetchManifest, waitForNewId } from "./manifest-fetch";
import { type DownloadOptions, type FetchJob, downloadFolder, refreshFolder, refreshFolderOf, shareFolder, sharedFolders, unshareFolders } from "./folder-sharing";

export const DEFAULT_ANNOUNCE_INTERVAL_MS = 5 * 60_000;
/** Holder entries expire unless re-announced: about twice the interval, as BitTorrent and IPFS do. */
export const ANNOUNCE_TTL_FACTOR = 2;
/** Files one LIST answers the client with; past it the reply would outgrow a frame: search instead. */
export const MAX_LIST_FILES = 50_000;
/** Times a download by name follows its file to a new id (its holder changed it on disk and announced it again). */
const MAX_ID_CHANGES = 1;
/** Names whose last sighting is remembered for "no holder online". */
const MAX_REMEMBERED_NAMES = 10_000;

export interface SharingOptions extends ListerOptions {
  catalog: CatalogStore;
  /** Bytes served per file, across restarts (absent: counted from start only). */
  served?: ServedStore;
  uploadLimiter: RateLimiter;
  announceIntervalMs?: number;
}

export class FileSharing {
  readonly options: SharingOptions;
  private readonly announcer: Announcer;
  /** Entries dropped from a damaged catalog at start: what this node announced of them before is withdrawn once it is in the ring. */
  private damaged: Array<{ name: string; fileId?: string; folderId?: string }> = [];
  private readonly announceIntervalMs: number;
  private readonly refreshing = new Set<string>();
  /** Serves chunks of files shared whole and of downloads under way. */
  readonly server: ChunkServer;
  /** Answers and sends LIST_ALL_FILES. */
  readonly lister: FileLister;
  /** Downloads under way, by file id: their partial announcements are renewed with the rest. */
  private readonly downloading = new Map<string, { name: string; size: number }>();
  /** Downloads under way and recent, for TRANSFERS and CANCEL. */
  private readonly transfers = new TransferLog();
  /** When each name was last seen with a holder, so "no holder online" can say when (bounded, oldest dropped). */
  private readonly lastSeen = new Map<string, number>();

  constructor(options: SharingOptions) {
    this.options = options;
    this.server = new ChunkServer({ uploadLimiter: options.uploadLimiter, servable: (fileId) => this.servable(fileId), served: options.served });
    this.lister = new FileLister(options);
    this.announceIntervalMs = options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS;
    this.announcer = new Announcer({ self: options.self, ring: options.ring, ttlMs: this.announceIntervalMs * ANNOUNCE_TTL_FACTOR });
    // Checked before anything is announced or served: a damaged entry is dropped with a warning saying what to do.
    for (const damaged of options.catalog.dropDamaged()) {
      options.warn(damaged.message);
      if (damaged.announced) this.damaged.push(damaged.announced);
    }
  }

  get interval(): number {
    return this.announceIntervalMs;
  }

  /** Shares a file in place: hashes it (unless unchanged since last time), catalogs and announces it. */
  async share(path: string, name: string | undefined, onProgress?: (bytes: number, total: number) => void, signal?: AbortSignal): Promise<FileSummary> {
    const absolute = resolve(path);
    if (existsSync(absolute) && statSync(absolute).isDirectory()) return shareFolder(this, absolute, name, onProgress, signal);
    const shareName = checkShareName(name ?? basename(absolute));
    const stat = statOrThrow(absolute);
    const known = this.options.catalog.byPath(absolute).find((file) => file.size === stat.size && file.mtimeMs === stat.mtimeMs);
    const manifest: Manifest & { mtimeMs: number } = known ?? (await hashFile(absolute, { onProgress, signal }));
    const file: SharedFile = { ...manifest, name: shareName, path: absolute, mtimeMs: manifest.mtimeMs };
    this.markShared(file);
    await this.announce(file);
    return { name: shareName, size: file.size, id: file.fileId, holders: 1 };
  }

  /** Every file in the network, each once, gathered by a broadcast over the fingers. */
  async list(): Promise<FileSummary[]> {
    const entries = new Map<string, RecordEntry>();
    for (const entry of await this.lister.collect()) entries.set(`${entry.key}/${entry.member}`, entry);
    const files = summarize([...entries.values()], "file");
    if (files.length > MAX_LIST_FILES) {
      throw new P2PError("UNAVAILABLE", `the network shares ${files.length} files, more than list shows (${MAX_LIST_FILES}); use search`);
    }
    this.remember(files);
    return files;
  }

  /** Whole words cost one lookup each; anything else falls back to matching over the list. */
  async search(term: string): Promise<FileSummary[]> {
    const needle = foldText(term.trim());
    if (needle.length === 0) throw new P2PError("MALFORMED", "search for what? give a word or part of a name");
    const words = wordsOf(needle);
    if (words.length > 0 && words.length <= MAX_INDEXED_WORDS) {
      let found: FileSummary[] | null = null;
      for (const word of words) {
        const hits = summarize(await this.options.ring.get(wordKey(word)), "word");
        found = found === null ? hits : found.filter((file) => hits.some((hit) => hit.id === file.id && hit.name === file.name));
      }
      const exact = (found ?? []).filter((file) => foldText(file.name).includes(needle) || words.every((word) => wordsOf(file.name).includes(word)));
      if (exact.length > 0) return exact;
    }
    return (await this.list()).filter((file) => foldText(file.name).includes(needle) || (words.length > 0 && words.every((word) => wordsOf(file.name).includes(word))));
  }

  /** Downloads `ref` (a name, or `name@idprefix`) to `outPath`; resumes a .part left by an earlier attempt. */
  async download(ref: string, outPath: string | undefined, options: DownloadOptions = {}): Promise<DownloadReport> {
    const started = performance.now();
    const { name, idPrefix } = parseNameRef(ref);
    checkShareName(name);
    let target = await this.target(name, idPrefix);
    const out = resolve(outPath ?? name);
    if (target.folder === true) return downloadFolder(this, { name, id: target.id, size: target.size }, out, options, started);
    checkOutputPath(out, options.force === true);
    for (let attempt = 0; ; attempt++) {
      const id = target.id;
      const holders = async () => holdersOf(await this.options.ring.get(nameKey(name)), id);
      try {
        return await this.fetchFile({ name, id, out, holders, announce: true }, options, started);
      } catch (error) {
        // Every holder said it no longer has this id: the file changed on disk and is being announced
        // again under its new id. Asked by name, the new id is what the user wants: wait for it.
        if (!(error instanceof ManifestUnavailable && error.allMissing) || idPrefix !== null || attempt >= MAX_ID_CHANGES) throw error;
        const next = await this.newTarget(name, id);
        if (next === null || next.folder === true) throw error;
        target = next;
      }
    }
  }

  /** The one file `name` (with an id starting with `idPrefix`) names now; not found and several are errors that say what to do. */
  private async target(name: string, idPrefix: string | null): Promise<FileSummary> {
    const entries = await this.options.ring.get(nameKey(name));
    const candidates = summarize(entries, "file").filter((file) => idPrefix === null || file.id.startsWith(idPrefix));
    this.remember(candidates);
    if (candidates.length === 0) throw await notFound(name, idPrefix, () => this.list(), this.lastSeen.get(name));
    if (candidates.length > 1) {
      const choices = candidates.map((file) => `${file.name}@${file.id.slice(0, 12)} (${file.size} bytes, ${file.holders} holders)`);
      throw new P2PError("CONFLICT", `'${name}' names ${candidates.length} different files; pick one with name@id: ${choices.join(", ")}`);
    }
    return candidates[0]!;
  }

  /** Waits (bounded) for `name` to be announced under an id other than `oldId`, as a holder that re-hashed a changed file does. */
  private async newTarget(name: string, oldId: string): Promise<FileSummary | null> {
    const changed = await waitForNewId(async () => summarize(await this.options.ring.get(nameKey(name)), "file"), oldId);
    return changed ? this.target(name, null) : null;
  }

  /** Fetches one file by id from `holders` into `out`; `announce: false` for a file of a folder (catalogued, announced through its folder). */
  async fetchFile(job: FetchJob, options: DownloadOptions, started = performance.now()): Promise<DownloadReport> {
    const { name, out } = job;
    const target = { id: job.id };
    const manifest = await fetchManifest(this.options, this.server, name, target.id, (await job.holders()).map((holder) => holder.address));
    const peers = tcpFilePeers({
      fileId: target.id,
      chunkCount: manifest.chunks.length,
      selfAddress: this.options.self.address,
      transport: this.options.transport,
      // This node is a source only of a file it shares whole: then the download is a verified local copy.
      holders: async () => (await job.holders()).filter((holder) => holder.address !== this.options.self.address || (!holder.partial && this.servable(target.id) !== null)),
      stream: job.stream,
      local: {
        chunk: (fileId, index) => this.server.chunk(fileId, index, undefined),
        chosenChunk: (fileId, wanted) => this.server.chosenChunk(fileId, wanted, undefined),
        have: (fileId, version) => this.server.have(fileId, version),
      },
    });
    let announcedPartial = options.noShare === true || !job.announce; // --no-share: never announced, not even partly
    const cancelled = this.transfers.begin(target.id, name, out, manifest.size);
    const signal = options.signal ? AbortSignal.any([options.signal, cancelled]) : cancelled;
    if (!options.noShare && job.announce) this.downloading.set(target.id, { name, size: manifest.size });
    let result;
    try {
      result = await runDownload({
        manifest,
        name,
        outPath: out,
        catalog: this.options.catalog,
        peers,
        onProgress: (progress) => {
          this.transfers.progress(target.id, progress.bytes, progress.addresses);
          options.onProgress?.({ ...progress, name, id: target.id });
        },
        onOpen: (part) => this.server.startPartial(part),
        onStored: (_index, part) => {
          this.server.chunkStored(target.id);
          if (announcedPartial) return;
          // From its first verified chunk on, this node serves the file to the rest of the swarm.
          announcedPartial = true;
          void this.announcer.announcePartial(part.manifest.fileId, name, part.manifest.size).catch((error) => this.options.warn(`could not announce ${name} as partly held: ${error.message}`));
        },
        signal,
      });
    } catch (error) {
      // The client went away (Ctrl-C): stopped, resumable from the .part; not a failure.
      this.transfers.end(target.id, options.signal?.aborted ? "stopped" : "failed", (error as Error).message);
      this.downloading.delete(target.id);
      this.server.endPartial(target.id);
      if (announcedPartial && !options.noShare) await this.announcer.withdrawPartial(target.id, name).catch(() => {});
      if (cancelled.aborted) throw cancelled.reason;
      throw error;
    }
    this.transfers.end(target.id, "done");
    if (result.corruptChunks > 0) this.options.warn(`${result.corruptChunks} chunks of ${out}.part no longer matched their hashes (changed on disk since they were written); fetched them again`);
    this.downloading.delete(target.id);
    // Now a holder itself: no re-hash, the manifest was verified chunk by chunk.
    const stat = statSync(out);
    const file: SharedFile = { ...manifest, name, path: out, mtimeMs: stat.mtimeMs };
    this.server.endPartial(target.id);
    // A copy of a file this node already shares under this name: the catalog keeps serving the original.
    const sharedAlready = this.options.catalog.byFileId(file.fileId).some((shared) => shared.name === name && shared.path !== out && this.servable(file.fileId) !== null);
    if (!options.noShare && !sharedAlready) this.markShared(file);
    if (!options.noShare && job.announce) await this.announce(file).catch((error) => this.options.warn(`downloaded ${name} but could not announce it: ${(error as Error).message}`));
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

  /** Downloads under way and recent, and the files peers are fetching from here now. */
  transfersReport(): TransfersReport {
    const nameOf = (id: string) => this.options.catalog.byFileId(id)[0]?.name ?? this.downloading.get(id)?.name ?? id.slice(0, 12);
    return { downloads: this.transfers.list(), serving: this.server.stats.serving().map((entry) => ({ ...entry, name: nameOf(entry.id) })) };
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

  /** What this node shares whole. */
  shared(): SharedEntry[] {
    const files = this.options.catalog.allShared().filter((file) => !file.name.includes("/")); // a folder's files show as their folder
    return [...sharedFolders(this.options.catalog, (id) => this.server.stats.servedBytes(id)), ...files.map((file) => ({
      name: file.name,
      id: file.fileId,
      size: file.size,
      path: file.path,
      since: file.sharedAt ?? null,
      servedBytes: this.server.stats.servedBytes(file.fileId),
    }))];
  }

  /** Stops sharing what `ref` names (a name, or a prefix of an id) and withdraws it from the ring now. */
  async unshare(ref: string): Promise<SharedEntry[]> {
    const entries = this.shared();
    const matches = entries.filter((entry) => entry.name === ref || (ref.length >= 4 && entry.id.startsWith(ref.toLowerCase())));
    if (matches.length === 0) throw new P2PError("NOT_FOUND", `this node shares nothing named '${ref}'; see: p2p client shared`);
    await unshareFolders(this, matches.filter((entry) => entry.folder === true));
    const files = this.options.catalog.allShared().filter((file) => matches.some((entry) => entry.id === file.fileId && entry.name === file.name));
    for (const file of files) {
      this.options.catalog.unshare(file.fileId, file.name);
      await this.withdraw(file);
    }
    return matches;
  }

  private remember(files: readonly FileSummary[]): void {
    const now = Date.now();
    for (const file of files) {
      this.lastSeen.delete(file.name); // re-inserted: the map's order is recency
      this.lastSeen.set(file.name, now);
    }
    while (this.lastSeen.size > MAX_REMEMBERED_NAMES) this.lastSeen.delete(this.lastSeen.keys().next().value!);
  }

  markShared(file: SharedFile): void {
    this.options.catalog.share(file);
  }

  // ---- announcements ----------------------------------------------------------------------------

  /** Re-announces everything shared; withdraws files that vanished and re-hashes files that changed. */
  async refreshAll(): Promise<void> {
    for (const item of this.damaged.splice(0)) await this.withdraw(item).catch((error) => this.options.warn(`could not withdraw ${item.name}: ${(error as Error).message}`));
    for (const [fileId, download] of this.downloading) {
      await this.announcer.announcePartial(fileId, download.name, download.size).catch((error) => this.options.warn(`could not re-announce ${download.name} as partly held: ${error.message}`));
    }
    for (const folder of this.options.catalog.allFolders()) {
      await refreshFolder(this, folder).catch((error) => this.options.warn(`could not re-announce the folder ${folder.name}: ${error.message}`));
    }
    for (const file of this.options.catalog.allShared()) {
      try {
        await this.refresh(file);
      } catch (error) {
        if (!isP2PError(error)) throw error;
        this.options.warn(`could not re-announce ${file.name}: ${error.message}`);
      }
    }
  }

  /** Withdraws every announcement of this node at once (graceful leave), so nobody is sent here. */
  async withdrawAll(): Promise<void> {
    for (const folder of this.options.catalog.allFolders()) await this.withdraw(folder).catch(() => {});
    for (const file of this.options.catalog.allShared()) {
      await this.withdraw(file).catch((error) => this.options.warn(`could not withdraw ${file.name}: ${(error as Error).message}`));
    }
  }

  private async refresh(file: SharedFile): Promise<void> {
    // refreshAll walks a list read before it started: a file unshared since then is not announced again.
    if (!this.options.catalog.byFileId(file.fileId).some((shared) => shared.name === file.name)) return;
    let stat: { size: number; mtimeMs: number } | null = null;
    try {
      stat = statSync(file.path);
    } catch {
      stat = null;
    }
    // A file of a shared folder is announced through its folder: changed or gone, it is simply no longer served.
    if (file.name.includes("/") && (stat === null || stat.size !== file.size || stat.mtimeMs !== file.mtimeMs)) {
      this.options.warn(`${file.path} changed or is gone; no longer serving it as ${file.name}; announcing its folder again`);
      this.options.catalog.unshare(file.fileId, file.name);
      return refreshFolderOf(this, file.name);
    }
    if (file.name.includes("/")) return;
    if (stat === null) {
      this.options.warn(`${file.path} is gone; no longer sharing ${file.name}`);
      this.options.catalog.unshare(file.fileId, file.name);
      await this.withdraw(file);
      return;
    }
    if (stat.size !== file.size || stat.mtimeMs !== file.mtimeMs) {
      this.options.warn(`${file.path} changed on disk; re-hashing ${file.name}`);
      this.options.catalog.unshare(file.fileId, file.name);
      await this.withdraw(file);
      await this.share(file.path, file.name);
      return;
    }
    await this.announce(file);
  }

  announce(item: AnnouncedItem, folder = false): Promise<void> {
    return this.announcer.announce(item, folder);
  }

  withdraw(item: { name: string; fileId?: string; folderId?: string }): Promise<void> {
    return this.announcer.withdraw(item);
  }

  /** A shared file whose bytes are unchanged; a changed one is re-hashed in the background, never served as the old file. */
  private servable(fileId: string): SharedFile | null {
    for (const file of this.options.catalog.byFileId(fileId)) {
      let stat: { size: number; mtimeMs: number } | null = null;
      try {
        stat = statSync(file.path);
      } catch {
        stat = null;
      }
      if (stat && stat.size === file.size && stat.mtimeMs === file.mtimeMs) return file;
      this.refreshInBackground(file);
    }
    return null;
  }

  private refreshInBackground(file: SharedFile): void {
    const key = `${file.fileId}/${file.name}`;
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    this.refresh(file)
      .catch((error) => this.options.warn(`could not refresh ${file.name}: ${(error as Error).message}`))
      .finally(() => this.refreshing.delete(key));
  }
}

