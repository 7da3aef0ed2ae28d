// The node's catalog.db: the files it shares (served in place) and the verified chunks of downloads under way.

import type { Database, Statement } from "bun:sqlite";
import { damagedDatabase, openDatabase } from "../../sqlite";
import { type DownloadRow, SCHEMA, type SharedRow, addColumnIfMissing, folderMatches, manifestMatches } from "./catalog-schema";
import type { FolderManifest } from "../../model/folder";
import { type Manifest, chunkCount, fileIdOf } from "../../model/manifest";

/** What to do with a catalog.db that is not a database any more, and what that costs. */
const CATALOG_ADVICE =
  "move it aside (rename it) and start the node again: a new, empty catalog is created; share your files again with p2p client upload (downloads under way start over)";

/** A folder shared as one item: its files are in `shared` under `<name>/<path>`, never announced one by one. */
export interface SharedFolder {
  folderId: string;
  name: string;
  path: string;
  size: number;
  manifest: FolderManifest;
  /** When this node first shared it (ms since the epoch); null for folders catalogued before this was recorded. */
  sharedAt?: number | null;
}

export interface SharedFile extends Manifest {
  name: string;
  /** Absolute path the file is served from, in place. */
  path: string;
  mtimeMs: number;
  /** When this node first shared it under this name (ms since the epoch); null for files catalogued before this was recorded. */
  sharedAt?: number | null;
}

/** A catalog entry dropped at start: what to tell the user, and what this node may still have announced of it before. */
export interface DamagedEntry {
  message: string;
  announced: { name: string; fileId?: string; folderId?: string } | null;
}

export interface DownloadState {
  fileId: string;
  name: string;
  partPath: string;
  manifest: Manifest;
  /** One bit per chunk: verified and written to the .part file. */
  verified: Uint8Array;
}

/** Owns one SQLite file: WAL, statements prepared once, writes in synchronous transactions. */
export class CatalogStore {
  private readonly db: Database;
  private readonly path: string;
  private readonly upsertShared: Statement;
  private readonly deleteShared: Statement;
  private readonly selectShared: Statement<SharedRow, [string]>;
  private readonly selectSharedByPath: Statement<SharedRow, [string]>;
  private readonly selectAllShared: Statement<SharedRow, []>;
  private readonly upsertDownload: Statement;
  private readonly updateVerified: Statement;
  private readonly selectDownload: Statement<DownloadRow, [string]>;
  private readonly selectDownloadsUnder: Statement<DownloadRow, [{ folder: string }]>;
  private readonly deleteDownload: Statement;
  /** byFileId runs for every chunk served; the rows only change through share/unshare. */
  private readonly sharedByFileId = new Map<string, SharedFile[]>();

  constructor(path: string) {
    this.path = path;
    this.db = openDatabase(path, SCHEMA, CATALOG_ADVICE);
    // catalog.db files written before `shared_at` existed gain the column; their rows say "unknown" (null).
    for (const table of ["shared", "folders"]) addColumnIfMissing(this.db, table, "shared_at", "INTEGER");
    this.upsertShared = this.db.prepare(
      `INSERT INTO shared (file_id, name, path, size, mtime_ms, chunk_size, chunks, shared_at)
       VALUES ($fileId, $name, $path, $size, $mtimeMs, $chunkSize, $chunks, $sharedAt)
       ON CONFLICT (file_id, name) DO UPDATE SET path = excluded.path, size = excluded.size,
         mtime_ms = excluded.mtime_ms, chunk_size = excluded.chunk_size, chunks = excluded.chunks`,
    );
    this.deleteShared = this.db.prepare("DELETE FROM shared WHERE file_id = $fileId AND name = $name");
    this.selectShared = this.db.prepare("SELECT * FROM shared WHERE file_id = ? ORDER BY name");
    this.selectSharedByPath = this.db.prepare("SELECT * FROM shared WHERE path = ?");
    this.selectAllShared = this.db.prepare("SELECT * FROM shared ORDER BY name");
    this.upsertDownload = this.db.prepare(
      `INSERT INTO downloads (file_id, name, part_path, manifest, verified, updated_at)
       VALUES ($fileId, $name, $partPath, $manifest, $verified, $now)
       ON CONFLICT (file_id) DO UPDATE SET name = excluded.name, part_path = excluded.part_path,
         manifest = excluded.manifest, verified = excluded.verified, updated_at = excluded.updated_at`,
    );
    this.updateVerified = this.db.prepare("UPDATE downloads SET verified = $verified, updated_at = $now WHERE file_id = $fileId");
    this.selectDownload = this.db.prepare("SELECT * FROM downloads WHERE file_id = ?");
    this.selectDownloadsUnder = this.db.prepare("SELECT * FROM downloads WHERE substr(part_path, 1, length($folder) + 1) = $folder || '/'");
    this.deleteDownload = this.db.prepare("DELETE FROM downloads WHERE file_id = ?");
  }

  share(file: SharedFile): void {
    this.sharedByFileId.delete(file.fileId);
    this.upsertShared.run({
      fileId: file.fileId,
      name: file.name,
      path: file.path,
      size: file.size,
      mtimeMs: file.mtimeMs,
      chunkSize: file.chunkSize,
      chunks: file.chunks.join(""),
      sharedAt: Date.now(), // kept by later updates: "since" is when it was first shared
    });
  }

  unshare(fileId: string, name: string): void {
    this.sharedByFileId.delete(fileId);
    this.deleteShared.run({ fileId, name });
  }

