// Sharing single files: hashed and catalogued in place, announced, and kept true to what is on disk (changed: re-hashed; gone: withdrawn).

import { basename } from "node:path";
import { statSync } from "node:fs";
import type { FileSummary } from "../../model/reports";
import type { Announcer } from "./announcer";
import type { SharedFile } from "./catalog";
import type { FolderShares } from "./folder-shares";
import type { Manifest } from "../../model/manifest";
import { hashFile } from "./manifest";
import { checkShareName } from "../../model/share-name";
import { statOrThrow } from "./not-found";
import type { FileCatalog } from "./ports";

export class FileShares {
  private readonly catalog: FileCatalog;
  private readonly announcer: Announcer;
  /** A file of a shared folder that changed is announced again through its folder. */
  private readonly folders: FolderShares;
  private readonly warn: (message: string) => void;
  /** Files being re-hashed after a request found them changed: one at a time each. */
  private readonly refreshing = new Set<string>();

  constructor(options: { catalog: FileCatalog; announcer: Announcer; folders: FolderShares; warn: (message: string) => void }) {
    this.catalog = options.catalog;
    this.announcer = options.announcer;
    this.folders = options.folders;
    this.warn = options.warn;
  }

  /** Shares the file at `absolute` in place: hashes it (unless unchanged since last time), catalogs and announces it. */
  async share(absolute: string, name: string | undefined, onProgress?: (bytes: number, total: number) => void, signal?: AbortSignal): Promise<FileSummary> {
    const shareName = checkShareName(name ?? basename(absolute));
    const stat = statOrThrow(absolute);
    const known = this.catalog.byPath(absolute).find((file) => file.size === stat.size && file.mtimeMs === stat.mtimeMs);
    const manifest: Manifest & { mtimeMs: number } = known ?? (await hashFile(absolute, { onProgress, signal }));
    const file: SharedFile = { ...manifest, name: shareName, path: absolute, mtimeMs: manifest.mtimeMs };
    this.catalog.share(file);
    await this.announcer.announce(file);
    return { name: shareName, size: file.size, id: file.fileId, holders: 1 };
  }

  /** Announces a shared file again, or, changed or gone on disk, re-hashes or withdraws it. */
  async refresh(file: SharedFile): Promise<void> {
    // refreshAll walks a list read before it started: a file unshared since then is not announced again.
    if (!this.catalog.byFileId(file.fileId).some((shared) => shared.name === file.name)) return;
    const stat = statOrNull(file.path);
    // A file of a shared folder is announced through its folder: changed or gone, it is simply no longer served.
    if (file.name.includes("/") && (stat === null || stat.size !== file.size || stat.mtimeMs !== file.mtimeMs)) {
      this.warn(`${file.path} changed or is gone; no longer serving it as ${file.name}; announcing its folder again`);
      this.catalog.unshare(file.fileId, file.name);
      return this.folders.refreshFolderOf(file.name);
    }
    if (file.name.includes("/")) return;
    if (stat === null) {
      this.warn(`${file.path} is gone; no longer sharing ${file.name}`);
      this.catalog.unshare(file.fileId, file.name);
      await this.announcer.withdraw(file);
      return;
    }
    if (stat.size !== file.size || stat.mtimeMs !== file.mtimeMs) {
      this.warn(`${file.path} changed on disk; re-hashing ${file.name}`);
      this.catalog.unshare(file.fileId, file.name);
      await this.announcer.withdraw(file);
      // Replaced by a folder of the same name: shared as a folder, as an upload of that path would.
      if (statSync(file.path).isDirectory()) await this.folders.share(file.path, file.name);
      else await this.share(file.path, file.name);
      return;
    }
    await this.announcer.announce(file);
  }

  /** A shared file whose bytes are unchanged; a changed one is re-hashed in the background, never served as the old file. */
  servable(fileId: string): SharedFile | null {
    for (const file of this.catalog.byFileId(fileId)) {
      const stat = statOrNull(file.path);
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
      .catch((error) => this.warn(`could not refresh ${file.name}: ${(error as Error).message}`))
      .finally(() => this.refreshing.delete(key));
  }
}

function statOrNull(path: string): { size: number; mtimeMs: number } | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
