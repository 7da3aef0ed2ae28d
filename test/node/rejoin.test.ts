// Restarts and churn over real processes: a restarted node's files are findable again, and the ring heals after kill -9 storms.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { nameKey } from "../../src/node/files/names";
import { inHalfOpenInterval } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import { tempDir, waitFor } from "../helpers/wait";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
/** The target: every file a live node shares is findable this soon after the ring is consistent. */
const FINDABLE_WITHIN_MS = 10_000;

let net: Testnet | null = null;
const dir = tempDir();
afterEach(async () => {
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const json = <T>(body: Uint8Array) => JSON.parse(new TextDecoder().decode(body)) as T;

async function share(testnet: Testnet, node: TestnetNode, name: string): Promise<void> {
  const path = join(dir.path, `${node.ip}-${name}`);
  writeFileSync(path, `the file ${name} shared by ${node.address}\n`);
  await testnet.control(node, "UPLOAD", [path, name]);
}

/** Whether `reader` sees a live announcement of `name` held by `holder`. */
async function findable(testnet: Testnet, reader: TestnetNode, name: string, holder: string): Promise<boolean> {
  const entries = json<RecordEntry[]>(await testnet.control(reader, "GET", [nameKey(name)]));
  return entries.some((entry) => entry.member.endsWith(`@${holder}`));
}

/** A name whose record key falls in `node`'s own range: the node is the primary of its own file. */
function nameOwnedBy(sorted: TestnetNode[], node: TestnetNode, prefix: string): string {
  const index = sorted.indexOf(node);
  const predecessor = sorted[(index - 1 + sorted.length) % sorted.length]!;
  for (let i = 0; i < 100_000; i++) {
    const name = `${prefix}-${i}.txt`;
    if (inHalfOpenInterval(nameKey(name), predecessor.id, node.id)) return name;
  }
  throw new Error(`no name found in the range of ${node.address}`);
}

describe("restarts", () => {
  test("a node that left gracefully and starts again has its files findable within 10 s of a consistent ring", async () => {
    net = await createTestnet({ nodes: 5, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const sorted = [...net.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
    const sharer = sorted[2]!;
    // Its own range is where the stale tombstones of its graceful leave sit after the restart.
    const names = [nameOwnedBy(sorted, sharer, "own-a"), nameOwnedBy(sorted, sharer, "own-b"), "elsewhere-1.txt", "elsewhere-2.txt"];
    for (const name of names) await share(net, sharer, name);
    const reader = sorted[0]!;
    for (const name of names) expect(await findable(net, reader, name, sharer.address)).toBe(true);

    await net.stopNode(sharer, "SIGTERM");
    await net.waitForConsistentRing(15_000);
    for (const name of names) expect(await findable(net, reader, name, sharer.address)).toBe(false);

    await net.restartNode(sharer);
    await net.waitForConsistentRing(15_000);
    await waitFor(
      "every file of the restarted node to be findable",
      async () => (await Promise.all(names.map((name) => findable(net!, reader, name, sharer.address)))).every(Boolean),
      FINDABLE_WITHIN_MS,
      200,
    );
  }, 90_000);

  test("eight nodes under kill -9 and restart of a random node every second become one consistent ring, every file findable", async () => {
    net = await createTestnet({ nodes: 8, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const names = new Map<string, string>();
    for (const node of net.nodes) {
      const name = `churn-${node.ip.split(".").pop()}.txt`;
      await share(net, node, name);
      names.set(name, node.address);
    }
    const churnUntil = Date.now() + 10_000;
    for (let round = 0; round < 20 && Date.now() < churnUntil; round++) {
      const tick = Date.now();
      const victim = net.nodes[Math.floor(Math.random() * net.nodes.length)]!;
      await net.stopNode(victim, "SIGKILL");
      // Not waiting for it to join: the next victim may be this one, still starting.
      await net.restartNode(victim, { waitForJoin: false });
      if (tick + 1_000 >= churnUntil) break;
      await Bun.sleep(Math.max(0, 1_000 - (Date.now() - tick)));
    }
    const stoppedAt = Date.now();
    await net.waitForNodesInRing(30_000);
    await net.waitForConsistentRing(20_000);
    const consistentAfter = Date.now() - stoppedAt;
    const reader = net.nodes[0]!;
    await waitFor(
      "every shared file to be findable",
      async () => (await Promise.all([...names].map(([name, holder]) => findable(net!, reader, name, holder)))).every(Boolean),
      FINDABLE_WITHIN_MS,
      200,
    );
    console.log(`churn of 8 nodes: consistent ${(consistentAfter / 1000).toFixed(1)} s after it stopped`);
  }, 90_000);
});
