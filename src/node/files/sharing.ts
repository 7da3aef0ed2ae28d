// File sharing on the ring, the front: wires one owner per concern (a file, a folder, serving, finding, downloading) and answers for them all.

import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { Peer } from "../../model/peer";
import type { DownloadReport, SharedEntry, TransferEntry, TransfersReport } from "../../wire/control";
import type { FileSummary } from "../../model/reports";
import { Announcer } from "./announcer";
import { ChunkServer } from "./chunk-server";
import { type DownloadOptions, FileDownloads } from "./file-download";
import { FileFinder } from "./file-finder";
import { FileLister } from "./file-list";
import { FileShares } from "./file-shares";
import { FolderDownloads } from "./folder-download";
import type { FolderManifest } from "../../model/folder";
import { FolderShares } from "./folder-shares";
import type { HolderKeys } from "../signed-records";
import { DownloadRequests } from "./download-requests";
import type { QueueStore } from "./queue-store";
import type { LinkReport } from "../../wire/control-transfers";
import type { FileCatalog, FileLinks, FileRing, PartFiles } from "./ports";
import type { RateLimiter } from "./rate-limiter";
import type { ServedStore } from "./served-store";

export const DEFAULT_ANNOUNCE_INTERVAL_MS = 5 * 60_000;
/** Holder entries expire unless re-announced: about twice the interval, as BitTorrent and IPFS do. */
export const ANNOUNCE_TTL_FACTOR = 2;

export interface SharingOptions {
  self: Peer;
  /** The ring's records and this node's part of it (`ChordNode`). */
  ring: FileRing;
  /** The other nodes' file ops (`tcpFileLinks`). */
  links: FileLinks;
  catalog: FileCatalog;
  /** Where downloads keep their .part files (`partFilesIn(catalog)`). */
  parts: PartFiles;
  /** Bytes served per file, across restarts (absent: counted from start only). */
  served?: ServedStore;
  uploadLimiter: RateLimiter;
  /** Paces every chunk this node fetches (--download-limit); absent: no limit. */
  downloadLimiter?: RateLimiter;
  /** Downloads at once (--max-active), the rest queued; 0 or absent: no limit. */
  maxActive?: number;
  /** Where downloads under way are kept, so a restart resumes them (catalog.db's queue table). */
  queue?: QueueStore;
  /** The DNS addresses this node joined through, for links. */
  dns?: () => string[];
  announceIntervalMs?: number;
  warn: (message: string) => void;
  /** Holders' keys (learnt from each holder's own address): another node's LIST page is believed entry by entry. */
  holderKeys: HolderKeys;
}

export class FileSharing {
  /** Serves chunks of files shared whole and of downloads under way. */
  readonly server: ChunkServer;
  /** Answers and sends LIST_ALL_FILES. */
  readonly lister: FileLister;
  private readonly catalog: FileCatalog;
  private readonly warn: (message: string) => void;
  private readonly announceIntervalMs: number;
  private readonly announcer: Announcer;
  private readonly fileShares: FileShares;
  private readonly folderShares: FolderShares;
  private readonly finder: FileFinder;
  private readonly downloads: FileDownloads;
  private readonly folderDownloads: FolderDownloads;
  private readonly requests: DownloadRequests;
  /** Entries dropped from a damaged catalog at start: what this node announced of them before is withdrawn once it is in the ring. */
  private readonly damaged: Array<{ name: string; fileId?: string; folderId?: string }> = [];

  constructor(options: SharingOptions) {
    const { self, ring, links, catalog, warn } = options;
    this.catalog = catalog;
    this.warn = warn;
    this.announceIntervalMs = options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS;
    this.announcer = new Announcer({ self, ring, ttlMs: this.announceIntervalMs * ANNOUNCE_TTL_FACTOR });
    this.folderShares = new FolderShares({ catalog, announcer: this.announcer, warn });
    this.fileShares = new FileShares({ catalog, announcer: this.announcer, folders: this.folderShares, warn });
    this.server = new ChunkServer({ uploadLimiter: options.uploadLimiter, servable: (fileId) => this.fileShares.servable(fileId), served: options.served });
    this.lister = new FileLister({ self, ring, links, warn, holderKeys: options.holderKeys });
    this.finder = new FileFinder({ ring, lister: this.lister });
    const servable = (fileId: string) => this.fileShares.servable(fileId);
    this.downloads = new FileDownloads({
      ...{ selfAddress: self.address, ring, links, catalog, parts: options.parts, server: this.server, announcer: this.announcer, finder: this.finder, servable, warn },
      ...{ maxActive: options.maxActive, downloadLimiter: options.downloadLimiter },
    });
    this.folderDownloads = new FolderDownloads({
      selfAddress: self.address,
      ring,
      links,
      catalog,
      announcer: this.announcer,
      fetchFile: (job, fetchOptions) => this.downloads.fetchFile(job, fetchOptions),
      servedFolder: (folderId) => this.folderShares.served(folderId),
    });
    this.requests = new DownloadRequests({
      ...{ selfAddress: self.address, ring, finder: this.finder, files: this.downloads, folders: this.folderDownloads },
      ...{ dns: options.dns ?? (() => []), queue: options.queue, warn },
    });
    // Checked before anything is announced or served: a damaged entry is dropped with a warning saying what to do.
    for (const damaged of catalog.dropDamaged()) {
      warn(damaged.message);
      if (damaged.announced) this.damaged.push(damaged.announced);
    }
  }

  get interval(): number {
    return this.announceIntervalMs;
  }

