// The real binary's client commands on a real network: options before the command, transfers, cancel, shared, unshare, --no-share, output paths, search.

import { beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import type { Testnet, TestnetNode } from "../../src/testnet";
import type { SharedEntry, TransfersReport } from "../../src/wire/control";
import { cliTestnet } from "../helpers/cli-testnet";
import { startP2P } from "../helpers/processes";
import { onTerminal } from "../helpers/terminal";
import { waitFor } from "../helpers/wait";

const cli = cliTestnet({ nodes: 2 });
const { dir, p2p, json } = cli;
let net: Testnet;
let binary: string;
let alpha: TestnetNode;
let beta: TestnetNode;
beforeAll(() => {
  ({ net, binary } = cli);
  [alpha, beta] = net.nodes as [TestnetNode, TestnetNode];
});

function writeRandom(name: string, size: number): string {
  const path = join(dir.path, name);
  writeFileSync(path, randomBytes(size));
  return path;
}

describe("p2p client on a network of two nodes", () => {
  test("options before the command pick the node, and a --node that matches none is an error that touches no node", async () => {
    const status = await json<{ address: string }>(["client", "--node", beta.ip, "status"]);
    expect(status.address).toBe(beta.address);
    const wrong = await p2p(["client", "--node", "127.0.0.99", "leave"]);
    expect(wrong.code).toBe(EXIT.NOT_FOUND);
    expect(wrong.stderr).toMatch(/^error: no node for 127\.0\.0\.99/);
    expect(net.liveNodes()).toHaveLength(2);
    const ambiguous = await p2p(["client", "status", "--json"]);
    expect(ambiguous.code).toBe(EXIT.AMBIGUOUS);
    expect(JSON.parse(ambiguous.stdout).error.message).toMatch(/2 nodes run .* choose one with --node/);
  }, 60_000);

  test("status shows how often the node tends its place in the ring and the last change that made it busy", async () => {
    const status = await p2p(["client", "status", "--node", beta.ip]);
    expect(status.code).toBe(0);
    // A two-node ring joined moments ago: its last change is a new neighbour.
    expect(status.stdout).toMatch(/^upkeep {7}a round every \d+(\.\d)? (s|min)(; last change \d+(\.\d)? (s|min) ago: .+)?$/m);
    const json = await p2p(["client", "status", "--node", beta.ip, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ maintenanceMs: expect.any(Number) });
  }, 30_000);

  test("shared lists what a node shares, --no-share keeps a download private, and unshare withdraws at once", async () => {
    const original = writeRandom("quarterly big report.bin", 70_000);
    await json(["client", "upload", original, "--node", alpha.ip]);
    const shared = await json<SharedEntry[]>(["client", "--node", alpha.ip, "shared"]);
    expect(shared.map(({ name, path, size }) => ({ name, path, size }))).toEqual([{ name: "quarterly big report.bin", path: original, size: 70_000 }]);
    // Several unquoted words: all of them.
    const found = await json<{ name: string }[]>(["client", "search", "report", "quarterly", "--node", beta.ip]);
    expect(found.map((file) => file.name)).toEqual(["quarterly big report.bin"]);
    expect(await json<unknown[]>(["client", "search", "report", "nothere", "--node", beta.ip])).toEqual([]);

    // An existing folder as the output path, given as a second word: saved inside it.
    const folder = join(dir.path, "into");
    mkdirSync(folder);
    const report = await json<{ path: string }>(["client", "download", "quarterly big report.bin", folder, "--no-share", "--node", beta.ip]);
    expect(report.path).toBe(join(folder, "quarterly big report.bin"));
    expect(readFileSync(report.path).equals(readFileSync(original))).toBe(true);
    expect(await json<SharedEntry[]>(["client", "shared", "--node", beta.ip])).toEqual([]);
    const listed = await json<{ name: string; holders: number }[]>(["client", "list", "--node", beta.ip]);
    expect(listed.find((file) => file.name === "quarterly big report.bin")?.holders).toBe(1);

    const missingParent = await p2p(["client", "download", "quarterly big report.bin", "--out", join(dir.path, "no", "such", "x"), "--node", beta.ip]);
    expect(missingParent.code).toBe(EXIT.NOT_FOUND);
    expect(missingParent.stderr).toMatch(/the folder .*no\/such does not exist/);
    expect(missingParent.stderr).not.toContain(".part");

    const gone = await json<SharedEntry[]>(["client", "unshare", "quarterly big report.bin", "--node", alpha.ip]);
    expect(gone.map((entry) => entry.name)).toEqual(["quarterly big report.bin"]);
    expect(await json<SharedEntry[]>(["client", "shared", "--node", alpha.ip])).toEqual([]);
    // beta saw it held a moment ago: it now says nobody holding it is online, not that no such file exists.
    const offline = await p2p(["client", "download", "quarterly big report.bin", "--out", join(dir.path, "again.bin"), "--node", beta.ip]);
    expect(offline.code).toBe(EXIT.UNREACHABLE);
    expect(offline.stderr).toMatch(/no holder of 'quarterly big report.bin' is online \(last seen/);
    // A folder is shared as one item (test/cli/folders.test.ts); one with a link leading out of it is refused.
    mkdirSync(join(dir.path, "linked"));
    symlinkSync(dir.path, join(dir.path, "linked", "out"));
    const folderUpload = await p2p(["client", "upload", join(dir.path, "linked"), "--node", alpha.ip]);
    expect(folderUpload.code).toBe(EXIT.USAGE);
    expect(folderUpload.stderr).toMatch(/is a symbolic link leading out of the folder/);
    const unknown = await p2p(["client", "unshare", "never-shared", "--node", alpha.ip]);
    expect(unknown.code).toBe(EXIT.NOT_FOUND);
  }, 60_000);

  test("search folds case and accents", async () => {
    const original = writeRandom("accents.txt", 100);
    await json(["client", "upload", original, "--name", "Ünïcödé.txt", "--node", alpha.ip]);
    const found = await json<{ name: string }[]>(["client", "search", "unicode", "--node", beta.ip]);
    expect(found.map((file) => file.name)).toEqual(["Ünïcödé.txt"]);
  }, 60_000);

  test("transfers shows a download under way with its source, a second one to the same path is refused, and cancel keeps the .part", async () => {
    // A slow holder (1 MB/s), so the download is still running while we look at it.
    const slow = await net.addNode(undefined, { args: ["--upload-limit", "1"] });
    await net.waitForConsistentRing(30_000);
    const original = writeRandom("slow.iso", 12 * 1024 * 1024);
    await json(["client", "upload", original, "--node", slow.ip]);
    const out = join(dir.path, "slow.out");
    // On a terminal, so its progress line is drawn.
    const download = onTerminal([binary, "client", "download", "slow.iso", "--out", out, "--node", beta.ip], dir.path, net.env);
    // One source, named, in the singular; a rate and a time left like 1m02s once there is a rate.
    await download.when(/downloading \[[#-]+\] +\d+% .*\/s \d+(m\d\ds|s) left from 1 source \(127\.[\d.]+:\d+\)/, "", 20_000);
    const under = await waitFor("the download to show progress", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", beta.ip]);
      return report.downloads.find((entry) => entry.name === "slow.iso" && entry.state === "downloading" && entry.bytes > 0);
    }, 20_000);
    expect(under.sources).toEqual([slow.address]);
    const serving = await json<TransfersReport>(["client", "transfers", "--node", slow.ip]);
    expect(serving.serving.map((entry) => entry.name)).toContain("slow.iso");

    const twice = await p2p(["client", "download", "slow.iso", "--out", out, "--node", beta.ip]);
    expect(twice.code).toBe(EXIT.AMBIGUOUS);
    expect(twice.stderr).toMatch(/already downloading slow.iso to /);

    const text = await p2p(["client", "transfers", "--node", beta.ip]);
    expect(text.stdout).toMatch(/^NAME\s+ID\s+DONE\s+RATE\s+ETA\s+SOURCES\s+STARTED\s+ENDED\s+STATE/);
    expect(text.stdout).toMatch(/slow\.iso .* downloading/);

    const cancelled = await p2p(["client", "cancel", "slow.iso", "--node", beta.ip]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/cancelled the download of slow.iso \(.* kept; download it again to resume\)/);
    expect(await download.proc.exited).toBe(EXIT.UNREACHABLE);
    expect(download.screen()).toMatch(/error: the download of slow.iso was cancelled/);
    // The holder stops serving it at once: the requests it had queued (seconds of upload at 1 MB/s) are dropped.
    await waitFor("the holder to drop the cancelled download's requests", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", slow.ip]);
      return !report.serving.some((entry) => entry.name === "slow.iso" && entry.requests > 0);
    }, 2_000);
    expect(existsSync(`${out}.part`)).toBe(true);
    const after = await json<TransfersReport>(["client", "transfers", "--node", beta.ip]);
    expect(after.downloads.find((entry) => entry.name === "slow.iso")?.state).toBe("cancelled");
    const none = await p2p(["client", "cancel", "slow.iso", "--node", beta.ip]);
    expect(none.code).toBe(EXIT.NOT_FOUND);

    // Run again, it resumes from the .part; cancel --discard deletes it.
    const again = onTerminal([binary, "client", "download", "slow.iso", "--out", out, "--node", beta.ip], dir.path, net.env);
    await waitFor("the second attempt to be under way", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", beta.ip]);
      return report.downloads.some((entry) => entry.name === "slow.iso" && entry.state === "downloading");
    }, 20_000);
    const discarded = await p2p(["client", "cancel", "slow.iso", "--discard", "--node", beta.ip]);
    expect(discarded.stdout).toMatch(/its partial download was deleted/);
    await again.proc.exited;
    expect(existsSync(`${out}.part`)).toBe(false);

    // Ctrl-C on a download in progress: exit code 130, and the node keeps what it has.
    const interrupted = startP2P(["client", "download", "slow.iso", "--out", out, "--node", beta.ip], { executable: [binary], env: net.env });
    await waitFor("the third attempt to be under way", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", beta.ip]);
      return report.downloads[0]?.name === "slow.iso" && report.downloads[0].state === "downloading";
    }, 20_000);
    expect(await interrupted.stop("SIGINT")).toBe(EXIT.INTERRUPTED);
  }, 60_000);

  test("leave honours --json", async () => {
    const left = await json<{ left: boolean }>(["client", "leave", "--node", alpha.ip]);
    expect(left.left).toBe(true);
  }, 60_000);
});
