// Transfers under real-world pressure, between real dist/p2p processes: slow holders and crowds of downloaders.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Testnet, type TestnetNode, createTestnet } from "../../../src/testnet";
import { builtBinary } from "../../helpers/binary";
import { runP2P } from "../../helpers/processes";
import { tempDir, waitFor } from "../../helpers/wait";

const MiB = 1024 * 1024;
/** Ring upkeep as the defaults have it, only quicker: a PING still has 2 s to come back. */
const RING = ["--stabilize", "200"];

const sha256 = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

describe("transfers under pressure", () => {
  let net: Testnet | null = null;
  const dir = tempDir();
  afterEach(async () => {
    await net?.close();
    net = null;
  });
  afterAll(() => dir.remove());

  async function client(node: TestnetNode, args: string[], timeoutMs = 60_000) {
    const executable = [await builtBinary()];
    return runP2P(["client", ...args, "--node", node.ip], { env: net!.env, executable, timeoutMs });
  }

  test("a download from a holder capped at 2 MB/s finishes in one command, however long it takes", async () => {
    const executable = [await builtBinary()];
    net = await createTestnet({ nodes: 2, executable, nodeArgs: [...RING, "--upload-limit", "2"] });
    await net.waitForConsistentRing(30_000);
    const original = join(dir.path, "slow.bin");
    writeFileSync(original, randomBytes(12 * MiB));
    expect((await client(net.nodes[0]!, ["upload", original])).code).toBe(0);

    const out = join(dir.path, "slow.out");
    const result = await client(net.nodes[1]!, ["download", "slow.bin", "--out", out], 90_000);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(sha256(out)).toBe(sha256(original));
  }, 120_000);

  test("six nodes downloading one file at once from a holder capped at 4 MB/s all finish intact", async () => {
    const executable = [await builtBinary()];
    net = await createTestnet({ nodes: 7, executable, nodeArgs: [...RING, "--rpc-timeout", "1000", "--upload-limit", "4"] });
    await net.waitForConsistentRing(30_000);
    const holder = net.nodes[0]!;
    const original = join(dir.path, "crowd.bin");
    writeFileSync(original, randomBytes(6 * MiB));
    expect((await client(holder, ["upload", original])).code).toBe(0);

    const downloaders = net.nodes.slice(1);
    const results = await Promise.all(
      downloaders.map((node, index) => client(node, ["download", "crowd.bin", "--out", join(dir.path, `crowd-${index}.out`)], 120_000)),
    );
    for (const [index, result] of results.entries()) {
      expect({ downloader: index, code: result.code, stderr: result.stderr }).toEqual({ downloader: index, code: 0, stderr: "" });
      expect(sha256(join(dir.path, `crowd-${index}.out`))).toBe(sha256(original));
    }
  }, 150_000);

  test("downloaders serve each other, and one killed mid-swarm costs the others nothing but time", async () => {
    const executable = [await builtBinary()];
    net = await createTestnet({ nodes: 5, executable, nodeArgs: [...RING, "--upload-limit", "4"] });
    await net.waitForConsistentRing(30_000);
    const [seeder, ...downloaders] = net.nodes as [TestnetNode, ...TestnetNode[]];
    const original = join(dir.path, "swarm.bin");
    writeFileSync(original, randomBytes(12 * MiB));
    expect((await client(seeder, ["upload", original])).code).toBe(0);

    const runs = downloaders.map((node, index) => client(node, ["download", "swarm.bin", "--out", join(dir.path, `swarm-${index}.out`), "--json"], 120_000));
    // The last downloader is killed once it has announced itself as a partial holder.
    const victim = downloaders.at(-1)!;
    await waitFor("the victim to hold some chunks", async () => {
      const holders = JSON.parse(new TextDecoder().decode(await net!.control(seeder, "GET", ["name:swarm.bin"]))) as Array<{ value: string }>;
      return holders.some((entry) => entry.value.includes(victim.address) && entry.value.includes('"partial":true'));
    }, 30_000);
    await net.stopNode(victim, "SIGKILL");
    const results = await Promise.all(runs);
    for (const [index, result] of results.slice(0, -1).entries()) {
      expect({ index, code: result.code, stderr: result.stderr }).toEqual({ index, code: 0, stderr: "" });
      expect(sha256(join(dir.path, `swarm-${index}.out`))).toBe(sha256(original));
      // Some chunks came from other downloaders, not only from the seeder.
      const report = JSON.parse(result.stdout) as { sources: string[] };
      expect(report.sources.some((source) => source !== seeder.address)).toBe(true);
    }
  }, 150_000);
});
