// The download glue over in-memory peers: verified chunks into a real .part file, partial peers followed, liars dropped.

import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CatalogStore } from "../../../../src/node/files/catalog";
import { runDownload } from "../../../../src/node/files/download";
import { type Manifest, sha256Hex } from "../../../../src/model/manifest";
import { partFilesIn } from "../../../../src/node/files/part-file";
import { Bitfield, type HaveReport } from "../../../../src/model/bitfield";
import type { FilePeers, Holder } from "../../../../src/node/files/swarm/file-peers";
import { P2PError } from "../../../../src/protocol/errors";
import { tempDir } from "../../../helpers/wait";

const CHUNK = 1024;

function makeFile(chunks: number): { bytes: Uint8Array; manifest: Manifest } {
  const bytes = randomBytes(chunks * CHUNK - 100);
  const hashes = Array.from({ length: chunks }, (_, index) => sha256Hex(bytes.subarray(index * CHUNK, (index + 1) * CHUNK)));
  return { bytes, manifest: { fileId: sha256Hex(Buffer.from(hashes.join(""))), size: bytes.length, chunkSize: CHUNK, chunks: hashes } };
}

/** Peers held in memory: each has some chunks (null: all), and may lie. */
function memoryPeers(
  bytes: Uint8Array,
  peers: Record<string, { have: number[] | null; lies?: boolean; missing?: boolean; delayMs?: number }>,
  chunkCount: number,
): FilePeers & { asked: string[] } {
  const asked: string[] = [];
  const chunkOf = (index: number) => bytes.slice(index * CHUNK, (index + 1) * CHUNK);
  const check = (address: string, index: number) => {
    const peer = peers[address]!;
    if (peer.missing) throw new P2PError("NOT_FOUND", `${address} does not share it`);
    if (peer.have !== null && !peer.have.includes(index)) throw new P2PError("NOT_YET", "not yet");
    return peer.lies ? randomBytes(chunkOf(index).length) : chunkOf(index);
  };
  return {
    asked,
    async holders(): Promise<Holder[]> {
      return Object.entries(peers).map(([address, peer]) => ({ address, partial: peer.have !== null }));
    },
    async chunk(address, index) {
      asked.push(`${address}:${index}`);
      await Bun.sleep(peers[address]!.delayMs ?? 1);
      return check(address, index);
    },
    async chosenChunk(address, wanted) {
      const index = [...wanted.indices()].find((candidate) => peers[address]!.have?.includes(candidate) ?? true);
      if (index === undefined) throw new P2PError("NOT_YET", "none of those");
      asked.push(`${address}:any=${index}`);
      await Bun.sleep(peers[address]!.delayMs ?? 1);
      return { index, bytes: check(address, index) };
    },
    async have(address): Promise<HaveReport> {
      const peer = peers[address]!;
      if (peer.have === null) return { version: 1, have: null };
      const field = new Bitfield(chunkCount);
      for (const index of peer.have) field.set(index);
      await Bun.sleep(5); // a long poll with nothing new answers after a while
      return { version: 1, have: field };
    },
  };
}

describe("runDownload over in-memory peers", () => {
  const dir = tempDir();
  const catalog = new CatalogStore(join(dir.path, "catalog.db"));
  afterAll(() => {
    catalog.close();
    dir.remove();
  });

  test("every chunk is verified, written in place, and the file renamed into place", async () => {
    const { bytes, manifest } = makeFile(12);
    const out = join(dir.path, "whole.bin");
    const result = await runDownload({ manifest, name: "whole.bin", outPath: out, parts: partFilesIn(catalog), peers: memoryPeers(bytes, { a: { have: null }, b: { have: null } }, 12) });
    expect(Buffer.compare(readFileSync(out), bytes)).toBe(0);
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(result.sourcesUsed.sort()).toEqual(["a", "b"]);
    expect(catalog.download(manifest.fileId)).toBeNull();
  });

  test("partial peers serve what they have, and a liar among them is dropped without harm", async () => {
    const { bytes, manifest } = makeFile(16);
    const out = join(dir.path, "swarm.bin");
    const peers = memoryPeers(
      bytes,
      {
        seeder: { have: null, delayMs: 40 },
        early: { have: [0, 1, 2, 3, 4, 5, 6, 7] },
        liar: { have: Array.from({ length: 16 }, (_, index) => index), lies: true },
      },
      16,
    );
    const result = await runDownload({ manifest, name: "swarm.bin", outPath: out, parts: partFilesIn(catalog), peers });
    expect(Buffer.compare(readFileSync(out), bytes)).toBe(0);
    expect(result.badSources).toEqual(["liar"]);
    expect(result.sourcesUsed).toContain("early");
    // The early downloader is only ever asked for chunks it has.
    for (const request of peers.asked.filter((entry) => entry.startsWith("early:"))) expect(Number(request.split(":")[1])).toBeLessThan(8);
  });

  test("when every holder says it lacks the file, the download fails at once and leaves no empty .part behind", async () => {
    const { bytes, manifest } = makeFile(4);
    const out = join(dir.path, "gone.bin");
    // The test's own timeout is far below the 60 s a stalled download waits: this must not stall.
    const failure = await runDownload({ manifest, name: "gone.bin", outPath: out, parts: partFilesIn(catalog), peers: memoryPeers(bytes, { a: { have: null, missing: true } }, 4) }).then(
      () => null,
      (error) => error as P2PError,
    );
    expect(failure?.code).toBe("UNAVAILABLE");
    expect(failure?.message).toMatch(/no reachable holder has the rest of gone\.bin; 0 verified chunks are kept/);
    // No verified chunk: neither the .part nor its record is worth keeping (a .part with chunks is kept: see the resume tests).
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(catalog.download(manifest.fileId)).toBeNull();
  });
});
