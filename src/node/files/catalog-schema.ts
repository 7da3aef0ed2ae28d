// catalog.db's tables, its rows as SQLite returns them, and the checks that a stored manifest still hashes to its id.

import type { Database } from "bun:sqlite";
import { type FolderManifest, folderIdOf } from "../../model/folder";
import { type Manifest, fileIdOf } from "../../model/manifest";

export function folderMatches(json: string, folderId: string): boolean {
  try {
    return folderIdOf(JSON.parse(json) as FolderManifest) === folderId;
  } catch {
    return false;
  }
}

export function manifestMatches(json: string, fileId: string): boolean {
  try {
    const manifest = JSON.parse(json) as Manifest;
    return Array.isArray(manifest.chunks) && fileIdOf(manifest.chunks) === fileId;
  } catch {
    return false;
  }
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS shared (
  file_id    TEXT NOT NULL,
  name       TEXT NOT NULL,
  path       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  mtime_ms   REAL NOT NULL,
  chunk_size INTEGER NOT NULL,
  chunks     TEXT NOT NULL,
  shared_at  INTEGER,
  PRIMARY KEY (file_id, name)
);
CREATE INDEX IF NOT EXISTS shared_path ON shared (path);
CREATE TABLE IF NOT EXISTS folders (
  folder_id  TEXT NOT NULL,
  name       TEXT NOT NULL,
  path       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  manifest   TEXT NOT NULL,
  shared_at  INTEGER,
  PRIMARY KEY (folder_id, name)
);
CREATE TABLE IF NOT EXISTS downloads (
  file_id    TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  part_path  TEXT NOT NULL,
  manifest   TEXT NOT NULL,
  verified   BLOB NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

export interface SharedRow {
  file_id: string;
  name: string;
  path: string;
  size: number;
  mtime_ms: number;
  chunk_size: number;
  chunks: string;
  shared_at: number | null;
}

export interface DownloadRow {
  file_id: string;
  name: string;
  part_path: string;
  manifest: string;
  verified: Uint8Array;
}

export function addColumnIfMissing(db: Database, table: string, column: string, type: string): void {
  const columns = db.query(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
  if (!columns.some((existing) => existing.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
}
