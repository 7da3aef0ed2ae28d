// A file's manifest: fixed-size chunks, SHA-256 of each, and the file id = SHA-256 of the chunk hashes.

import { P2PError } from "../protocol/errors";

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
