// Transfers in the background through the real binary: --detach, pause and resume, --max-active, a restart that resumes, --download-limit, transfers --clear.

import { beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Testnet, TestnetNode } from "../../src/testnet";
import type { DownloadReport, TransferEntry, TransfersReport } from "../../src/wire/control";
import { cliTestnet } from "../helpers/cli-testnet";
import { startP2P } from "../helpers/processes";
import { waitFor } from "../helpers/wait";

/** Serves at 1 MB/s: a few MiB take seconds, long enough to pause, queue or restart mid-way. */
let slow: TestnetNode;
let fast: TestnetNode;
let asker: TestnetNode;
const cli = cliTestnet({
  nodes: 0,
  addNodes: async (started) => {
    slow = await started.addNode(undefined, { args: ["--upload-limit", "1"] });
    fast = await started.addNode();
    asker = await started.addNode(undefined, { args: ["--max-active", "1"] });
  },
});
const { dir, p2p, json } = cli;
let net: Testnet;
let binary: string;
beforeAll(() => ({ net, binary } = cli));

async function share(on: TestnetNode, name: string, size: number): Promise<string> {
  const path = join(dir.path, name);
  writeFileSync(path, randomBytes(size));
  await json(["client", "upload", path, "--node", on.ip]);
  return path;
}

async function transferOf(on: TestnetNode, name: string): Promise<TransferEntry | undefined> {
  const report = await json<TransfersReport>(["client", "transfers", "--node", on.ip]);
  return report.downloads.find((entry) => entry.name === name);
}

function waitForState(on: TestnetNode, name: string, state: TransferEntry["state"], timeoutMs = 30_000, atLeastBytes = 0): Promise<TransferEntry> {
  return waitFor(`${name} to be ${state} on ${on.ip}`, async () => {
    const entry = await transferOf(on, name);
    return entry?.state === state && entry.bytes >= atLeastBytes ? entry : null;
  }, timeoutMs, 100);
}

const MiB = 1024 * 1024;

