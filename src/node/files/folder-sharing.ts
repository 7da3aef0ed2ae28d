// Sharing and downloading a folder as one item: its files are catalogued (served by id as any file) but announced only through the folder.

import { existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { DownloadReport, SharedEntry } from "../../wire/control";
import { FILES } from "../../wire/files";
import type { ChordNode } from "../ring/chord";
import type { Peer } from "../../model/peer";
import type { TcpTransport } from "../tcp-transport";
import type { FileSummary } from "../../model/reports";
import { holdersOf } from "./announcements";
import type { CatalogStore, SharedFile, SharedFolder } from "./catalog";
import type { DownloadProgress } from "./download";
import { type FolderEntry, type FolderManifest, folderIdOf } from "../../model/folder";
import { walkFolder } from "./folder";
import { CHUNK_SIZE } from "../../model/manifest";
import { hashFile } from "./manifest";
import { checkShareName } from "../../model/share-name";
import { nameKey } from "./names";
import type { Holder } from "./swarm/file-peers";
import { newDownloadStream } from "./tcp-file-peers";

export type DownloadOptions = { force?: boolean; noShare?: boolean; onProgress?: (progress: DownloadProgress & { name: string; id: string }) => void; signal?: AbortSignal };
/** One file to fetch by id: where from (read again during the download) and whether to announce it under its name. */
export type FetchJob = { name: string; id: string; out: string; holders: () => Promise<Holder[]>; announce: boolean; stream?: string };

/** What of FileSharing the folder paths use. */
export interface FolderHost {
  readonly options: { self: Peer; ring: ChordNode; transport: TcpTransport; catalog: CatalogStore; warn: (message: string) => void };
  markShared(file: SharedFile): void;
  announce(item: { name: string; size: number; folderId: string }, folder: boolean): Promise<void>;
  withdraw(item: { name: string; folderId: string }): Promise<void>;
  fetchFile(job: FetchJob, options: DownloadOptions, started?: number): Promise<DownloadReport>;
}

/** Shares the folder at `absolute`: each file catalogued in place (hashed unless unchanged), the folder announced once. */
export async function shareFolder(
  host: FolderHost,
  absolute: string,
  name: string | undefined,
  onProgress?: (bytes: number, total: number) => void,
  signal?: AbortSignal,
): Promise<FileSummary> {
  const folderName = checkShareName(name ?? basename(absolute));
  const files = stillThere(() => walkFolder(absolute), null, folderName);
  const sizes = files.map((file) => stillThere(() => statSync(file.absolute), file.path, folderName).size);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const entries: FolderEntry[] = [];
  let done = 0;
  for (const file of files) {
    const stat = stillThere(() => statSync(file.absolute), file.path, folderName);
    const known = host.options.catalog.byPath(file.absolute).find((shared) => shared.size === stat.size && shared.mtimeMs === stat.mtimeMs);
    const manifest =
      known ?? (await stillThereAsync(() => hashFile(file.absolute, { onProgress: (bytes) => onProgress?.(done + bytes, total), signal }), file.path, folderName));
    // Catalogued under `<folder>/<path>`, which no announced name can be: served by id, never announced alone.
    host.markShared({ ...manifest, name: `${folderName}/${file.path}`, path: file.absolute, mtimeMs: manifest.mtimeMs });
    entries.push({ path: file.path, size: manifest.size, fileId: manifest.fileId });
    done += manifest.size;
  }
  const manifest: FolderManifest = { entries };
  const folderId = folderIdOf(manifest);
  // The same folder shared before with other contents: its old id is withdrawn, only the new one is announced.
  for (const old of host.options.catalog.allFolders().filter((folder) => folder.path === absolute && folder.name === folderName && folder.folderId !== folderId)) {
    host.options.catalog.unshareFolder(old.folderId, old.name);
    await host.withdraw({ name: old.name, folderId: old.folderId });
  }
  host.options.catalog.shareFolder({ folderId, name: folderName, path: absolute, size: done, manifest });
  await host.announce({ name: folderName, size: done, folderId }, true);
  return { name: folderName, size: done, id: folderId, holders: 1, folder: true, files: entries.length };
}

/** Re-announces a shared folder: walked again (unchanged files are not re-hashed), so a changed one goes out under its new id; a vanished one is unshared. */
export async function refreshFolder(host: FolderHost, folder: SharedFolder): Promise<void> {
  if (!existsSync(folder.path)) {
    host.options.warn(`${folder.path} is gone; no longer sharing the folder ${folder.name}`);
    await unshareFolders(host, [{ id: folder.folderId, name: folder.name }]);
    return;
  }
  await shareFolder(host, folder.path, folder.name);
}

/**
 * A file of a shared folder changed or vanished: the folder is walked and announced again at once
 * (under its new id, the old one withdrawn), rather than at the next re-announce minutes later while
 * downloads of the old id fail. One refresh per folder at a time.
 */
export function refreshFolderOf(host: FolderHost, fileName: string): void {
  const folderName = fileName.slice(0, fileName.indexOf("/"));
  for (const folder of host.options.catalog.allFolders().filter((shared) => shared.name === folderName)) {
    const busy = refreshingFolders.get(host) ?? new Set<string>();
    refreshingFolders.set(host, busy);
    if (busy.has(folder.folderId)) continue;
    busy.add(folder.folderId);
    refreshFolder(host, folder)
      .catch((error) => host.options.warn(`could not re-announce the folder ${folder.name}: ${(error as Error).message}`))
      .finally(() => busy.delete(folder.folderId));
  }
}
const refreshingFolders = new WeakMap<FolderHost, Set<string>>();

/**
 * Where a folder download goes. Running a download again resumes it without --force: the client
 * puts a download inside an --out that is a folder, so the second run of `--out dir` arrives here as
 * `dir/<name>`, and `dir` itself holds the first run's files. Anything else already there is refused.
 */
function folderDestination(catalog: CatalogStore, name: string, out: string, force: boolean): string {
  if (!existsSync(out) && basename(out) === name && resumableFolder(catalog, name, dirname(out))) return dirname(out);
  if (existsSync(out) && !force && !resumableFolder(catalog, name, out)) throw new P2PError("CONFLICT", `${out} already exists; use --force to overwrite it`);
  return out;
}

/** Whether `out` holds an unfinished download of the folder `name` by this node: a .part inside it, or files of it that this node fetched there. */
function resumableFolder(catalog: CatalogStore, name: string, out: string): boolean {
  if (!existsSync(out) || !statSync(out).isDirectory()) return false;
  const root = realpathSync(out);
  if (catalog.downloadsUnder(root).length > 0) return true;
  return catalog.allShared().some((file) => file.name.startsWith(`${name}/`) && file.path.startsWith(root + sep));
}

/** The manifest of a folder this node shares, for GET_FOLDER. */
export function servedFolder(catalog: CatalogStore, folderId: string): FolderManifest {
  const folder = catalog.folder(folderId);
  if (!folder) throw new P2PError("NOT_FOUND", `this node does not share folder ${folderId.slice(0, 12)}`);
  return folder.manifest;
}

/** The folders this node shares, as SHARED lists them (bytes served summed over their files). */
export function sharedFolders(catalog: CatalogStore, servedBytes: (fileId: string) => number): SharedEntry[] {
  return catalog.allFolders().map((folder) => {
    const served = folder.manifest.entries.reduce((sum, entry) => sum + servedBytes(entry.fileId), 0);
    return { name: folder.name, id: folder.folderId, size: folder.size, path: folder.path, since: folder.sharedAt ?? null, servedBytes: served, folder: true };
  });
}

/** Stops sharing these folders: withdrawn from the ring now, their files out of the catalog. */
export async function unshareFolders(host: FolderHost, folders: ReadonlyArray<{ id: string; name: string }>): Promise<void> {
  const { catalog } = host.options;
  for (const folder of folders) {
    catalog.unshareFolder(folder.id, folder.name);
    for (const file of catalog.allShared().filter((shared) => shared.name.startsWith(`${folder.name}/`))) catalog.unshare(file.fileId, file.name);
    await host.withdraw({ name: folder.name, folderId: folder.id });
  }
}

/** Downloads a folder into `out`: its manifest from a holder (checked in full first), then each file by id from the folder's holders. */
export async function downloadFolder(
  host: FolderHost,
  target: { name: string; id: string; size: number },
  out: string,
  options: DownloadOptions,
  started: number,
): Promise<DownloadReport> {
  const { ring, catalog } = host.options;
  out = folderDestination(catalog, target.name, out, options.force === true);
  const holders = async () => holdersOf(await ring.get(nameKey(target.name)), target.id).filter((holder) => !holder.partial);
  const manifest = await fetchFolderManifest(host, target, (await holders()).map((holder) => holder.address));
  const existed = existsSync(out);
  let fetched = 0;
  mkdirSync(out, { recursive: true });
  const root = realpathSync(out);
  const sources = new Set<string>();
  const badSources = new Set<string>();
  let resumedChunks = 0;
  let corruptChunks = 0;
  let done = 0;
  // One set of connections for all the folder's files: a folder of 10,000 small files is not 20,000 connections
  // (and as many handshakes with --key); closed when the folder is done, as a single download's are.
  const stream = newDownloadStream();
  try {
    for (const entry of manifest.entries) {
      const dest = join(root, ...entry.path.split("/"));
      mkdirSync(dirname(dest), { recursive: true });
      // The paths were checked, but a folder already there may hold links: never write through one out of `out`.
      const parent = realpathSync(dirname(dest));
      if (parent !== root && !parent.startsWith(root + sep)) throw new P2PError("MALFORMED", `${entry.path} would be written outside ${out}; refused`);
      // Resuming a folder: a file already fetched whole to this path and not changed since (size and mtime as catalogued)
      // is kept (its chunks count as resumed); anything else is fetched again, a .part resumes (and is checked).
      const onDisk = existsSync(dest) ? statSync(dest) : null;
      if (onDisk && catalog.byFileId(entry.fileId).some((file) => file.path === dest && file.size === onDisk.size && file.mtimeMs === onDisk.mtimeMs) && onDisk.size === entry.size) {
        done += entry.size;
        resumedChunks += Math.ceil(entry.size / CHUNK_SIZE);
        continue;
      }
      const report = await host.fetchFile(
        { name: `${target.name}/${entry.path}`, id: entry.fileId, out: dest, holders, announce: false, stream },
        {
          ...options,
          force: true,
          onProgress: (progress) => options.onProgress?.({ ...progress, bytes: done + progress.bytes, total: target.size, name: target.name, id: target.id }),
        },
      );
      fetched++;
      for (const source of report.sources) sources.add(source);
      for (const source of report.badSources) badSources.add(source);
      resumedChunks += report.resumedChunks;
      corruptChunks += report.corruptChunks ?? 0;
      done += entry.size;
    }
  } finally {
    host.options.transport.closeStream(stream);
  }
  // Complete already: the same answer (and exit code) as downloading a file that is already there.
  if (existed && fetched === 0 && manifest.entries.length > 0 && options.force !== true) {
    throw new P2PError("CONFLICT", `${out} already holds all of folder ${target.name}; use --force to download it again`);
  }
  if (!options.noShare) {
    catalog.shareFolder({ folderId: target.id, name: target.name, path: root, size: done, manifest });
    await host.announce({ name: target.name, size: done, folderId: target.id }, true);
  }
  return {
    name: target.name,
    size: done,
    id: target.id,
    path: root,
    sources: [...sources],
    badSources: [...badSources],
    resumedChunks,
    ...(corruptChunks > 0 ? { corruptChunks } : {}),
    milliseconds: Math.round(performance.now() - started),
    folder: true,
    files: manifest.entries.length,
  };
}

/** A file of the folder that vanished between the walk and its turn (a download renaming its .part): a conflict to retry, not a crash. */
function stillThere<T>(read: () => T, path: string | null, folderName: string): T {
  try {
    return read();
  } catch (error) {
    throw vanished(error, path, folderName);
  }
}

async function stillThereAsync<T>(read: () => Promise<T>, path: string, folderName: string): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw vanished(error, path, folderName);
  }
}

