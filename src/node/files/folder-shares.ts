// Sharing a folder as one item: its files are catalogued (served by id as any file) but announced only through the folder.

import { existsSync, statSync } from "node:fs";
import { basename } from "node:path";
import { P2PError } from "../../protocol/errors";
import type { SharedEntry } from "../../wire/control";
import type { FileSummary } from "../../model/reports";
import type { Announcer } from "./announcer";
import type { SharedFolder } from "./catalog";
import { type FolderEntry, type FolderManifest, folderIdOf } from "../../model/folder";
import { walkFolder } from "./folder";
import { hashFile } from "./manifest";
import { checkShareName } from "../../model/share-name";
import type { FileCatalog } from "./ports";

export class FolderShares {
  private readonly catalog: FileCatalog;
  private readonly announcer: Announcer;
  private readonly warn: (message: string) => void;
  /** Folders being walked again after one of their files changed: one refresh per folder at a time. */
  private readonly refreshing = new Set<string>();

  constructor(options: { catalog: FileCatalog; announcer: Announcer; warn: (message: string) => void }) {
    this.catalog = options.catalog;
    this.announcer = options.announcer;
    this.warn = options.warn;
  }

  /** Shares the folder at `absolute`: each file catalogued in place (hashed unless unchanged), the folder announced once. */
  async share(absolute: string, name: string | undefined, onProgress?: (bytes: number, total: number) => void, signal?: AbortSignal): Promise<FileSummary> {
    const folderName = checkShareName(name ?? basename(absolute));
    const files = stillThere(() => walkFolder(absolute), null, folderName);
    const sizes = files.map((file) => stillThere(() => statSync(file.absolute), file.path, folderName).size);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    const entries: FolderEntry[] = [];
    let done = 0;
    for (const file of files) {
      const stat = stillThere(() => statSync(file.absolute), file.path, folderName);
      const known = this.catalog.byPath(file.absolute).find((shared) => shared.size === stat.size && shared.mtimeMs === stat.mtimeMs);
      const manifest =
        known ?? (await stillThereAsync(() => hashFile(file.absolute, { onProgress: (bytes) => onProgress?.(done + bytes, total), signal }), file.path, folderName));
      // Catalogued under `<folder>/<path>`, which no announced name can be: served by id, never announced alone.
      this.catalog.share({ ...manifest, name: `${folderName}/${file.path}`, path: file.absolute, mtimeMs: manifest.mtimeMs });
      entries.push({ path: file.path, size: manifest.size, fileId: manifest.fileId });
      done += manifest.size;
    }
    const manifest: FolderManifest = { entries };
    const folderId = folderIdOf(manifest);
    // The same folder shared before with other contents: its old id is withdrawn, only the new one is announced.
    for (const old of this.catalog.allFolders().filter((folder) => folder.path === absolute && folder.name === folderName && folder.folderId !== folderId)) {
      this.catalog.unshareFolder(old.folderId, old.name);
      await this.announcer.withdraw({ name: old.name, folderId: old.folderId });
    }
    this.catalog.shareFolder({ folderId, name: folderName, path: absolute, size: done, manifest });
    await this.announcer.announce({ name: folderName, size: done, folderId }, true);
    return { name: folderName, size: done, id: folderId, holders: 1, folder: true, files: entries.length };
  }

  /** Re-announces a shared folder: walked again (unchanged files are not re-hashed), so a changed one goes out under its new id; a vanished one is unshared. */
  async refresh(folder: SharedFolder): Promise<void> {
    if (!existsSync(folder.path)) {
      this.warn(`${folder.path} is gone; no longer sharing the folder ${folder.name}`);
      await this.unshare([{ id: folder.folderId, name: folder.name }]);
      return;
    }
    await this.share(folder.path, folder.name);
  }

  /**
   * A file of a shared folder changed or vanished: the folder is walked and announced again at once
   * (under its new id, the old one withdrawn), rather than at the next re-announce minutes later while
   * downloads of the old id fail.
   */
  refreshFolderOf(fileName: string): void {
    const folderName = fileName.slice(0, fileName.indexOf("/"));
    for (const folder of this.catalog.allFolders().filter((shared) => shared.name === folderName)) {
      if (this.refreshing.has(folder.folderId)) continue;
      this.refreshing.add(folder.folderId);
      this.refresh(folder)
        .catch((error) => this.warn(`could not re-announce the folder ${folder.name}: ${(error as Error).message}`))
        .finally(() => this.refreshing.delete(folder.folderId));
    }
  }

  /** Stops sharing these folders: withdrawn from the ring now, their files out of the catalog. */
  async unshare(folders: ReadonlyArray<{ id: string; name: string }>): Promise<void> {
    for (const folder of folders) {
      this.catalog.unshareFolder(folder.id, folder.name);
      for (const file of this.catalog.allShared().filter((shared) => shared.name.startsWith(`${folder.name}/`))) this.catalog.unshare(file.fileId, file.name);
      await this.announcer.withdraw({ name: folder.name, folderId: folder.id });
    }
  }

  /** The manifest of a folder this node shares, for GET_FOLDER. */
  served(folderId: string): FolderManifest {
    const folder = this.catalog.folder(folderId);
    if (!folder) throw new P2PError("NOT_FOUND", `this node does not share folder ${folderId.slice(0, 12)}`);
    return folder.manifest;
  }

  /** The folders this node shares, as SHARED lists them (bytes served summed over their files). */
  list(servedBytes: (fileId: string) => number): SharedEntry[] {
    return this.catalog.allFolders().map((folder) => {
      const served = folder.manifest.entries.reduce((sum, entry) => sum + servedBytes(entry.fileId), 0);
      return { name: folder.name, id: folder.folderId, size: folder.size, path: folder.path, since: folder.sharedAt ?? null, servedBytes: served, folder: true };
    });
  }
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
