// Hashing a file on disk into its manifest (src/model/manifest.ts), in one streaming pass.

import { open } from "node:fs/promises";
import { P2PError } from "../../protocol/errors";
import { CHUNK_SIZE, fileIdOf, type Manifest, MAX_FILE_BYTES, sha256Hex } from "../../model/manifest";

/** Hashes a file in one streaming pass; `onProgress` gets bytes hashed so far. */
export async function hashFile(
  path: string,
  options: { chunkSize?: number; onProgress?: (bytes: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<Manifest & { mtimeMs: number }> {
  const chunkSize = options.chunkSize ?? CHUNK_SIZE;
  const handle = await open(path, "r");
  try {
    const before = await handle.stat();
    if (!before.isFile()) throw P2PError.notAFile(path);
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