function vanished(error: unknown, path: string | null, folderName: string): unknown {
  const system = error as { code?: string; path?: string };
  if (system.code !== "ENOENT") return error;
  const what = path ?? system.path ?? "a file";
  return new P2PError("CONFLICT", `${what} vanished from ${folderName} while it was being shared; share the folder again once it stops changing`);
}

/** The first manifest a holder sends that checks out; a bad one (a path out of the folder, a wrong hash) is named in the error. */
async function fetchFolderManifest(host: FolderHost, target: { name: string; id: string }, addresses: string[]): Promise<FolderManifest> {
  const failures: string[] = [];
  let refused: P2PError | null = null;
  for (const address of addresses) {
    try {
      if (address === host.options.self.address) return servedFolder(host.options.catalog, target.id);
      return await host.options.transport.send(address, FILES.GET_FOLDER, target.id, { channel: "bulk" });
    } catch (error) {
      if (!(isP2PError(error) || error instanceof SyntaxError)) throw error;
      if (isP2PError(error) && error.code === "MALFORMED") refused = error;
      failures.push(`${address}: ${(error as Error).message}`);
    }
  }
  if (refused) throw new P2PError("MALFORMED", `refused the folder ${target.name}: ${refused.message}; nothing was written`);
  throw new P2PError("UNAVAILABLE", `no reachable holder of folder ${target.name} (${failures.join("; ") || "none announced"})`);
}
