// What a client asks to download (a name, name@id or a link), in the foreground or detached; kept in the queue table until it ends, so a restart resumes it.

import { resolve } from "node:path";
import { P2PError } from "../../protocol/errors";
import type { DownloadReport, TransferEntry } from "../../wire/control";
import type { LinkReport } from "../../wire/control-transfers";
import { formatLink, looksLikeLink, parseLink } from "../../model/link";
import { checkShareName } from "../../model/share-name";
import type { RecordEntry } from "../../model/record";
import type { FileSummary } from "../../model/reports";
import { holdersOf } from "./announcements";
import type { DownloadOptions, FileDownloads } from "./file-download";
import type { FileFinder } from "./file-finder";
import type { FolderDownloads } from "./folder-download";
import { linkHolders, linkUnavailable, usableVia } from "./link-holders";
import { ManifestUnavailable } from "./manifest-fetch";
import { nameKey, parseNameRef } from "./names";
import { checkOutputPath } from "./part-file";
import type { FileRecords } from "./ports";
import type { QueueStore } from "./queue-store";

/** How long stopping waits for background downloads to wind down (they keep their .part and their queue row). */
const STOP_WAIT_MS = 5_000;

export interface DownloadRequestsOptions {
  selfAddress: string;
  ring: FileRecords;
  finder: FileFinder;
  files: FileDownloads;
  folders: FolderDownloads;
  /** The DNS addresses this node joined through, for links. */
  dns: () => string[];
  /** Where downloads are kept until they end (absent: a restart forgets them). */
  queue?: QueueStore;
  warn: (message: string) => void;
}

/** What a reference resolved to: a file or folder by id, and for a link its holders. */
/** What a download asks for; `entries`: the name's record entries the target was just found in (its first holders, without a lookup). */
type Resolved = { name: string; idPrefix: string | null; target: FileSummary; pinned: string; link: { via: string[]; dns: string[] } | null; entries?: RecordEntry[] };

export class DownloadRequests {
  private readonly options: DownloadRequestsOptions;
  /** Detached downloads running now, so a stopping node can wait for them. */
  private readonly background = new Set<Promise<unknown>>();
  /** Aborted when the node stops: detached downloads end "stopped" and stay queued for the next start. */
  private readonly stopping = new AbortController();

  constructor(options: DownloadRequestsOptions) {
    this.options = options;
  }

  /** Downloads `ref` (a name, `name@idprefix` or a link) to `outPath`; resumes what an earlier attempt left. */
  async download(ref: string, outPath: string | undefined, options: DownloadOptions = {}): Promise<DownloadReport> {
    const started = performance.now();
    const resolved = await this.resolve(ref);
    const out = resolve(outPath ?? resolved.name);
    const queued = { out, ref: resolved.pinned, force: options.force === true, noShare: options.noShare === true, paused: options.paused === true };
    this.options.queue?.add(queued);
    try {
      return await this.fetch(resolved, out, options, started);
    } finally {
      // A node that is stopping keeps the row: its next start resumes the download. So does a download this
      // request only followed (it runs in the background), which goes on after its follower left.
      if (!this.stopping.signal.aborted && !this.options.files.activeAt(out)) this.options.queue?.remove(out);
    }
  }

  /** DOWNLOAD detached (START): resolves once the transfer is registered; it runs on with no client. */
  start(ref: string, outPath: string | undefined, options: DownloadOptions = {}): Promise<TransferEntry> {
    if (this.stopping.signal.aborted) throw new P2PError("UNAVAILABLE", "the node is stopping");
    return new Promise<TransferEntry>((resolveStart, rejectStart) => {
      let begun = false;
      const onBegin = (entry: TransferEntry) => {
        if (begun) return;
        begun = true;
        resolveStart(entry);
      };
      const running = this.download(ref, outPath, { ...options, signal: this.stopping.signal, onBegin, background: true }).then(
        (report) => onBegin({ id: report.id, name: report.name, path: report.path, size: report.size, bytes: report.size, rate: 0, etaSeconds: null, sources: report.sources, state: "done", startedAt: Date.now() }),
        (error) => {
          if (!begun) return rejectStart(error);
          if (!this.stopping.signal.aborted) this.options.warn(`the download of ${ref.slice(0, 200)} failed: ${(error as Error).message}`);
        },
      );
      this.background.add(running);
      void running.finally(() => this.background.delete(running));
    });
  }

