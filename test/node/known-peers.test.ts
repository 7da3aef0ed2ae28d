// known-peers.json: what a node remembers of the ring between runs, bounded and never half-written.

import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KNOWN_PEERS_FILE, KnownPeers, MAX_KNOWN_PEERS } from "../../src/node/known-peers";
import { peerAt } from "../../src/model/peer";
import { tempDir } from "../helpers/wait";

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => dir.remove()));

function dataDir(): string {
  const dir = tempDir("p2p-known-");
  dirs.push(dir);
  return dir.path;
}

const self = peerAt("127.0.0.2:7495");
const peers = Array.from({ length: 40 }, (_, i) => peerAt(`127.0.1.${i + 1}:7495`));

describe("known peers", () => {
  test("are saved nearest first, without this node or duplicates, at most MAX_KNOWN_PEERS, and read back", () => {
    const dir = dataDir();
    new KnownPeers(dir).save([self, peers[0]!, peers[0]!, ...peers.slice(1)], self);
    const warnings: string[] = [];
    const loaded = new KnownPeers(dir).load((message) => warnings.push(message));
    expect(loaded).toEqual(peers.slice(0, MAX_KNOWN_PEERS));
    expect(warnings).toEqual([]);
    // Written through a temporary file and a rename: nothing else is left in the directory.
    expect(readdirSync(dir)).toEqual([KNOWN_PEERS_FILE]);
  });

  test("an empty list never overwrites what a node knew", () => {
    const dir = dataDir();
    const store = new KnownPeers(dir);
    store.save(peers.slice(0, 3), self);
    store.save([], self);
    expect(new KnownPeers(dir).load(() => {})).toEqual(peers.slice(0, 3));
  });

  test("a missing file is no peers; a damaged file or entry is skipped with a warning, never a crash", () => {
    const dir = dataDir();
    const warnings: string[] = [];
    expect(new KnownPeers(dir).load((message) => warnings.push(message))).toEqual([]);
    expect(warnings).toEqual([]);
    writeFileSync(join(dir, KNOWN_PEERS_FILE), "{ not json");
    expect(new KnownPeers(dir).load((message) => warnings.push(message))).toEqual([]);
    expect(warnings.at(-1)).toMatch(/not valid JSON/);
    const forged = { id: peers[1]!.id, address: peers[0]!.address }; // an id that is not the hash of its address
    writeFileSync(join(dir, KNOWN_PEERS_FILE), JSON.stringify({ peers: [peers[2], forged, "nonsense", peers[3]] }));
    expect(new KnownPeers(dir).load((message) => warnings.push(message))).toEqual([peers[2]!, peers[3]!]);
    expect(warnings.filter((warning) => /skipping a bad entry/.test(warning))).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(dir, KNOWN_PEERS_FILE), "utf8")).peers).toHaveLength(4);
  });
});
