// Downloading a folder: its manifest from a holder (checked in full before anything is written), then each of its files by id from the folder's holders.

import { existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { DownloadReport } from "../../wire/control";
import { holdersOf } from "./announcements";
import type { Announcer } from "./announcer";
import type { DownloadOptions, FetchJob } from "./file-download";
import type { FolderEntry, FolderManifest } from "../../model/folder";
import { CHUNK_SIZE } from "../../model/manifest";
import { nameKey } from "./names";
import type { FileCatalog, FileLinks, FileRecords } from "./ports";
import type { Holder } from "./swarm/file-peers";

export interface FolderDownloadsOptions {
  selfAddress: string;
  ring: FileRecords;
  links: FileLinks;
  catalog: FileCatalog;
  announcer: Announcer;
  /** Fetches one file of the folder (`FileDownloads.fetchFile`). */
  fetchFile: (job: FetchJob, options: DownloadOptions) => Promise<DownloadReport>;
  /** A folder this node shares itself, for when it is one of the holders. */
  servedFolder: (folderId: string) => FolderManifest;
}

type Target = { name: string; id: string; size: number };
/** What the files fetched so far add up to. */
type Tally = { fetched: number; done: number; resumedChunks: number; corruptChunks: number; sources: Set<string>; badSources: Set<string> };

export class FolderDownloads {
  private readonly options: FolderDownloadsOptions;

  constructor(options: FolderDownloadsOptions) {
    this.options = options;
  }

  /** Downloads the folder `target` into `out`, resuming what an earlier run left there; `via`: holders a link named, asked besides the ring's. */
  async download(target: Target, out: string, options: DownloadOptions, started: number, via: readonly Holder[] = []): Promise<DownloadReport> {
    const { ring, catalog, links } = this.options;
    out = folderDestination(catalog, target.name, out, options.force === true);
    const holders = async () => {
      const announced = holdersOf(await ring.get(nameKey(target.name)), target.id).filter((holder) => !holder.partial);
      return [...announced, ...via.filter((holder) => !announced.some((known) => known.address === holder.address)).map((holder) => ({ address: holder.address, partial: false }))];
    };
    const manifest = await this.fetchManifest(target, (await holders()).map((holder) => holder.address));
    const existed = existsSync(out);
    mkdirSync(out, { recursive: true });
    const root = realpathSync(out);
    const tally: Tally = { fetched: 0, done: 0, resumedChunks: 0, corruptChunks: 0, sources: new Set(), badSources: new Set() };
    // One set of connections for all the folder's files: a folder of 10,000 small files is not 20,000 connections
    // (and as many handshakes with --key); closed when the folder is done, as a single download's are.
    const stream = links.newStream();
    try {
      for (const entry of manifest.entries) await this.fetchEntry(target, entry, { root, out, holders, stream, options, tally });
    } finally {
      links.closeStream(stream);
    }
    // Complete already: the same answer (and exit code) as downloading a file that is already there.
    if (existed && tally.fetched === 0 && manifest.entries.length > 0 && options.force !== true) {
      throw new P2PError("CONFLICT", `${out} already holds all of folder ${target.name}; use --force to download it again`);
    }
    if (!options.noShare) {
      catalog.shareFolder({ folderId: target.id, name: target.name, path: root, size: tally.done, manifest });
      await this.options.announcer.announce({ name: target.name, size: tally.done, folderId: target.id }, true);
    }
    return {
      name: target.name,
      size: tally.done,
      id: target.id,
      path: root,
      sources: [...tally.sources],
      badSources: [...tally.badSources],
      resumedChunks: tally.resumedChunks,
      ...(tally.corruptChunks > 0 ? { corruptChunks: tally.corruptChunks } : {}),
      milliseconds: Math.round(performance.now() - started),
      folder: true,
      files: manifest.entries.length,
    };
  }

  /** One file of the folder into its place under `root`: kept if already there whole, else fetched (a .part resumes). */
  private async fetchEntry(
    target: Target,
    entry: FolderEntry,
    run: { root: string; out: string; holders: () => Promise<Holder[]>; stream: string; options: DownloadOptions; tally: Tally },
  ): Promise<void> {
    const { root, tally, options } = run;
    const dest = join(root, ...entry.path.split("/"));
    mkdirSync(dirname(dest), { recursive: true });
    // The paths were checked, but a folder already there may hold links: never write through one out of `out`.
    const parent = realpathSync(dirname(dest));
    if (parent !== root && !parent.startsWith(root + sep)) throw new P2PError("MALFORMED", `${entry.path} would be written outside ${run.out}; refused`);
    // Resuming a folder: a file already fetched whole to this path and not changed since (size and mtime as catalogued)
    // is kept (its chunks count as resumed); anything else is fetched again, a .part resumes (and is checked).
    const onDisk = existsSync(dest) ? statSync(dest) : null;
    if (onDisk && this.options.catalog.byFileId(entry.fileId).some((file) => file.path === dest && file.size === onDisk.size && file.mtimeMs === onDisk.mtimeMs) && onDisk.size === entry.size) {
      tally.done += entry.size;
      tally.resumedChunks += Math.ceil(entry.size / CHUNK_SIZE);
      return;
    }
    const before = tally.done;
    const report = await this.options.fetchFile(
      { name: `${target.name}/${entry.path}`, id: entry.fileId, out: dest, holders: run.holders, announce: false, stream: run.stream },
      {
        ...options,
        force: true,
        onProgress: (progress) => options.onProgress?.({ ...progress, bytes: before + progress.bytes, total: target.size, name: target.name, id: target.id }),
      },
    );
    tally.fetched++;
    for (const source of report.sources) tally.sources.add(source);
    for (const source of report.badSources) tally.badSources.add(source);
    tally.resumedChunks += report.resumedChunks;
    tally.corruptChunks += report.corruptChunks ?? 0;
    tally.done += entry.size;
  }

  /** The first manifest a holder sends that checks out; a bad one (a path out of the folder, a wrong hash) is named in the error. */
  private async fetchManifest(target: { name: string; id: string }, addresses: string[]): Promise<FolderManifest> {
    const failures: string[] = [];
    let refused: P2PError | null = null;
    for (const address of addresses) {
      try {
        if (address === this.options.selfAddress) return this.options.servedFolder(target.id);
        return await this.options.links.folder(address, target.id);
      } catch (error) {
        if (!(isP2PError(error) || error instanceof SyntaxError)) throw error;
        if (isP2PError(error) && error.code === "MALFORMED") refused = error;
        failures.push(`${address}: ${(error as Error).message}`);
      }
    }
    if (refused) throw new P2PError("MALFORMED", `refused the folder ${target.name}: ${refused.message}; nothing was written`);
    throw new P2PError("UNAVAILABLE", `no reachable holder of folder ${target.name} (${failures.join("; ") || "none announced"})`);
  }
}

/**
 * Where a folder download goes. Running a download again resumes it without --force: the client
 * puts a download inside an --out that is a folder, so the second run of `--out dir` arrives here as
 * `dir/<name>`, and `dir` itself holds the first run's files. Anything else already there is refused, and a file always.
 */
function folderDestination(catalog: FileCatalog, name: string, out: string, force: boolean): string {
  if (existsSync(out) && !statSync(out).isDirectory()) {
    throw new P2PError("CONFLICT", `${out} is a file; a folder download never replaces a file: choose another --out (or end it with / to save inside it)`);
  }
  if (!existsSync(out) && basename(out) === name && resumableFolder(catalog, name, dirname(out))) return dirname(out);
  if (existsSync(out) && !force && !resumableFolder(catalog, name, out)) throw P2PError.alreadyExists(out);
  return out;
}

/** Whether `out` holds an unfinished download of the folder `name` by this node: a .part inside it, or files of it that this node fetched there. */
function resumableFolder(catalog: FileCatalog, name: string, out: string): boolean {
  if (!existsSync(out) || !statSync(out).isDirectory()) return false;
  const root = realpathSync(out);
  if (catalog.downloadsUnder(root).length > 0) return true;
  return catalog.allShared().some((file) => file.name.startsWith(`${name}/`) && file.path.startsWith(root + sep));
}
