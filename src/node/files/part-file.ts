// A download's `<out>.part` file and its record of verified chunks: written in place, resumable, renamed into place when whole.

import { existsSync, statSync } from "node:fs";
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { P2PError } from "../../protocol/errors";
import type { CatalogStore } from "./catalog";
import { DirectWriter } from "./direct-write";
import { type Manifest, sha256Hex } from "../../model/manifest";
import type { DownloadPart, PartFiles } from "./ports";
import { Bitfield } from "../../model/bitfield";

/** Part files on disk, their records in `catalog`. */
export function partFilesIn(catalog: CatalogStore): PartFiles {
  return { open: (options) => PartFile.open({ ...options, catalog }) };
}

/**
 * Owns one `.part` file. A chunk counts as verified only once its bytes are written, and the
 * record of it is one small SQLite write: a node killed at any moment resumes from what is on disk.
 * On resume every chunk recorded as verified is hashed again from the file (anything may have
 * written to it in between); those that no longer match are fetched again.
 */
export class PartFile implements DownloadPart {
  readonly path: string;
  readonly manifest: Manifest;
  /** Chunks verified and on disk. */
  readonly verified: Bitfield;
  /** Chunks that were already on disk, and still matched their hashes, when this download started. */
  readonly resumedChunks: number;
  /** Chunks recorded as verified by an earlier attempt whose bytes on disk no longer matched: fetched again. */
  readonly corruptChunks: number;
  private readonly handle: FileHandle;
  /** Whole chunks go through this one where the file system takes direct writes. */
  private readonly direct: DirectWriter | null;
  private readonly catalog: CatalogStore;
  private closed = false;

  /** Opens `<outPath>.part`, resuming from it if the catalog says an earlier attempt left verified chunks there. */
  static async open(options: { outPath: string; name: string; manifest: Manifest; catalog: CatalogStore }): Promise<PartFile> {
    const { manifest, catalog } = options;
    const path = `${options.outPath}.part`;
    const saved = catalog.download(manifest.fileId);
    const resuming = saved !== null && saved.partPath === path && existsSync(path);
    const verified = new Bitfield(manifest.chunks.length, resuming ? saved.verified : undefined);
    let handle: FileHandle;
    try {
      // Read and write: verified chunks are served to other downloaders while this one goes on.
      handle = await open(path, resuming ? "r+" : "w+", 0o644);
    } catch (error) {
      throw diskError(error, path);
    }
    let corrupt = 0;
    try {
      corrupt = await recheck(handle, manifest, verified);
    } catch (error) {
      await handle.close();
      throw diskError(error, path);
    }
    const direct = await DirectWriter.open(path);
    catalog.startDownload({ fileId: manifest.fileId, name: options.name, partPath: path, manifest, verified: verified.bytes });
    return new PartFile(path, manifest, verified, corrupt, handle, direct, catalog);
  }

  private constructor(path: string, manifest: Manifest, verified: Bitfield, corrupt: number, handle: FileHandle, direct: DirectWriter | null, catalog: CatalogStore) {
    this.path = path;
    this.manifest = manifest;
    this.verified = verified;
    this.resumedChunks = verified.count();
    this.corruptChunks = corrupt;
    this.handle = handle;
    this.direct = direct;
    this.catalog = catalog;
  }

  /** Writes a verified chunk at its place, then records it as verified. */
  async write(index: number, bytes: Uint8Array): Promise<void> {
    const position = index * this.manifest.chunkSize;
    try {
      if (!(await this.direct?.write(bytes, position))) await writeAll(this.handle, bytes, position);
    } catch (error) {
      throw diskError(error, this.path);
    }
    this.verified.set(index);
    this.catalog.saveVerified(this.manifest.fileId, this.verified.bytes);
  }

