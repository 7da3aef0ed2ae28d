// The `.part` file: verified chunks written in any order (directly where they are whole and aligned), read back and renamed into place.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CatalogStore } from "../../../src/node/files/catalog";
import { DIRECT_WRITE_ALIGNMENT, type DirectHandle, DirectWriter } from "../../../src/node/files/direct-write";
import { type Manifest, fileIdOf, sha256Hex } from "../../../src/model/manifest";
import { PartFile } from "../../../src/node/files/part-file";
import { Bitfield } from "../../../src/model/bitfield";
import { tempDir } from "../../helpers/wait";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function workDir(): string {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  return dir.path;
}

/** A file of `size` random bytes cut into `chunkSize` chunks, and its manifest. */
function randomFile(size: number, chunkSize: number): { bytes: Uint8Array<ArrayBuffer>; manifest: Manifest; chunk(index: number): Uint8Array<ArrayBuffer> } {
  const bytes = crypto.getRandomValues(new Uint8Array(size));
  const chunk = (index: number) => bytes.slice(index * chunkSize, Math.min(size, (index + 1) * chunkSize));
  const chunks = Array.from({ length: Math.ceil(size / chunkSize) }, (_, index) => sha256Hex(chunk(index)));
  return { bytes, manifest: { fileId: fileIdOf(chunks), size, chunkSize, chunks }, chunk };
}

describe("PartFile", () => {
  test("chunks written out of order, the last one shorter than a block, read back and finish as the whole file", async () => {
    const dir = workDir();
    const catalog = new CatalogStore(join(dir, "catalog.db"));
    cleanups.push(() => catalog.close());
    const chunkSize = 16 * DIRECT_WRITE_ALIGNMENT;
    const file = randomFile(3 * chunkSize + 1000, chunkSize);
    const out = join(dir, "file.bin");
    const part = await PartFile.open({ outPath: out, name: "file.bin", manifest: file.manifest, catalog });
    cleanups.push(() => part.close());

    for (const index of [3, 1, 0, 2]) await part.write(index, file.chunk(index));
    for (const index of [0, 1, 2, 3]) expect(await part.read(index)).toEqual(file.chunk(index));
    await part.finish(out);

    expect(new Uint8Array(readFileSync(out))).toEqual(file.bytes);
    expect(catalog.download(file.manifest.fileId)).toBeNull();
  });

  test("a folder made at the output path while the download ran is a clear CONFLICT, and the .part keeps every byte", async () => {
    const dir = workDir();
    const catalog = new CatalogStore(join(dir, "catalog.db"));
    cleanups.push(() => catalog.close());
    const chunkSize = 16 * DIRECT_WRITE_ALIGNMENT;
    const file = randomFile(2 * chunkSize, chunkSize);
    const out = join(dir, "taken.bin");
    const part = await PartFile.open({ outPath: out, name: "taken.bin", manifest: file.manifest, catalog });
    await part.write(0, file.chunk(0));
    await part.write(1, file.chunk(1));
    mkdirSync(join(out, "inside"), { recursive: true });
    await expect(part.finish(out)).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("became a folder while the download ran") });
    expect(readFileSync(`${out}.part`).equals(Buffer.from(file.bytes))).toBe(true);
  });

  test("on resume, a verified chunk whose bytes changed on disk is no longer counted as verified; the others are", async () => {
    const dir = workDir();
    const catalog = new CatalogStore(join(dir, "catalog.db"));
    cleanups.push(() => catalog.close());
    const chunkSize = DIRECT_WRITE_ALIGNMENT;
    const file = randomFile(3 * chunkSize + 10, chunkSize);
    const out = join(dir, "resumed.bin");
    const first = await PartFile.open({ outPath: out, name: "resumed.bin", manifest: file.manifest, catalog });
    for (const index of [0, 1, 3]) await first.write(index, file.chunk(index));
    await first.close();
    // One byte flipped inside chunk 1, as a disk or another program might.
    const onDisk = readFileSync(`${out}.part`);
    onDisk[chunkSize + 17]! ^= 0xff;
    writeFileSync(`${out}.part`, onDisk);

    const resumed = await PartFile.open({ outPath: out, name: "resumed.bin", manifest: file.manifest, catalog });
    cleanups.push(() => resumed.close());
    expect(resumed.resumedChunks).toBe(2);
    expect(resumed.corruptChunks).toBe(1);
    expect([...resumed.verified.indices()]).toEqual([0, 3]);
    expect(new Bitfield(4, catalog.download(file.manifest.fileId)!.verified).has(1)).toBe(false);
  });

  test("a chunk written again reads back as the new bytes, not as the old ones the page cache held", async () => {
    const dir = workDir();
    const catalog = new CatalogStore(join(dir, "catalog.db"));
    cleanups.push(() => catalog.close());
    const file = randomFile(2 * DIRECT_WRITE_ALIGNMENT, DIRECT_WRITE_ALIGNMENT);
    const part = await PartFile.open({ outPath: join(dir, "again.bin"), name: "again.bin", manifest: file.manifest, catalog });
    cleanups.push(() => part.close());

    const stale = new Uint8Array(DIRECT_WRITE_ALIGNMENT).fill(7);
    await part.write(0, stale);
    expect(await part.read(0)).toEqual(stale); // now in the page cache, read through the ordinary handle
    await part.write(0, file.chunk(0));
    expect(await part.read(0)).toEqual(file.chunk(0));
  });
});

