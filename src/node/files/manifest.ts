// A file's manifest: fixed-size chunks, SHA-256 of each, and the file id = SHA-256 of the chunk hashes.

import { open } from "node:fs/promises";
import { P2PError } from "../../protocol/errors";

/** Default chunk size: big enough to stream fast, small enough to spread over several holders. */
export const CHUNK_SIZE = 1024 * 1024;
/** Largest file a manifest may describe (the chunk list must fit in one reply). */
export const MAX_FILE_BYTES = 1024 ** 4; // 1 TiB

export interface Manifest {
  /** SHA-256 of the concatenated binary chunk hashes, hex. */
  fileId: string;
  size: number;
  chunkSize: number;
  /** SHA-256 of each chunk, hex, in order. */
  chunks: string[];
}

/** Hashes a file in one streaming pass; `onProgress` gets bytes hashed so far. */
export async function hashFile(
  path: string,
  options: { chunkSize?: number; onProgress?: (bytes: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<Manifest & { mtimeMs: number }> {
  const chunkSize = options.chunkSize ?? CHUNK_SIZE;
  const handle = await open(path, "r");
  try {
    const before = await handle.stat();
    if (!before.isFile()) throw new P2PError("MALFORMED", `${path} is not a regular file`);
    if (before.size > MAX_FILE_BYTES) throw new P2PError("MALFORMED", `${path} is larger than ${MAX_FILE_BYTES} bytes`);
    const chunks: string[] = [];
    const buffer = Buffer.allocUnsafe(chunkSize);
    let offset = 0;
    while (offset < before.size) {
      if (options.signal?.aborted) throw new P2PError("CLOSED", "hashing was cancelled");
      const want = Math.min(chunkSize, before.size - offset);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      if (bytesRead !== want) throw new P2PError("CONFLICT", `${path} changed while it was being hashed`);
      chunks.push(sha256Hex(buffer.subarray(0, bytesRead)));
      offset += bytesRead;
      options.onProgress?.(offset, before.size);
    }
    const after = await handle.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new P2PError("CONFLICT", `${path} changed while it was being hashed; share it again once it is complete`);
    }
    return { fileId: fileIdOf(chunks), size: before.size, chunkSize, chunks, mtimeMs: before.mtimeMs };
  } finally {
    await handle.close();
  }
}

export function fileIdOf(chunks: readonly string[]): string {
  const hasher = new Bun.CryptoHasher("sha256");
  for (const chunk of chunks) hasher.update(Buffer.from(chunk, "hex"));
  return hasher.digest("hex");
}

export function sha256Hex(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Checks a manifest from a peer against the file id we asked for; nothing in it is trusted otherwise. */
export function checkManifest(value: unknown, fileId: string): Manifest {
  const manifest = value as Partial<Manifest>;
  const ok =
    typeof manifest === "object" &&
    manifest !== null &&
    Number.isSafeInteger(manifest.size) &&
    manifest.size! >= 0 &&
    manifest.size! <= MAX_FILE_BYTES &&
    Number.isSafeInteger(manifest.chunkSize) &&
    manifest.chunkSize! >= 1024 &&
    manifest.chunkSize! <= 8 * CHUNK_SIZE &&
    Array.isArray(manifest.chunks) &&
    manifest.chunks.every((chunk) => typeof chunk === "string" && /^[0-9a-f]{64}$/.test(chunk));
  if (!ok || manifest.chunks!.length !== chunkCount(manifest.size!, manifest.chunkSize!)) {
    throw new P2PError("MALFORMED", "the manifest is malformed");
  }
  if (fileIdOf(manifest.chunks!) !== fileId) throw new P2PError("MALFORMED", "the manifest does not match the file id");
  return { fileId, size: manifest.size!, chunkSize: manifest.chunkSize!, chunks: manifest.chunks! };
}