  /** The shared entries with this file id (the same bytes may be shared under several names). */
  byFileId(fileId: string): SharedFile[] {
    let files = this.sharedByFileId.get(fileId);
    if (!files) {
      files = this.selectShared.all(fileId).map(fromSharedRow);
      this.sharedByFileId.set(fileId, files);
    }
    return files;
  }

  byPath(path: string): SharedFile[] {
    return this.selectSharedByPath.all(path).map(fromSharedRow);
  }

  allShared(): SharedFile[] {
    return this.selectAllShared.all().map(fromSharedRow);
  }

  startDownload(state: DownloadState): void {
    this.upsertDownload.run({
      fileId: state.fileId,
      name: state.name,
      partPath: state.partPath,
      manifest: JSON.stringify(state.manifest),
      verified: state.verified,
      now: Date.now(),
    });
  }

  /** Records newly verified chunks; one small write, atomic, after the bytes are in the .part file. */
  saveVerified(fileId: string, verified: Uint8Array): void {
    this.updateVerified.run({ fileId, verified, now: Date.now() });
  }

  download(fileId: string): DownloadState | null {
    const row = this.selectDownload.get(fileId);
    if (!row) return null;
    return {
      fileId: row.file_id,
      name: row.name,
      partPath: row.part_path,
      manifest: JSON.parse(row.manifest) as Manifest,
      verified: new Uint8Array(row.verified),
    };
  }

  /** Downloads under way (their .part files) anywhere inside `folder`. */
  downloadsUnder(folder: string): string[] {
    return this.selectDownloadsUnder.all({ folder }).map((row) => row.part_path);
  }

  finishDownload(fileId: string): void {
    this.deleteDownload.run(fileId);
  }

  shareFolder(folder: SharedFolder): void {
    this.db
      .query(
        `INSERT INTO folders (folder_id, name, path, size, manifest, shared_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (folder_id, name) DO UPDATE SET path = excluded.path, size = excluded.size, manifest = excluded.manifest`,
      )
      .run(folder.folderId, folder.name, folder.path, folder.size, JSON.stringify(folder.manifest), Date.now());
  }

  unshareFolder(folderId: string, name: string): void {
    this.db.query("DELETE FROM folders WHERE folder_id = ? AND name = ?").run(folderId, name);
  }

  folder(folderId: string): SharedFolder | null {
    return this.allFolders().find((folder) => folder.folderId === folderId) ?? null;
  }

  allFolders(): SharedFolder[] {
    const rows = this.db.query("SELECT * FROM folders ORDER BY name").all() as Array<{ folder_id: string; name: string; path: string; size: number; manifest: string; shared_at: number | null }>;
    return rows.map((row) => ({ folderId: row.folder_id, name: row.name, path: row.path, size: row.size, manifest: JSON.parse(row.manifest) as FolderManifest, sharedAt: row.shared_at }));
  }

  /**
   * Drops every entry whose stored manifest does not hash to its id (a byte of the file changed under
   * SQLite's feet): served, it would only make downloaders fail with "the manifest does not match".
   * Returns each entry dropped with a line saying what to do, and the announcement to withdraw (none for a download).
   */
  dropDamaged(): DamagedEntry[] {
    try {
      return this.dropDamagedEntries();
    } catch (error) {
      throw damagedDatabase(error, this.path, CATALOG_ADVICE) ?? error;
    }
  }

  private dropDamagedEntries(): DamagedEntry[] {
    const dropped: DamagedEntry[] = [];
    for (const file of this.allShared()) {
      if (chunkCount(file.size, file.chunkSize) === file.chunks.length && fileIdOf(file.chunks) === file.fileId) continue;
      this.unshare(file.fileId, file.name);
      const message = `catalog.db is damaged: its entry for ${file.name} (${file.path}) does not match its file id; no longer sharing it; share it again with: p2p client upload ${file.path}`;
      // A folder's file is announced only through its folder.
      dropped.push({ message, announced: file.name.includes("/") ? null : { name: file.name, fileId: file.fileId } });
    }
    const folders = this.db.query("SELECT folder_id, name, path, manifest FROM folders").all() as Array<{ folder_id: string; name: string; path: string; manifest: string }>;
    for (const row of folders) {
      if (folderMatches(row.manifest, row.folder_id)) continue;
      this.unshareFolder(row.folder_id, row.name);
      const message = `catalog.db is damaged: its entry for the folder ${row.name} (${row.path}) does not match its id; no longer sharing it; share it again with: p2p client upload ${row.path}`;
      dropped.push({ message, announced: { name: row.name, folderId: row.folder_id } });
    }
    const downloads = this.db.query("SELECT file_id, name, part_path, manifest FROM downloads").all() as Array<{ file_id: string; name: string; part_path: string; manifest: string }>;
    for (const row of downloads) {
      if (manifestMatches(row.manifest, row.file_id)) continue;
      this.finishDownload(row.file_id);
      dropped.push({ message: `catalog.db is damaged: its record of the download of ${row.name} (${row.part_path}) does not match its file id; that download starts over`, announced: null });
    }
    return dropped;
  }

  close(): void {
    this.db.close();
  }
}

function fromSharedRow(row: SharedRow): SharedFile {
  return {
    fileId: row.file_id,
    name: row.name,
    path: row.path,
    size: row.size,
    mtimeMs: row.mtime_ms,
    chunkSize: row.chunk_size,
    chunks: row.chunks.match(/.{64}/g) ?? [],
    sharedAt: row.shared_at,
  };
}
