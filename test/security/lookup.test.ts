// A lying ring member replayed against real nodes: its FIND_SUCCESSOR answers and its LIST_ALL_FILES page are checked, and the real files stay findable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { nameKey } from "../../src/node/files/names";
import { loadIdentity } from "../../src/node/identity";
import { inHalfOpenInterval } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";
import { fetchFile, type LyingRingNode, lyingRingNode, share } from "./hostile";

// --verbose: a first contradicted answer is a debug line (tables behind a join look the same); only a liar
// that keeps at it for STALE_TABLES_GRACE_MS is a warning, longer than this test runs.
const FAST = ["--stabilize", "200", "--rpc-timeout", "1000", "--verbose"];
const dir = tempDir();
let net: Testnet | null = null;
let liar: LyingRingNode | null = null;
/** What the liar's LIST_ALL_FILES page shows besides nothing it stores. */
let fakeEntries: RecordEntry[] = [];
/** The honest node just before the liar on the ring, the one just after it, and one elsewhere. */
let before: TestnetNode;
let after: TestnetNode;
let elsewhere: TestnetNode;

beforeAll(async () => {
  net = await createTestnet({ nodes: 4, nodeArgs: FAST });
  await net.waitForConsistentRing(30_000);
  const address = `${loopbackAddress()}:${20_000 + Math.floor(Math.random() * 40_000)}`;
  liar = await lyingRingNode(address, { id: net.nodes[0]!.id, address: net.nodes[0]!.address }, () => fakeEntries);
  const testnet = net;
  // In the ring: its successor took it as predecessor and its predecessor as successor.
  const statuses = await waitFor("the lying node to be taken into the ring", async () => {
    const all = await Promise.all(testnet.nodes.map((node) => testnet.status(node)));
    const adopted = all.some((status) => status.predecessor?.address === address) && all.some((status) => status.successors[0]?.address === address);
    return adopted ? all : null;
  }, 20_000);
  before = net.nodes[statuses.findIndex((status) => status.successors[0]?.address === address)]!;
  after = net.nodes[statuses.findIndex((status) => status.predecessor?.address === address)]!;
  elsewhere = net.nodes.find((node) => node !== before && node !== after)!;
}, 60_000);

afterAll(async () => {
  await liar?.close();
  await net?.close();
  dir.remove();
});

/** A name whose key lies in the arc (from, to]. */
function nameIn(prefix: string, from: string, to: string): string {
  for (let i = 0; i < 100_000; i++) {
    if (inHalfOpenInterval(nameKey(`${prefix}-${i}.bin`), from, to)) return `${prefix}-${i}.bin`;
  }
  throw new Error(`no name found in (${from}, ${to}]`);
}

describe("a ring member that lies", () => {
  test("one that answers FIND_SUCCESSOR with itself for every key and swallows what it is sent cannot hide a real announcement: both files download intact", async () => {
    const testnet = net!;
    const lying = liar!.self;
    // Routed through it: the key belongs to the node after it, and its predecessor asks it the way.
    const routed = nameIn("routed", lying.id, after.id);
    // Its own range: it is the key's rightful primary, and swallows the put.
    const owned = nameIn("owned", before.id, lying.id);
    const bytes = { [routed]: new Uint8Array(randomBytes(20_000)), [owned]: new Uint8Array(randomBytes(20_000)) };
    const ids = { [routed]: await share(testnet, before, dir.path, routed, bytes[routed]!), [owned]: await share(testnet, before, dir.path, owned, bytes[owned]!) };
    for (const name of [routed, owned]) {
      const fetched = await fetchFile(testnet, elsewhere, name, join(dir.path, `downloaded-${name}`));
      expect(fetched.id).toBe(ids[name]!);
      expect(Buffer.from(fetched.bytes).equals(Buffer.from(bytes[name]!))).toBe(true);
    }
    expect(before.log()).toContain(`${lying.address} answered that ${lying.address} is its successor`);
  }, 60_000);

  test("one that lists names stored nowhere in its LIST_ALL_FILES page: list leaves them out and names it in a warning", async () => {
    const testnet = net!;
    const real = nameIn("listed", after.id, before.id);
    await share(testnet, before, dir.path, real, new Uint8Array(randomBytes(1_000)));
    const holder = before.address;
    const fake = (name: string) => {
      const fileId = "ab".repeat(32);
      const value = JSON.stringify({ kind: "file", name, size: 1234, fileId, holder });
      return { key: nameKey(name), member: `${fileId}@${holder}`, value, updatedAt: Date.now(), expiresAt: null, deleted: false };
    };
    const stranger = loadIdentity(join(dir.path, "stranger"));
    // The real announcement, signature and all, with another name in its value: the signature no longer fits.
    const [announced] = JSON.parse(new TextDecoder().decode(await testnet.control(elsewhere, "GET", [nameKey(real)]))) as RecordEntry[];
    const renamed = { ...announced!, value: announced!.value.replace(real, "fake-renamed.bin") };
    fakeEntries = [fake("fake-unsigned.bin"), stranger.signEntry(fake("fake-forged.bin")), renamed];
    const listed = JSON.parse(new TextDecoder().decode(await testnet.control(before, "LIST"))) as { name: string }[];
    const names = listed.map((file) => file.name);
    expect(names).toContain(real);
    for (const name of ["fake-unsigned.bin", "fake-forged.bin", "fake-renamed.bin"]) expect(names).not.toContain(name);
    expect(before.log()).toContain(`list: ${liar!.self.address} listed 3 entries that do not verify`);
  }, 30_000);
});