  /** Shares a file or a folder in place: hashed (unless unchanged since last time), catalogued and announced. */
  share(path: string, name: string | undefined, onProgress?: (bytes: number, total: number) => void, signal?: AbortSignal): Promise<FileSummary> {
    const absolute = resolve(path);
    if (existsSync(absolute) && statSync(absolute).isDirectory()) return this.folderShares.share(absolute, name, onProgress, signal);
    return this.fileShares.share(absolute, name, onProgress, signal);
  }

  /** Every file in the network, each once. */
  list(): Promise<FileSummary[]> {
    return this.finder.list();
  }

  search(term: string): Promise<FileSummary[]> {
    return this.finder.search(term);
  }

  /** Downloads `ref` (a name, `name@idprefix` or a link) to `outPath`, a file or a folder; resumes what an earlier attempt left. */
  download(ref: string, outPath: string | undefined, options: DownloadOptions = {}): Promise<DownloadReport> {
    return this.requests.download(ref, outPath, options);
  }

  /** The same download, detached: resolves with its transfer as soon as it is registered. */
  start(ref: string, outPath: string | undefined, options: DownloadOptions = {}): Promise<TransferEntry> {
    return this.requests.start(ref, outPath, options);
  }

  /** A link to what `ref` (name or name@id) names. */
  link(ref: string): Promise<LinkReport> {
    return this.requests.link(ref);
  }

  pause(ref: string): TransferEntry {
    return this.requests.pause(ref);
  }

  resume(ref: string): TransferEntry {
    return this.requests.resume(ref);
  }

  /** Forgets ended downloads in TRANSFERS. */
  clearTransfers(): { cleared: number } {
    return { cleared: this.downloads.clear() };
  }

  /** The node is in the ring: downloads left unfinished when it stopped start again. */
  resumeQueued(): void {
    this.requests.resumeQueued();
  }

  /** The node is stopping: background downloads end, resumable, and stay queued for the next start. */
  stopDownloads(): Promise<void> {
    return this.requests.stop();
  }

  /** Downloads under way and recent, and the files peers are fetching from here now. */
  transfersReport(): TransfersReport {
    return this.downloads.transfersReport();
  }

  /** Stops a download under way; with `discard`, its .part and saved progress go too. */
  cancel(ref: string, discard: boolean): TransferEntry {
    return this.downloads.cancel(ref, discard);
  }

  /** The manifest of a folder this node shares, for GET_FOLDER. */
  folderManifest(folderId: string): FolderManifest {
    return this.folderShares.served(folderId);
  }

  /** What this node shares whole. */
  shared(): SharedEntry[] {
    const servedBytes = (id: string) => this.server.stats.servedBytes(id);
    const files = this.catalog.allShared().filter((file) => !file.name.includes("/")); // a folder's files show as their folder
    return [
      ...this.folderShares.list(servedBytes),
      ...files.map((file) => ({ name: file.name, id: file.fileId, size: file.size, path: file.path, since: file.sharedAt ?? null, servedBytes: servedBytes(file.fileId) })),
    ];
  }

  /** Stops sharing what `ref` names (a name, or a prefix of an id) and withdraws it from the ring now. */
  async unshare(ref: string): Promise<SharedEntry[]> {
    const entries = this.shared();
    const matches = entries.filter((entry) => entry.name === ref || (ref.length >= 4 && entry.id.startsWith(ref.toLowerCase())));
    if (matches.length === 0) throw new P2PError("NOT_FOUND", `this node shares nothing named '${ref}'; see: p2p client shared`);
    await this.folderShares.unshare(matches.filter((entry) => entry.folder === true));
    const files = this.catalog.allShared().filter((file) => matches.some((entry) => entry.id === file.fileId && entry.name === file.name));
    for (const file of files) {
      this.catalog.unshare(file.fileId, file.name);
      await this.announcer.withdraw(file);
    }
    return matches;
  }

  /** Re-announces everything shared; withdraws files that vanished and re-hashes files that changed. */
  async refreshAll(): Promise<void> {
    for (const item of this.damaged.splice(0)) await this.announcer.withdraw(item).catch((error) => this.warn(`could not withdraw ${item.name}: ${(error as Error).message}`));
    await this.downloads.renewPartials();
    for (const folder of this.catalog.allFolders()) {
      await this.folderShares.refresh(folder).catch((error) => this.warn(`could not re-announce the folder ${folder.name}: ${error.message}`));
    }
    for (const file of this.catalog.allShared()) {
      try {
        await this.fileShares.refresh(file);
      } catch (error) {
        if (!isP2PError(error)) throw error;
        this.warn(`could not re-announce ${file.name}: ${error.message}`);
      }
    }
  }

  /**
   * Withdraws what this node announced under an address it no longer has (an edge that moved to another relay, after
   * announcing under the new one), so downloaders are not sent to the old relay first; a frozen one held each of them
   * for a timeout before they tried the new address.
   */
  async withdrawFormerAddress(address: string): Promise<void> {
    for (const item of [...this.catalog.allFolders(), ...this.catalog.allShared()]) {
      await this.announcer.withdraw(item, address).catch((error) => this.warn(`could not withdraw ${item.name} at ${address}: ${(error as Error).message}`));
    }
  }

  /** Withdraws every announcement of this node at once (graceful leave), so nobody is sent here; nothing is announced after it. */
  async withdrawAll(): Promise<void> {
    this.announcer.stopAnnouncing();
    for (const folder of this.catalog.allFolders()) await this.announcer.withdraw(folder).catch(() => {});
    for (const file of this.catalog.allShared()) {
      await this.announcer.withdraw(file).catch((error) => this.warn(`could not withdraw ${file.name}: ${(error as Error).message}`));
    }
  }
}