describe("DirectWriter", () => {
  test("writes a whole, aligned chunk around the page cache and the file holds it", async () => {
    const path = join(workDir(), "direct.bin");
    writeFileSync(path, new Uint8Array(0));
    const writer = await DirectWriter.open(path);
    expect(writer).not.toBeNull(); // every file system this suite runs on (ext4, tmpfs on Linux 6) takes direct writes
    cleanups.push(() => writer!.close());
    const bytes = crypto.getRandomValues(new Uint8Array(4 * DIRECT_WRITE_ALIGNMENT));

    expect(await writer!.write(bytes, DIRECT_WRITE_ALIGNMENT)).toBe(true);
    const onDisk = new Uint8Array(readFileSync(path));
    expect(onDisk.length).toBe(5 * DIRECT_WRITE_ALIGNMENT);
    expect(onDisk.subarray(DIRECT_WRITE_ALIGNMENT)).toEqual(bytes);
  });

  test("declines what is not on the block boundary, and writes nothing of it", async () => {
    const path = join(workDir(), "declined.bin");
    writeFileSync(path, new Uint8Array(0));
    const writer = await DirectWriter.open(path);
    cleanups.push(() => writer?.close());
    const block = new Uint8Array(2 * DIRECT_WRITE_ALIGNMENT).fill(1);

    expect(await writer!.write(block.subarray(0, 1000), 0)).toBe(false); // short length
    expect(await writer!.write(block.subarray(0, DIRECT_WRITE_ALIGNMENT), 512)).toBe(false); // position off the boundary
    expect(await writer!.write(block.subarray(16, 16 + DIRECT_WRITE_ALIGNMENT), 0)).toBe(false); // buffer off the boundary
    expect(readFileSync(path).length).toBe(0);
  });

  test("after a direct write the file system refuses, it and every later one answer false and write nothing", async () => {
    const attempts: number[] = [];
    const refusing = {
      write: async (_bytes: Uint8Array, _offset: number, _length: number, position: number) => {
        attempts.push(position);
        throw Object.assign(new Error("operation not supported"), { code: "EOPNOTSUPP" });
      },
      close: async () => {},
    } as unknown as DirectHandle;
    const writer = new DirectWriter(refusing);
    const block = new Uint8Array(DIRECT_WRITE_ALIGNMENT);

    expect(await writer.write(block, 0)).toBe(false);
    expect(await writer.write(block, DIRECT_WRITE_ALIGNMENT)).toBe(false);
    expect(attempts).toEqual([0]); // the caller writes both itself; the refusing handle is not asked again
    await writer.close();
  });
});
