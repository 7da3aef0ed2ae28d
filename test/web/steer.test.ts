// Pause and resume from the page and from the CLI act on one and the same transfer (one operation, two front ends).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { runP2P } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";

const MiB = 1024 * 1024;
type Entry = { name: string; state: string; bytes: number; size: number };

describe("steering a transfer from the page", () => {
  let net: Testnet;
  let pageUrl: URL;
  let token: string;
  const dir = tempDir();

  beforeAll(async () => {
    // The holder serves at 1 MB/s, so a 6 MiB download is still running when it is paused.
    net = await createTestnet({ nodes: 2, executable: [await builtBinary()], nodeArgs: ["--web", "--stabilize", "200", "--upload-limit", "1"] });
    await net.waitForConsistentRing(30_000);
    const printed = await runP2P(["client", "web", "--node", net.nodes[1]!.ip], { env: net.env, executable: net.executable });
    pageUrl = new URL(printed.stdout.trim());
    token = pageUrl.searchParams.get("token")!;
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    dir.remove();
  });

  const cli = (args: string[]) => runP2P(["client", ...args, "--node", net.nodes[1]!.ip], { env: net.env, executable: net.executable, timeoutMs: 30_000 });
  const page = async (op: string, args: string[] = []) => {
    const response = await fetch(new URL(`/api/op/${op}`, pageUrl.origin), { method: "POST", headers: { cookie: `p2p_web_token=${token}` }, body: JSON.stringify({ args }) });
    expect(response.status).toBe(200);
    return (await response.json()) as unknown;
  };
  const pageEntry = async (name: string) => ((await page("TRANSFERS")) as { downloads: Entry[] }).downloads.find((entry) => entry.name === name);

  test("a download started by the CLI is paused from the page, resumed from the CLI, and ends intact", async () => {
    const original = join(dir.path, "steered.bin");
    writeFileSync(original, randomBytes(6 * MiB));
    expect((await runP2P(["client", "upload", original, "--node", net.nodes[0]!.ip], { env: net.env, executable: net.executable })).code).toBe(0);
    const out = join(dir.path, "steered.out");
    expect((await cli(["download", "steered.bin", "--out", out, "--detach"])).code).toBe(0);
    await waitFor("the download to be under way", async () => ((await pageEntry("steered.bin"))?.bytes ?? 0) > 0, 20_000);

    expect(((await page("PAUSE", ["steered.bin"])) as Entry).state).toBe("paused");
    const listed = await cli(["transfers", "--json"]);
    expect((JSON.parse(listed.stdout) as { downloads: Entry[] }).downloads.find((entry) => entry.name === "steered.bin")?.state).toBe("paused");

    expect((await cli(["resume", "steered.bin"])).code).toBe(0);
    await waitFor("the download to end", async () => (await pageEntry("steered.bin"))?.state === "done", 60_000);
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
  }, 120_000);
});