  /** Reads a verified chunk back (to serve it to other downloaders). */
  async read(index: number): Promise<Uint8Array> {
    if (!this.verified.has(index)) throw new P2PError("NOT_YET", `chunk ${index} of ${this.manifest.fileId.slice(0, 12)} is not here yet`);
    const length = chunkLength(this.manifest, index);
    const bytes = new Uint8Array(length);
    let bytesRead: number;
    try {
      if (this.closed) throw new Error("closed");
      ({ bytesRead } = await this.handle.read(bytes, 0, length, index * this.manifest.chunkSize));
    } catch (error) {
      // The download just finished (or stopped): the file is being renamed into place and shared whole.
      if (this.closed) throw new P2PError("NOT_YET", `${this.manifest.fileId.slice(0, 12)} is moving into place; ask again`);
      throw error;
    }
    if (bytesRead !== length) throw new P2PError("ERROR", `${this.path} is shorter than its verified chunks say`);
    return bytes;
  }

  /** fsync, then rename into place: a finished file is never half there. */
  async finish(outPath: string): Promise<void> {
    try {
      await this.handle.sync();
      await this.close();
      await rename(this.path, outPath);
    } catch (error) {
      throw diskError(error, this.path);
    }
    this.catalog.finishDownload(this.manifest.fileId);
  }

  /** After a failed attempt: a .part that holds no verified chunk is not worth keeping, and neither is its record. */
  async discardIfEmpty(): Promise<void> {
    if (this.verified.count() > 0) return;
    await this.close();
    this.catalog.finishDownload(this.manifest.fileId);
    await rm(this.path, { force: true });
  }

  /** Closes the file, keeping it and its verified chunks for a later resume. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.handle.close(), this.direct?.close()]);
  }
}

export function chunkLength(manifest: Manifest, index: number): number {
  return Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
}

/**
 * Hashes every chunk `verified` claims, from the file, and clears those that do not match (a byte
 * flipped on disk, the file truncated or written by something else). Returns how many were cleared.
 * One chunk-sized buffer, read in order: about as fast as the disk reads (figures in BENCHMARKS.md).
 */
async function recheck(handle: FileHandle, manifest: Manifest, verified: Bitfield): Promise<number> {
  if (verified.count() === 0) return 0;
  const buffer = Buffer.allocUnsafe(manifest.chunkSize);
  let corrupt = 0;
  for (const index of verified.indices()) {
    const length = chunkLength(manifest, index);
    const { bytesRead } = await handle.read(buffer, 0, length, index * manifest.chunkSize);
    if (bytesRead === length && sha256Hex(buffer.subarray(0, length)) === manifest.chunks[index]) continue;
    verified.clear(index);
    corrupt++;
  }
  return corrupt;
}

/** A write can be short (a full disk, a signal): the rest is written until none is left or the disk says why not. */
async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error("no bytes written"), { code: "ENOSPC" });
    done += bytesWritten;
  }
}

/** File-system failures as errors a user can act on, naming the output file the user chose (not its .part). */
function diskError(error: unknown, partPath: string): unknown {
  const path = partPath.replace(/\.part$/, "");
  const code = (error as { code?: string }).code;
  if (code === "ENOSPC") return new P2PError("ERROR", `disk full while writing ${path}; free some space and run the download again to resume`);
  if (code === "EACCES" || code === "EPERM") return new P2PError("ERROR", `no permission to write ${path}`);
  // Checked free when the download began; something made a folder there (or a file on the way) while it ran.
  if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") return new P2PError("CONFLICT", `${path} became a folder while the download ran; its bytes are kept in ${partPath}: move the folder away and run the download again`);
  if (code === "ENOTDIR") return new P2PError("CONFLICT", `a folder on the way to ${path} became a file while the download ran; its bytes are kept in ${partPath}`);
  if (code === "ENOENT") {
    const folder = dirname(path);
    if (existsSync(folder)) return new P2PError("ERROR", `cannot create ${path}: ${folder} does not take new files`);
    return P2PError.missingFolder(folder);
  }
  return error;
}

/** A file download may write `out`: nothing is there, or a file that `force` lets it replace; never a folder. */
export function checkOutputPath(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (statSync(out).isDirectory()) throw new P2PError("CONFLICT", `${out} is a folder; a download never replaces a folder: choose another --out (or end it with / to save inside it)`);
  if (!force) throw P2PError.alreadyExists(out);
}
