// The holder's side of GET_CHUNK and GET_ANY_CHUNK: what it counts as sent, and what it then chooses.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SharedFile } from "../../../src/node/files/catalog";
import { ChunkServer } from "../../../src/node/files/chunk-server";
import { sha256Hex } from "../../../src/model/manifest";
import { RateLimiter } from "../../../src/node/files/rate-limiter";
import { Bitfield } from "../../../src/model/bitfield";

const dir = mkdtempSync(join(tmpdir(), "p2p-chunk-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A shared file of `chunks` chunks of 4 bytes. */
function sharedFile(name: string, chunks: number): SharedFile {
  const path = join(dir, name);
  const bytes = new Uint8Array(chunks * 4).map((_, at) => at);
  writeFileSync(path, bytes);
  const hashes = Array.from({ length: chunks }, (_, index) => sha256Hex(bytes.subarray(index * 4, index * 4 + 4)));
  return { fileId: sha256Hex(new TextEncoder().encode(name)), size: bytes.length, chunkSize: 4, chunks: hashes, name, path, mtimeMs: statSync(path).mtimeMs };
}

function all(size: number): Bitfield {
  const wanted = new Bitfield(size);
  for (let index = 0; index < size; index++) wanted.set(index);
  return wanted;
}

describe("ChunkServer", () => {
  test("chunks asked for by index count as sent, so a seeder's choice is a chunk not sent yet", async () => {
    const file = sharedFile("three.bin", 3);
    const server = new ChunkServer({ uploadLimiter: new RateLimiter(0), servable: (fileId) => (fileId === file.fileId ? file : null) });
    await server.chunk(file.fileId, 0, { requester: "127.0.0.2:7495" });
    await server.chunk(file.fileId, 1, { requester: "127.0.0.3:7495" });
    const chosen = await server.chosenChunk(file.fileId, all(3), { requester: "127.0.0.4:7495" });
    expect(chosen.index).toBe(2);
    expect([...chosen.bytes]).toEqual([8, 9, 10, 11]);
  });

  test("requests that let the seeder choose get every chunk once before any twice", async () => {
    const file = sharedFile("three-more.bin", 3);
    const server = new ChunkServer({ uploadLimiter: new RateLimiter(0), servable: (fileId) => (fileId === file.fileId ? file : null) });
    // Three requesters at once: as many as a holder takes (2 read, 1 waiting) before it answers busy.
    const requesters = ["127.0.0.2:7495", "127.0.0.3:7495", "127.0.0.4:7495"];
    const ask = () => Promise.all(requesters.map((requester) => server.chosenChunk(file.fileId, all(3), { requester })));
    const first = await ask();
    expect(first.map((answer) => answer.index).sort()).toEqual([0, 1, 2]);
    const second = await ask();
    expect(second.map((answer) => answer.index).sort()).toEqual([0, 1, 2]);
  });
});