describe("transfers in the background", () => {
  test("download --detach returns at once with the transfer's id, and the transfer completes in the node", async () => {
    const original = await share(slow, "detached.bin", 3 * MiB);
    const out = join(dir.path, "detached.out");
    const started = await json<TransferEntry>(["client", "download", "detached.bin", "--out", out, "--detach", "--node", asker.ip]);
    // Returned while the node still had seconds of work: the file cannot be there yet at 1 MB/s.
    expect(["queued", "downloading"]).toContain(started.state);
    expect(started.id).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(out)).toBe(false);
    const done = await waitForState(asker, "detached.bin", "done");
    expect(done.id).toBe(started.id);
    expect(done.endedAt).toBeGreaterThanOrEqual(done.startedAt);
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
    const text = await p2p(["client", "download", "detached.bin", "--out", join(dir.path, "again.out"), "--detach", "--node", asker.ip]);
    expect(text.stdout).toMatch(/^started detached\.bin in the background: transfer [0-9a-f]{12}, (queued|downloading); see: p2p client transfers\n$/);
    await waitForState(asker, "detached.bin", "done");
  }, 90_000);

  test("a paused download stops fetching and keeps its place; resumed, it completes with every byte verified", async () => {
    const original = await share(slow, "pausable.bin", 4 * MiB);
    const out = join(dir.path, "pausable.out");
    const started = await json<TransferEntry>(["client", "download", "pausable.bin", "--out", out, "--detach", "--node", asker.ip]);
    await waitForState(asker, "pausable.bin", "downloading", 30_000, 1);
    const paused = await json<TransferEntry>(["client", "pause", started.id.slice(0, 12), "--node", asker.ip]);
    expect(paused.state).toBe("paused");
    const held = await waitForState(asker, "pausable.bin", "paused");
    // Paused is paused: no byte arrives while it is, for as long as a chunk takes at 1 MB/s, twice over.
    const quiet = Date.now() + 2_500;
    await waitFor("the pause to hold", async () => Date.now() > quiet && (await transferOf(asker, "pausable.bin"))!.state === "paused", 10_000, 250);
    expect((await transferOf(asker, "pausable.bin"))!.bytes).toBe(held.bytes);
    const twice = await p2p(["client", "pause", "pausable.bin", "--node", asker.ip]);
    expect(twice.stderr).toMatch(/pausable\.bin is paused already; resume it with: p2p client resume [0-9a-f]{12}/);
    const resumed = await p2p(["client", "resume", "pausable.bin", "--node", asker.ip]);
    expect(resumed.stdout).toMatch(/^resumed pausable\.bin \(.* kept\); see: p2p client transfers\n$/);
    await waitForState(asker, "pausable.bin", "done", 60_000);
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
  }, 120_000);

  test("a foreground download paused from another shell keeps its client waiting, and finishes when resumed", async () => {
    const original = await share(slow, "foreground.bin", 3 * MiB);
    const out = join(dir.path, "foreground.out");
    const download = startP2P(["client", "download", "foreground.bin", "--out", out, "--json", "--node", asker.ip], { executable: [binary], env: net.env });
    await waitForState(asker, "foreground.bin", "downloading", 30_000, 1);
    await json(["client", "pause", "foreground.bin", "--node", asker.ip]);
    await waitForState(asker, "foreground.bin", "paused");
    // The client is still there, waiting with its download.
    expect(download.proc.exitCode).toBeNull();
    await json(["client", "resume", "foreground.bin", "--node", asker.ip]);
    expect(await download.proc.exited).toBe(0);
    const report = JSON.parse(download.stdout()) as DownloadReport;
    expect(report.resumedChunks).toBeGreaterThan(0);
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
  }, 90_000);

  test("with --max-active 1 a second download waits queued until the first ends, then completes", async () => {
    const first = await share(slow, "first.bin", 3 * MiB);
    const second = await share(fast, "second.bin", 200_000);
    await json(["client", "download", "first.bin", "--out", join(dir.path, "first.out"), "--detach", "--node", asker.ip]);
    await waitForState(asker, "first.bin", "downloading");
    const queued = await json<TransferEntry>(["client", "download", "second.bin", "--out", join(dir.path, "second.out"), "--detach", "--node", asker.ip]);
    expect(queued.state).toBe("queued");
    expect((await p2p(["client", "transfers", "--node", asker.ip])).stdout).toMatch(/second\.bin .* queued\n/);
    // Still queued while the first runs: it is small and its holder fast, so running it would end it at once.
    expect((await transferOf(asker, "second.bin"))!.state).toBe("queued");
    const firstDone = await waitForState(asker, "first.bin", "done", 60_000);
    const secondDone = await waitForState(asker, "second.bin", "done", 30_000);
    expect(secondDone.endedAt!).toBeGreaterThanOrEqual(firstDone.endedAt!);
    expect(readFileSync(join(dir.path, "first.out")).equals(readFileSync(first))).toBe(true);
    expect(readFileSync(join(dir.path, "second.out")).equals(readFileSync(second))).toBe(true);
  }, 120_000);

  test("a node restarted in the middle of a download resumes it by itself from its verified chunks", async () => {
    const original = await share(slow, "restart.bin", 5 * MiB);
    const out = join(dir.path, "restart.out");
    await json(["client", "download", "restart.bin", "--out", out, "--detach", "--node", asker.ip]);
    await waitForState(asker, "restart.bin", "downloading", 30_000, MiB);
    await net.stopNode(asker, "SIGKILL");
    asker = await net.restartNode(asker);
    await waitFor("the restarted node to say it resumes", () => /resuming the download of restart\.bin/.test(asker.log()), 30_000);
    // Running the download again follows the one the node resumed (at 1 MB/s it has seconds left): same file, same report.
    const report = await json<DownloadReport>(["client", "download", "restart.bin", "--out", out, "--node", asker.ip]);
    expect(report.resumedChunks).toBeGreaterThan(0);
    expect((await transferOf(asker, "restart.bin"))?.state).toBe("done");
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
  }, 120_000);

  test("a node stopped gracefully (SIGTERM) in the middle of a detached download resumes it when started again", async () => {
    const original = await share(slow, "graceful.bin", 4 * MiB);
    const out = join(dir.path, "graceful.out");
    await json(["client", "download", "graceful.bin", "--out", out, "--detach", "--node", asker.ip]);
    await waitForState(asker, "graceful.bin", "downloading", 30_000, MiB);
    expect(await net.stopNode(asker, "SIGTERM")).toBe(0);
    expect(existsSync(out)).toBe(false);
    asker = await net.restartNode(asker);
    await waitForState(asker, "graceful.bin", "done", 60_000);
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
  }, 120_000);

  test("--download-limit bounds the rate: 4 MiB at 1 MB/s takes at least 2 s", async () => {
    const limited = await net.addNode(undefined, { args: ["--download-limit", "1"] });
    await net.waitForConsistentRing(30_000);
    const original = await share(fast, "limited.bin", 4 * MiB);
    const out = join(dir.path, "limited.out");
    const report = await json<DownloadReport>(["client", "download", "limited.bin", "--out", out, "--no-share", "--node", limited.ip]);
    expect(report.milliseconds).toBeGreaterThanOrEqual(2_000);
    expect(readFileSync(out).equals(readFileSync(original))).toBe(true);
    await net.stopNode(limited);
  }, 90_000);

  test("transfers --clear forgets the ended downloads and keeps those under way", async () => {
    await share(fast, "clear-me.bin", 100_000);
    await json(["client", "download", "clear-me.bin", "--out", join(dir.path, "clear-me.out"), "--node", asker.ip]);
    expect((await transferOf(asker, "clear-me.bin"))?.state).toBe("done");
    const cleared = await p2p(["client", "transfers", "--clear", "--node", asker.ip]);
    expect(cleared.code).toBe(0);
    expect(cleared.stderr).toMatch(/^forgot \d+ ended downloads?\n$/);
    const report = await json<TransfersReport>(["client", "transfers", "--node", asker.ip]);
    expect(report.downloads.filter((entry) => !["queued", "downloading", "paused"].includes(entry.state))).toEqual([]);
  }, 60_000);
});
