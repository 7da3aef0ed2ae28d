// Real processes on a ring at rest: maintenance backed off to its longest period still repairs a crash, and a healthy network's joins and leaves log no warning.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Testnet, createTestnet } from "../../src/testnet";
import { runP2P } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";

const dir = tempDir();
afterAll(() => dir.remove());

let net: Testnet | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

/** A small maximum, so the periods reach it within seconds rather than the default's. */
const STABILIZE_MAX_MS = 3_200;
const CALM = ["--stabilize", "200", "--stabilize-max", String(STABILIZE_MAX_MS), "--rpc-timeout", "1000"];

/** Every live node's status says its next maintenance round is the longest wait away. */
async function allAtMaximum(testnet: Testnet): Promise<boolean> {
  const statuses = await Promise.all(testnet.liveNodes().map((node) => testnet.status(node)));
  return statuses.every((status) => status.maintenanceMs === STABILIZE_MAX_MS);
}

describe("a ring at rest", () => {
  test("16 nodes whose maintenance backed off to its longest period stay one consistent ring through a kill -9", async () => {
    net = await createTestnet({ nodes: 16, nodeArgs: CALM });
    await net.waitForConsistentRing(60_000);
    const testnet = net;
    await waitFor("every node's maintenance period at its maximum", () => allAtMaximum(testnet), 60_000, 250);
    const victim = net.nodes[5]!;
    await net.stopNode(victim, "SIGKILL");
    await net.waitForConsistentRing(30_000);
    expect(net.liveNodes()).toHaveLength(15);
  }, 180_000);

  test("a normal join, a restart and a graceful leave of nodes sharing files log no warning on any node", async () => {
    net = await createTestnet({ nodes: 4, nodeArgs: CALM });
    await net.waitForConsistentRing(30_000);
    const joiner = await net.addNode();
    await net.waitForConsistentRing(30_000);
    // Records to hand over: the leaver holds some as primary and replica, its own announcements among them.
    for (let i = 0; i < 20; i++) await net.control(net.nodes[i % net.nodes.length]!, "PUT", [`record-${i}`, "member", `value ${i}`]);
    for (const [index, node] of net.nodes.entries()) {
      const path = join(dir.path, `shared-${index}.txt`);
      writeFileSync(path, `a file shared by ${node.address}\n`);
      const upload = await runP2P(["client", "upload", path, "--node", node.ip], { env: net.env, timeoutMs: 60_000 });
      expect(upload.code).toBe(0);
    }
    const stopped = net.nodes[2]!;
    expect(await net.stopNode(stopped)).toBe(0);
    const restarted = await net.restartNode(stopped);
    await net.waitForConsistentRing(30_000);
    const leaver = net.nodes[1]!;
    expect(await net.stopNode(leaver)).toBe(0);
    await net.waitForConsistentRing(30_000);
    const search = await runP2P(["client", "search", "shared", "--node", restarted.ip], { env: net.env, timeoutMs: 60_000 });
    expect(search.code).toBe(0);
    const warnings = [...net.nodes, stopped].flatMap((node) => node.log().split("\n").filter((line) => line.includes("[warn]")).map((line) => `${node.address}: ${line}`));
    expect(warnings).toEqual([]);
    expect(net.liveNodes()).toContain(joiner);
  }, 120_000);
});
