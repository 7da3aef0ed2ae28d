// Nodes whose clocks are off (run under libfaketime): status says how far and what to do, and a command that fails because of it says so.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { renderClock } from "../../src/cli/client/status";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import { tempDir, waitFor } from "../helpers/wait";
import { share } from "./hostile";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

/** Debian's libfaketime (package faketime): .ci/run installs it, so CI never skips this. */
function findFaketime(): string | null {
  const lib = "/usr/lib";
  for (const arch of existsSync(lib) ? readdirSync(lib) : []) {
    const path = join(lib, arch, "faketime", "libfaketime.so.1");
    if (existsSync(path)) return path;
  }
  return null;
}
const faketime = findFaketime();
if (faketime === null && process.env.CI) throw new Error("libfaketime is missing in CI: .ci/run should have installed the Debian package faketime");
if (faketime === null) console.warn("skipping the clock-skew tests: libfaketime is not installed (apt-get install faketime)");

/** The error a control op failed with, as its text. */
async function failure(testnet: Testnet, node: TestnetNode, op: string, args: string[]): Promise<string> {
  try {
    await testnet.control(node, op, args);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${op} on ${node.address} succeeded, but it should have failed`);
}

describe.skipIf(faketime === null)("clock skew", () => {
  test("a node 2 min ahead and one 10 min behind their peers see it in status, and their uploads and downloads fail saying so", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const skewed = (offset: string) => ({ env: { LD_PRELOAD: faketime!, FAKETIME: offset, DONT_FAKE_MONOTONIC: "1" } });
    const ahead = await net.addNode(undefined, skewed("+2m"));
    const behind = await net.addNode(undefined, skewed("-10m"));
    await net.waitForConsistentRing(30_000);

    const skewOf = (node: TestnetNode, near: number) =>
      waitFor(`${node.address} to measure its clock near ${near} ms off`, async () => {
        const status = await net!.status(node);
        return status.clockSkewMs !== null && status.clockSkewMs !== undefined && (status.clockPeers ?? 0) >= 3 && Math.abs(status.clockSkewMs - near) < 20_000 ? status : null;
      }, 30_000);
    expect(renderClock(await skewOf(ahead, 120_000))).toMatch(/^OFF: this node's clock is 2 min ahead of its peers \(median of \d\); fix the clock \(NTP\): the network tolerates 60 s/);
    expect(renderClock(await skewOf(behind, -600_000))).toMatch(/^OFF: this node's clock is 10 min behind its peers \(median of \d\); fix the clock \(NTP\)/);
    expect(renderClock(await skewOf(net.nodes[0]!, 0))).toMatch(/^in step: \d+\.\d s (ahead of|behind) its peers/);

    for (const [node, words] of [[ahead, "2 min ahead of"], [behind, "10 min behind"]] as const) {
      const path = join(dir.path, `from-${node.ip}.txt`);
      await Bun.write(path, `written on a node ${words} the others\n`);
      expect(await failure(net, node, "UPLOAD", [path])).toContain(`this node's clock is ${words} its peers`);
    }
    // Others' fresh announcements are dated 10 min ahead of the node behind: it cannot see them, and is told why.
    await share(net, net.nodes[0]!, dir.path, "fresh.txt", new TextEncoder().encode("shared by a node in step\n"));
    expect(await failure(net, behind, "DOWNLOAD", ["fresh.txt", join(dir.path, "fresh-copy.txt")])).toMatch(/fix the clock \(NTP\)/);
  }, 120_000);
});
