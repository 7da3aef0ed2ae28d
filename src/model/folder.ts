// Shared folders: the folder manifest (its files' paths, sizes and ids), its id, and the checks on every path in it.

import { createHash } from "node:crypto";
import { P2PError } from "../protocol/errors";
import { checkShareName } from "./share-name";

/** Most files in one shared folder. */
export const MAX_FOLDER_ENTRIES = 10_000;
/** Deepest nesting of a path inside a shared folder (components, the file's own name included). */
export const MAX_FOLDER_DEPTH = 32;
/** Longest path inside a shared folder, in UTF-8 bytes (a common file-system limit). */
export const MAX_FOLDER_PATH_BYTES = 4096;

export interface FolderEntry {
  /** Relative, '/'-separated, each component a valid share name. */
  path: string;
  size: number;
  fileId: string;
}

export interface FolderManifest {
  entries: FolderEntry[];
}

/** SHA-256 of the manifest's canonical JSON (entries sorted by path, keys in the order path, size, fileId). */
export function folderIdOf(manifest: FolderManifest): string {
  return createHash("sha256").update(canonicalFolderJson(manifest)).digest("hex");
}

export function canonicalFolderJson(manifest: FolderManifest): string {
  const entries = [...manifest.entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((entry) => ({ path: entry.path, size: entry.size, fileId: entry.fileId }));
  return JSON.stringify({ entries });
}

/** A path inside a folder as a downloader accepts it: relative, no '..', no control characters, each component a share name. */
export function checkFolderPath(path: unknown): string {
  if (typeof path !== "string" || path.length === 0) throw new P2PError("MALFORMED", "a folder entry has no path");
  const shown = JSON.stringify(path.slice(0, 80));
  if (new TextEncoder().encode(path).length > MAX_FOLDER_PATH_BYTES) throw new P2PError("MALFORMED", `folder path ${shown} is over ${MAX_FOLDER_PATH_BYTES} bytes`);
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) throw new P2PError("MALFORMED", `folder path ${shown} is absolute; refused`);
  const parts = path.split("/");
  if (parts.length > MAX_FOLDER_DEPTH) throw new P2PError("MALFORMED", `folder path ${shown} is deeper than ${MAX_FOLDER_DEPTH} levels`);
  for (const part of parts) {
    if (part === "..") throw new P2PError("MALFORMED", `folder path ${shown} climbs out with '..'; refused`);
    try {
      checkShareName(part);
    } catch (error) {
      throw new P2PError("MALFORMED", `folder path ${shown} is refused: ${(error as Error).message}`);
    }
  }
  return path;
}

/** A folder manifest from a peer, checked in full (id, paths, sizes, ids, limits) before anything is written. */
export function checkFolderManifest(value: unknown, folderId: string): FolderManifest {
  const entries = (value as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) throw new P2PError("MALFORMED", "the folder manifest has no entry list");
  if (entries.length > MAX_FOLDER_ENTRIES) throw new P2PError("MALFORMED", `the folder manifest has ${entries.length} entries, over ${MAX_FOLDER_ENTRIES}`);
  const seen = new Set<string>();
  const checked: FolderEntry[] = [];
  for (const entry of entries as Array<Partial<FolderEntry>>) {
    const path = checkFolderPath(entry?.path);
    if (!Number.isSafeInteger(entry.size) || (entry.size as number) < 0) throw new P2PError("MALFORMED", `folder entry ${JSON.stringify(path)} has no valid size`);
    if (typeof entry.fileId !== "string" || !/^[0-9a-f]{64}$/.test(entry.fileId)) throw new P2PError("MALFORMED", `folder entry ${JSON.stringify(path)} has no valid file id`);
    // A path that is also a folder of another (a and a/b) or twice the same cannot both be written.
    if (seen.has(path)) throw new P2PError("MALFORMED", `folder path ${JSON.stringify(path)} appears twice`);
    seen.add(path);
    checked.push({ path, size: entry.size as number, fileId: entry.fileId });
  }
  for (const path of seen) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (seen.has(parts.slice(0, i).join("/"))) throw new P2PError("MALFORMED", `folder path ${JSON.stringify(path)} is inside a file of the same folder`);
    }
  }
  const manifest = { entries: checked };
  if (folderIdOf(manifest) !== folderId) throw new P2PError("MALFORMED", `the folder manifest does not hash to ${folderId.slice(0, 12)}`);
  return manifest;
}
