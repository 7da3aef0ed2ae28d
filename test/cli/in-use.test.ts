// What broke when people used the real binary (issues 19 and 23): own files, unshare after a restart, names with the same bytes, changed files, damaged .part and catalog files.

import { beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { CHUNK_SIZE } from "../../src/model/manifest";
import { Bitfield } from "../../src/model/bitfield";
import type { Testnet, TestnetNode } from "../../src/testnet";
import type { DownloadReport, SharedEntry, TransfersReport } from "../../src/wire/control";
import { cliTestnet } from "../helpers/cli-testnet";
import { startP2P } from "../helpers/processes";
import { waitFor } from "../helpers/wait";

const cli = cliTestnet({ nodes: 3 });
const { dir, p2p, json } = cli;
let net: Testnet;
let binary: string;
let alpha: TestnetNode;
let beta: TestnetNode;
beforeAll(() => {
  ({ net, binary } = cli);
  [alpha, beta] = net.nodes as [TestnetNode, TestnetNode];
});

function write(name: string, bytes: Uint8Array | string): string {
  const path = join(dir.path, name);
  writeFileSync(path, bytes);
  return path;
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const names = (files: { name: string }[]) => files.map((file) => file.name).sort();

describe("the binary, as people used it", () => {
  test("a node downloads a file only it holds: a verified copy, no .part left, and it keeps sharing the original", async () => {
    const original = write("only-here.bin", randomBytes(3 * CHUNK_SIZE + 123));
    await json(["client", "upload", original, "--node", alpha.ip]);
    const out = join(dir.path, "only-here copy.bin");
    const report = await json<DownloadReport>(["client", "download", "only-here.bin", "--out", out, "--node", alpha.ip]);
    expect(report.sources).toEqual([alpha.address]);
    expect(sha256(out)).toBe(sha256(original));
    expect(existsSync(`${out}.part`)).toBe(false);
    const shared = await json<SharedEntry[]>(["client", "shared", "--node", alpha.ip]);
    expect(shared.find((entry) => entry.name === "only-here.bin")?.path).toBe(original);
  }, 60_000);

  test("search lists every name that matches, also names whose bytes are the same, and unsharing one leaves the other", async () => {
    const bytes = randomBytes(100_000);
    await json(["client", "upload", write("twin.bin", bytes), "--node", alpha.ip]);
    await json(["client", "upload", write("twin-copy.bin", bytes), "--node", alpha.ip]);
    await json(["client", "upload", write("-dash.txt", "same words\n"), "--node", alpha.ip]);
    await json(["client", "upload", write("plain.txt", "same words\n"), "--node", alpha.ip]);
    expect(names(await json(["client", "search", "twin", "--node", beta.ip]))).toEqual(["twin-copy.bin", "twin.bin"]);
    expect(names(await json(["client", "search", "txt", "--node", beta.ip]))).toEqual(expect.arrayContaining(["-dash.txt", "plain.txt"]));

    await json(["client", "unshare", "twin-copy.bin", "--node", alpha.ip]);
    expect(names(await json(["client", "search", "twin", "--node", beta.ip]))).toEqual(["twin.bin"]);
  }, 60_000);

  test("the first download of a file changed on disk since it was shared fetches the new bytes by name", async () => {
    const path = write("changing.txt", "the first version\n");
    await json(["client", "upload", path, "--node", alpha.ip]);
    writeFileSync(path, "the second version, longer than the first\n");
    const out = join(dir.path, "changing.out");
    const result = await p2p(["client", "download", "changing.txt", "--out", out, "--node", beta.ip]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("the second version, longer than the first\n");
  }, 60_000);

  test("a byte flipped in a verified chunk of a .part is caught on resume: the chunk is fetched again and the file is right", async () => {
    // A slow holder (1 MB/s), so the download can be stopped part way.
    const slow = await net.addNode(undefined, { args: ["--upload-limit", "1"] });
    await net.waitForConsistentRing(30_000);
    const original = write("resumable.bin", randomBytes(8 * CHUNK_SIZE));
    await json(["client", "upload", original, "--node", slow.ip]);
    const out = join(dir.path, "resumable.out");
    const first = startP2P(["client", "download", "resumable.bin", "--out", out, "--node", beta.ip], { executable: [binary], env: net.env });
    await waitFor("two chunks to be verified", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", beta.ip]);
      return (report.downloads.find((entry) => entry.name === "resumable.bin")?.bytes ?? 0) >= 2 * CHUNK_SIZE;
    }, 30_000);
    expect((await p2p(["client", "cancel", "resumable.bin", "--node", beta.ip])).code).toBe(0);
    await first.proc.exited;

    const status = await json<{ dataDir: string }>(["client", "status", "--node", beta.ip]);
    const catalog = new Database(join(status.dataDir, "catalog.db"), { readonly: true });
    const row = catalog.query("SELECT verified FROM downloads WHERE name = 'resumable.bin'").get() as { verified: Uint8Array };
    catalog.close();
    const verified = [...new Bitfield(8, new Uint8Array(row.verified)).indices()];
    expect(verified.length).toBeGreaterThan(0);
    const part = readFileSync(`${out}.part`);
    part[verified[0]! * CHUNK_SIZE + 1000]! ^= 0x01;
    writeFileSync(`${out}.part`, part);

    const again = await p2p(["client", "download", "resumable.bin", "--out", out, "--node", beta.ip]);
    expect(again.code).toBe(0);
    expect(sha256(out)).toBe(sha256(original));
    expect(again.stdout).toContain(`resumed after ${verified.length - 1} chunks (1 chunk kept from the earlier attempt no longer matched and was fetched again); every chunk verified`);
  }, 90_000);

  test("a damaged catalog: a wrong stored hash is dropped and withdrawn with a warning at start, and a file that is not a database is named with what to do", async () => {
    const gamma = net.nodes[2]!;
    const path = write("catalogued.bin", randomBytes(50_000));
    await json(["client", "upload", path, "--node", gamma.ip]);
    const { dataDir } = await json<{ dataDir: string }>(["client", "status", "--node", gamma.ip]);
    const catalogPath = join(dataDir, "catalog.db");
    // Killed, so its announcement of the file stays in the ring.
    await net.stopNode(gamma, "SIGKILL");
    // One stored chunk hash changed by one hex digit.
    const db = new Database(catalogPath);
    const { chunks } = db.query("SELECT chunks FROM shared WHERE name = 'catalogued.bin'").get() as { chunks: string };
    db.query("UPDATE shared SET chunks = ? WHERE name = 'catalogued.bin'").run((chunks[0] === "0" ? "1" : "0") + chunks.slice(1));
    db.close();

    const restarted = await net.restartNode(gamma);
    expect(restarted.log()).toContain(`catalog.db is damaged: its entry for catalogued.bin (${path}) does not match its file id; no longer sharing it; share it again with: p2p client upload ${path}`);
    expect(names(await json<SharedEntry[]>(["client", "shared", "--node", restarted.ip]))).not.toContain("catalogued.bin");
    // What it announced before is withdrawn once it is back in the ring: nobody is sent to it for a file it no longer serves.
    await waitFor("the damaged entry's old announcement to be withdrawn", async () => !names(await json(["client", "list", "--node", alpha.ip])).includes("catalogued.bin"), 20_000, 250);
    const download = await p2p(["client", "download", "catalogued.bin", "--out", join(dir.path, "catalogued.out"), "--node", alpha.ip]);
    expect(download.code).not.toBe(0);
    expect(download.stderr).not.toMatch(/manifest does not match/);

    // The first byte of SQLite's header flipped: the node stops at start, naming the file and what to do.
    await net.stopNode(restarted);
    for (const name of ["catalog.db", "records.db"]) {
      const file = join(dataDir, name);
      const bytes = readFileSync(file);
      bytes[0]! ^= 0xff;
      writeFileSync(file, bytes);
      const broken = await net.restartNode(net.nodes[2]!, { waitForJoin: false });
      expect(await broken.process.exited).not.toBe(0);
      expect(broken.log()).toContain(`${file} is damaged (file is not a database); move it aside (rename it) and start`);
      bytes[0]! ^= 0xff;
      writeFileSync(file, bytes);
    }
  }, 90_000);

  test("unshare right after a restart withdraws the file: every node's list and search drop it and download finds nothing", async () => {
    const delta = await net.addNode();
    await net.waitForConsistentRing(30_000);
    // Enough shared files that the re-announce after a restart is still walking them when the unshare comes.
    for (let index = 0; index < 15; index++) await json(["client", "upload", write(`filler ${index} of some words.txt`, `filler ${index}`), "--node", delta.ip]);
    await json(["client", "upload", write("stale.txt", "withdraw me\n"), "--node", delta.ip]);
    await net.stopNode(delta);
    const back = await net.restartNode(delta);
    await json(["client", "unshare", "stale.txt", "--node", back.ip]);

    await waitFor("every node's list and search to drop stale.txt", async () => {
      for (const node of net.liveNodes()) {
        if (names(await json(["client", "list", "--node", node.ip])).includes("stale.txt")) return false;
        if (names(await json(["client", "search", "stale", "--node", node.ip])).includes("stale.txt")) return false;
      }
      return true;
    }, 20_000, 500);
    // A node that never saw it listed is told there is no such file; one that did, that no holder is online.
    const download = await p2p(["client", "download", "stale.txt", "--out", join(dir.path, "stale.out"), "--node", beta.ip]);
    expect([EXIT.NOT_FOUND, EXIT.UNREACHABLE] as number[]).toContain(download.code);
    expect(download.stderr).toMatch(/^error: no (file named|holder of) 'stale\.txt'/);
  }, 120_000);
});
