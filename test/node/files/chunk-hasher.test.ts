// The chunk hasher: SHA-256 on a worker thread for bodies in shared memory, in place for anything else, never lost.

import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { BodyPool } from "../../../src/protocol/body-pool";
import { ChunkHasher, MAX_QUEUED_HASHES, MIN_WORKER_HASH_BYTES } from "../../../src/node/files/chunk-hasher";

const CHUNK = 1024 * 1024;
const hashers: ChunkHasher[] = [];
afterEach(() => {
  for (const hasher of hashers.splice(0)) hasher.close();
});

function newHasher(onFailure?: (message: string) => void): ChunkHasher {
  const hasher = new ChunkHasher(onFailure);
  hashers.push(hasher);
  return hasher;
}

function pooledBody(pool: BodyPool, bytes: Uint8Array): Uint8Array {
  const body = pool.take(bytes.length);
  body.set(bytes);
  return body;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("ChunkHasher", () => {
  test("a chunk in shared memory is hashed on the worker thread and matches SHA-256", async () => {
    const hasher = newHasher();
    const pool = new BodyPool(CHUNK, 8);
    const bytes = randomBytes(CHUNK);
    const body = pooledBody(pool, bytes);
    expect(await hasher.hash(body)).toBe(sha256(bytes));
    expect(hasher.stats()).toEqual({ onWorker: 1, inPlace: 0 });
  });

  test("many chunks at once each get their own hash, whatever order the worker answers in", async () => {
    const hasher = newHasher();
    const pool = new BodyPool(CHUNK, 16);
    const inputs = Array.from({ length: 12 }, () => randomBytes(CHUNK - 17));
    const hashes = await Promise.all(inputs.map((bytes) => hasher.hash(pooledBody(pool, bytes))));
    expect(hashes).toEqual(inputs.map(sha256));
  });

  test("a view at an offset inside a shared buffer hashes only its own bytes", async () => {
    const hasher = newHasher();
    const shared = new Uint8Array(new SharedArrayBuffer(4 * MIN_WORKER_HASH_BYTES));
    shared.set(randomBytes(shared.length));
    const view = shared.subarray(1000, 1000 + 2 * MIN_WORKER_HASH_BYTES);
    expect(await hasher.hash(view)).toBe(sha256(view.slice()));
  });

  test("a small body or one outside shared memory is hashed in place", async () => {
    const hasher = newHasher();
    const pool = new BodyPool(CHUNK, 8);
    const small = pooledBody(new BodyPool(1024, 1), randomBytes(1000));
    const plain = new Uint8Array(randomBytes(CHUNK));
    expect(await hasher.hash(small)).toBe(sha256(small));
    expect(await hasher.hash(plain)).toBe(sha256(plain));
    expect(hasher.stats()).toEqual({ onWorker: 0, inPlace: 2 });
    void pool;
  });

  test("past the queue limit a chunk is hashed in place rather than queued without bound", async () => {
    const hasher = newHasher();
    const shared = new Uint8Array(new SharedArrayBuffer(MIN_WORKER_HASH_BYTES));
    shared.set(randomBytes(shared.length));
    const expected = sha256(shared.slice());
    const all = await Promise.all(Array.from({ length: MAX_QUEUED_HASHES + 5 }, () => hasher.hash(shared)));
    expect(all.every((hex) => hex === expected)).toBe(true);
    expect(hasher.stats().inPlace).toBeGreaterThanOrEqual(5);
  });

  test("closing with hashes still waiting answers each of them, in place", async () => {
    const hasher = newHasher();
    const pool = new BodyPool(CHUNK, 8);
    const inputs = Array.from({ length: 4 }, () => randomBytes(CHUNK));
    const pending = inputs.map((bytes) => hasher.hash(pooledBody(pool, bytes)));
    hasher.close();
    expect(await Promise.all(pending)).toEqual(inputs.map(sha256));
    // After close nothing goes to a worker any more.
    const after = pooledBody(pool, inputs[0]!);
    expect(await hasher.hash(after)).toBe(sha256(inputs[0]!));
  });
});