  /** A link to what `ref` names: its id, name, size, up to MAX_LINK_HOLDERS holders (complete ones first) and the DNS. */
  async link(ref: string): Promise<LinkReport> {
    const { name, target } = await this.resolveName(ref);
    const holders = holdersOf(await this.options.ring.get(nameKey(name)), target.id);
    const self = holders.filter((holder) => holder.address === this.options.selfAddress);
    const others = holders.filter((holder) => holder.address !== this.options.selfAddress).sort((a, b) => Number(a.partial) - Number(b.partial));
    const link = { folder: target.folder === true, id: target.id, name, size: target.size, via: [...self, ...others].map((holder) => holder.address), dns: this.options.dns() };
    const text = formatLink(link);
    const parsed = parseLink(text); // what a reader will see: at most MAX_LINK_HOLDERS holders
    return { link: text, ...parsed };
  }

  /** Starts again every download left in the queue by a node that stopped (or crashed) mid-way. */
  resumeQueued(): void {
    for (const queued of this.options.queue?.all() ?? []) {
      this.start(queued.ref, queued.out, { force: queued.force, noShare: queued.noShare, paused: queued.paused }).then(
        (entry) => this.options.warn(`resuming the download of ${entry.name} into ${queued.out} (left unfinished when the node stopped)`),
        (error) => {
          this.options.warn(`could not resume the download of ${queued.ref.slice(0, 200)} into ${queued.out}: ${(error as Error).message}; its verified chunks are kept: run the download again to resume`);
          this.options.queue?.remove(queued.out);
        },
      );
    }
  }

  pause(ref: string): TransferEntry {
    const entry = this.options.files.pause(ref);
    this.options.queue?.setPaused(entry.path, true);
    return entry;
  }

  resume(ref: string): TransferEntry {
    const entry = this.options.files.resume(ref);
    this.options.queue?.setPaused(entry.path, false);
    return entry;
  }

  /** The node is stopping: detached downloads end (resumable), and every queue row stays for the next start. */
  async stop(): Promise<void> {
    this.stopping.abort(new P2PError("CLOSED", "the node is stopping; the download resumes when it starts again"));
    const waiting = Promise.allSettled([...this.background]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([waiting, new Promise<void>((done) => (timer = setTimeout(done, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private async fetch(resolved: Resolved, out: string, options: DownloadOptions, started: number): Promise<DownloadReport> {
    const { name, target, link } = resolved;
    const via = usableVia(link?.via ?? [], this.options.selfAddress);
    try {
      if (target.folder === true) return await this.options.folders.download({ name, id: target.id, size: target.size }, out, options, started, via.usable);
      if (!link) return await this.options.files.byName(name, resolved.idPrefix, target, out, options, started, resolved.entries);
      checkOutputPath(out, options.force === true);
      const holders = linkHolders(this.options.ring, name, target.id, via.usable);
      return await this.options.files.fetchFile({ name, id: target.id, out, holders, announce: true, linkSize: target.size }, options, started);
    } catch (error) {
      if (link && error instanceof ManifestUnavailable) throw linkUnavailable({ name, id: target.id, via, linkDns: link.dns, ownDns: this.options.dns(), cause: error });
      throw error;
    }
  }

  private async resolve(ref: string): Promise<Resolved> {
    if (!looksLikeLink(ref)) return this.resolveName(ref);
    const link = parseLink(ref);
    const target: FileSummary = { name: link.name, size: link.size, id: link.id, holders: link.via.length, ...(link.folder ? { folder: true } : {}) };
    return { name: link.name, idPrefix: link.id, target, pinned: ref.trim(), link: { via: link.via, dns: link.dns } };
  }

  private async resolveName(ref: string): Promise<Resolved> {
    const { name, idPrefix } = parseNameRef(ref);
    checkShareName(name);
    const { file: target, entries } = await this.options.finder.targetWithEntries(name, idPrefix);
    return { name, idPrefix, target, pinned: `${name}@${target.id}`, link: null, entries };
  }
}
