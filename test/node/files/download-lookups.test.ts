// What a download asks of the ring: its fixed cost in lookups and puts, counted through the in-memory ring.

import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHUNK_SIZE } from "../../../src/model/manifest";
import { indexedWordsOf, nameKey, wordKey } from "../../../src/node/files/names";
import { tempDir } from "../../helpers/wait";
import { memoryFileNetwork, type RingCall } from "./memory-files";

const dir = tempDir();
const calls: RingCall[] = [];
const network = memoryFileNetwork(dir.path, 2, (call) => calls.push(call));
const [alice, bob] = network.nodes as [(typeof network.nodes)[0], (typeof network.nodes)[0]];
afterAll(() => {
  network.close();
  dir.remove();
});

async function shareAndWatch(name: string, size: number) {
  const bytes = randomBytes(size);
  const path = join(alice.dir, name);
  writeFileSync(path, bytes);
  await alice.sharing.share(path, undefined);
  calls.length = 0;
  const out = join(bob.dir, name);
  await bob.sharing.download(name, out);
  expect(readFileSync(out).equals(bytes)).toBe(true);
  return { key: nameKey(name), words: indexedWordsOf(name).map(wordKey) };
}

describe("a download's fixed cost in ring operations", () => {
  test("a download looks its name up once before its first chunk: the holders, manifest and swarm start from the lookup that found the file", async () => {
    const { key } = await shareAndWatch("small lookups.bin", CHUNK_SIZE / 4);
    const firstPut = calls.findIndex((call) => call.op === "put");
    expect(firstPut).toBeGreaterThan(0);
    const lookups = calls.slice(0, firstPut).filter((call) => call.op === "get" && call.key === key);
    expect(lookups).toHaveLength(1);
  });

  test("a one-chunk download announces its holder complete under the name and every word, and never as partly held", async () => {
    const { key, words } = await shareAndWatch("one chunk only.bin", 1000);
    const puts = calls.filter((call) => call.op === "put");
    expect(puts.some((call) => call.value?.includes('"partial":true'))).toBe(false);
    expect(puts.map((call) => call.key).sort()).toEqual([key, ...words].sort());
    const found = await alice.sharing.search("chunk");
    expect(found.find((file) => file.name === "one chunk only.bin")?.holders).toBe(2);
  });

  test("a download of several chunks is still announced as partly held while it runs", async () => {
    const { key } = await shareAndWatch("several chunks.bin", 3 * CHUNK_SIZE);
    const partial = calls.filter((call) => call.op === "put" && call.key === key && call.value?.includes('"partial":true'));
    expect(partial).toHaveLength(1);
  });
});
