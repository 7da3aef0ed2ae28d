// Writes verified chunks around the kernel's page cache (O_DIRECT) where the file system allows it.
//
// The bytes are already in our buffer and hashed; copying each gigabyte into the page cache cost more
// kernel CPU than the hashing itself (1-2 s per GiB on the test VMs, BENCHMARKS.md), and a download of
// gigabytes would push everything else out of the cache. A direct write goes from our buffer to the disk.

import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/** Direct writes must start, end and sit in memory on this boundary (the largest logical block in common use). */
export const DIRECT_WRITE_ALIGNMENT = 4096;

/** What a direct writer needs of its file handle. */
export type DirectHandle = Pick<FileHandle, "write" | "close">;

/**
 * A second handle on a file, for its aligned writes only. Where direct writes are refused (a file
 * system without them, a buffer the kernel finds misaligned, any error), `write` answers false then
 * and from then on, and the caller writes through its ordinary handle: nothing is lost, only the shortcut.
 */
export class DirectWriter {
  private handle: DirectHandle | null;
  private usable = true;

  /** Null where the platform or the file system has no direct writes. */
  static async open(path: string): Promise<DirectWriter | null> {
    if (typeof constants.O_DIRECT !== "number") return null;
    try {
      return new DirectWriter(await open(path, constants.O_WRONLY | constants.O_DIRECT));
    } catch {
      // Refused for any reason (EINVAL on a file system without it, most often): the ordinary handle,
      // already open on the same file, reports whatever is really wrong with it.
      return null;
    }
  }

  /** `handle`: opened with O_DIRECT; `open` is the usual way to get one. */
  constructor(handle: DirectHandle) {
    this.handle = handle;
  }

  /** Writes all of `bytes` at `position` directly; false when it did not, and the caller must write them itself. */
  async write(bytes: Uint8Array, position: number): Promise<boolean> {
    if (!this.usable || this.handle === null || !isAligned(bytes, position)) return false;
    try {
      const { bytesWritten } = await this.handle.write(bytes, 0, bytes.length, position);
      // A short direct write leaves an unaligned rest: the caller writes the whole chunk again, which is harmless.
      return bytesWritten === bytes.length;
    } catch {
      // EINVAL most often: misaligned after all (the kernel checks the buffer's address, which JavaScript
      // cannot see), or a file system that opens with O_DIRECT and then refuses it (EOPNOTSUPP on some FUSE
      // ones). Whatever it was, the caller's ordinary write follows at once and reports a failure that is real.
      this.usable = false;
      return false;
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

function isAligned(bytes: Uint8Array, position: number): boolean {
  return position >= 0 && bytes.length > 0 && bytes.length % DIRECT_WRITE_ALIGNMENT === 0 && bytes.byteOffset % DIRECT_WRITE_ALIGNMENT === 0 && position % DIRECT_WRITE_ALIGNMENT === 0;
}
