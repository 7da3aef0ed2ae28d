// Folders shared as one item through the real binary: a nested tree downloads intact, a hostile folder manifest writes nothing, a link out of a folder is refused.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import type { FileSummary } from "../../src/model/reports";
import { type FolderManifest, folderIdOf } from "../../src/model/folder";
import { loadIdentity } from "../../src/node/identity";
import { ringId } from "../../src/model/id";
import type { ProtocolClient } from "../../src/protocol/client";
import { type ProtocolServer, serve } from "../../src/protocol/server";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import type { DownloadReport, SharedEntry, SharedReport, TransfersReport } from "../../src/wire/control";
import { FILES } from "../../src/wire/files";
import { opTable, serveOp } from "../../src/wire/op";
import { RING } from "../../src/wire/ring";
import { builtBinary } from "../helpers/binary";
import { runP2P, startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";
import { hostileLink } from "../security/hostile";

const dir = tempDir();
const clients: ProtocolClient[] = [];
const servers: ProtocolServer[] = [];
let net: Testnet;
let binary: string;
let alpha: TestnetNode;
let beta: TestnetNode;
let gamma: TestnetNode;

beforeAll(async () => {
  binary = await builtBinary();
  net = await createTestnet({ nodes: 3, executable: [binary], nodeArgs: ["--stabilize", "200", "--rpc-timeout", "1000"] });
  [alpha, beta, gamma] = net.nodes as [TestnetNode, TestnetNode, TestnetNode];
  await net.waitForConsistentRing(30_000);
}, 120_000);
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
  await stopAllProcesses();
});
afterAll(async () => {
  await net?.close();
  dir.remove();
});

const p2p = (args: string[]) => runP2P(args, { executable: [binary], env: net.env, timeoutMs: 30_000 });
const sha256 = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

async function json<T>(args: string[]): Promise<T> {
  const result = await p2p([...args, "--json"]);
  if (result.code !== 0) throw new Error(`p2p ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Every file under `root`, as '/'-separated relative paths, sorted. */
function treeOf(root: string): string[] {
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as Array<{ name: string; parentPath: string; isFile(): boolean }>)
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort();
}

describe("folders", () => {
  test("a nested folder with an empty file and a name with spaces is shared as one item, listed, found, downloads intact on another node, is listed by its new holder as one item, and is announced again after its uploader restarts", async () => {
    const root = join(dir.path, "holiday photos");
    mkdirSync(join(root, "day one", "evening"), { recursive: true });
    writeFileSync(join(root, "notes with spaces.txt"), "first night at the lake\n");
    writeFileSync(join(root, "empty.txt"), "");
    writeFileSync(join(root, "day one", "beach.raw"), randomBytes(1024 * 1024 + 333));
    writeFileSync(join(root, "day one", "evening", "fire.raw"), randomBytes(70_000));
    const files = treeOf(root);
    expect(files).toHaveLength(4);

    const shared = await json<SharedReport>(["client", "upload", root, "--node", alpha.ip]);
    expect(shared).toMatchObject({ name: "holiday photos", folder: true, files: 4, size: 1024 * 1024 + 333 + 70_000 + 24 });
    const text = await p2p(["client", "upload", root, "--node", alpha.ip]);
    expect(text.stdout).toContain(`shared folder holiday photos/ (4 files,`);

    // Listed and found like a file, once: its files are not announced one by one.
    const listed = await json<FileSummary[]>(["client", "list", "--node", beta.ip]);
    expect(listed).toEqual([{ name: "holiday photos", size: shared.size, id: shared.id, holders: 1, folder: true }]);
    expect((await p2p(["client", "list", "--node", beta.ip])).stdout).toContain("holiday photos/");
    const found = await json<FileSummary[]>(["client", "search", "holiday", "--node", gamma.ip]);
    expect(found.map((file) => file.id)).toEqual([shared.id]);

    const out = join(dir.path, "gamma");
    mkdirSync(out);
    const report = await json<DownloadReport>(["client", "download", "holiday photos", "--out", out, "--node", gamma.ip]);
    expect(report).toMatchObject({ folder: true, files: 4, id: shared.id, path: join(out, "holiday photos") });
    expect(treeOf(report.path)).toEqual(files);
    for (const file of files) expect(sha256(join(report.path, file))).toBe(sha256(join(root, file)));
    const described = await p2p(["client", "download", "holiday photos", "--out", join(dir.path, "beta copy"), "--no-share", "--node", beta.ip]);
    expect(described.stdout).toMatch(/^downloaded folder holiday photos\/ \(4 files, /);
    expect(treeOf(join(dir.path, "beta copy"))).toEqual(files);

    // gamma shares the folder on: two holders now (beta kept its copy to itself).
    await waitFor("gamma to hold the folder too", async () => (await json<FileSummary[]>(["client", "list", "--node", alpha.ip]))[0]?.holders === 2, 10_000);

    // gamma lists it among what it shares as one item, and can stop sharing it.
    const gammaShares = await json<SharedEntry[]>(["client", "shared", "--node", gamma.ip]);
    expect(gammaShares).toEqual([expect.objectContaining({ name: "holiday photos", id: shared.id, path: report.path, folder: true })]);
    expect((await p2p(["client", "shared", "--node", gamma.ip])).stdout).toContain("holiday photos/");
    expect((await json<SharedEntry[]>(["client", "unshare", "holiday photos", "--node", gamma.ip])).map((entry) => entry.id)).toEqual([shared.id]);
    expect(await json<SharedEntry[]>(["client", "shared", "--node", gamma.ip])).toEqual([]);
    await waitFor("gamma's folder to be withdrawn", async () => (await json<FileSummary[]>(["client", "list", "--node", beta.ip]))[0]?.holders === 1, 10_000);

    // The uploader withdraws the folder as it leaves and announces it again when it is back, from its catalog.
    const key = ringId("name:holiday photos");
    const alphaHolds = async () => {
      const entries = JSON.parse(new TextDecoder().decode(await net.control(beta, "GET", [key]))) as Array<{ member: string; value: string; deleted?: boolean }>;
      return entries.some((entry) => entry.member === `${shared.id}@${alpha.address}` && !entry.deleted && JSON.parse(entry.value).folder === true);
    };
    expect(await alphaHolds()).toBe(true);
    await net.stopNode(alpha);
    expect(await alphaHolds()).toBe(false);
    alpha = await net.restartNode(alpha);
    await waitFor("alpha to announce its folder again after its restart", alphaHolds, 15_000);
  }, 60_000);

  test("a folder manifest with '../escape' or '/abs' paths is refused with a clear line and nothing is written", async () => {
    // The entries are put on the primary alpha names: the ring must agree on it (the test before restarts alpha).
    await net.waitForConsistentRing(30_000);
    // An insider: a real key, a server at its own address answering KEY and GET_FOLDER with a hostile manifest.
    const insider = loadIdentity(join(dir.path, "insider"));
    const fileId = "a".repeat(64);
    const manifests: Record<string, FolderManifest> = {
      "evil up": { entries: [{ path: "fine.txt", size: 1, fileId }, { path: "../escape.txt", size: 1, fileId }] },
      "evil abs": { entries: [{ path: join(dir.path, "abs.txt"), size: 1, fileId }] },
    };
    const byId = new Map(Object.values(manifests).map((manifest) => [folderIdOf(manifest), manifest]));
    const server = await serve({
      listen: { hostname: loopbackAddress(), port: 0 },
      ops: opTable(serveOp(RING.KEY, () => insider.publicKey), serveOp(FILES.GET_FOLDER, (id) => byId.get(id)!)),
    });
    servers.push(server);
    for (const [name, manifest] of Object.entries(manifests)) {
      const folderId = folderIdOf(manifest);
      const key = ringId(`name:${name}`);
      const now = Date.now();
      const entry = insider.signEntry({
        key, member: `${folderId}@${server.address}`, updatedAt: now, expiresAt: now + 600_000, deleted: false,
        value: JSON.stringify({ kind: "file", name, size: 2, fileId: folderId, holder: server.address, folder: true }),
      });
      const primaryAddress = (JSON.parse(new TextDecoder().decode(await net.control(alpha, "LOOKUP", [key]))) as { successor: { address: string } }).successor.address;
      const primary = await hostileLink(primaryAddress, clients);
      expect((await primary.send("PUT_RECORDS", [], { body: Buffer.from(JSON.stringify([entry])) })).status).toBe(200);
    }

    const target = join(dir.path, "hostile", "inside");
    mkdirSync(target, { recursive: true });
    const up = await p2p(["client", "download", "evil up", "--out", target, "--node", beta.ip]);
    expect(up.code).toBe(EXIT.USAGE);
    expect(up.stderr).toMatch(/refused the folder evil up: folder path "\.\.\/escape\.txt" climbs out with '\.\.'; refused; nothing was written/);
    const abs = await p2p(["client", "download", "evil abs", "--out", target, "--node", beta.ip]);
    expect(abs.code).toBe(EXIT.USAGE);
    expect(abs.stderr).toMatch(/folder path ".*abs\.txt" is absolute; refused/);
    expect(readdirSync(join(dir.path, "hostile"))).toEqual(["inside"]);
    expect(readdirSync(target)).toEqual([]);
    expect(existsSync(join(dir.path, "abs.txt"))).toBe(false);
  }, 60_000);

  test("a folder shared again after a change is announced under its new id only", async () => {
    const root = join(dir.path, "drafts");
    mkdirSync(root);
    writeFileSync(join(root, "one.txt"), "one");
    const first = await json<SharedReport>(["client", "upload", root, "--node", beta.ip]);
    writeFileSync(join(root, "two.txt"), "two");
    const second = await json<SharedReport>(["client", "upload", root, "--node", beta.ip]);
    expect(second).toMatchObject({ files: 2, size: 6 });
    expect(second.id).not.toBe(first.id);
    const found = await json<FileSummary[]>(["client", "search", "drafts", "--node", gamma.ip]);
    expect(found.map((file) => file.id)).toEqual([second.id]);
    expect((await json<SharedEntry[]>(["client", "shared", "--node", beta.ip])).filter((entry) => entry.name === "drafts").map((entry) => entry.id)).toEqual([second.id]);
  }, 30_000);

  test("a folder holding a link that leads out of it is refused at upload with a clear line", async () => {
    const root = join(dir.path, "linky");
    mkdirSync(root);
    writeFileSync(join(root, "ok.txt"), "ok");
    symlinkSync("/etc/hostname", join(root, "leak"));
    const refused = await p2p(["client", "upload", root, "--node", alpha.ip]);
    expect(refused.code).toBe(EXIT.USAGE);
    expect(refused.stderr).toMatch(/leak is a symbolic link leading out of the folder; folders with links are not shared/);
    expect((await json<FileSummary[]>(["client", "search", "linky", "--node", beta.ip])).length).toBe(0);
  }, 30_000);

  test("a folder download that was interrupted resumes when run again, without --force", async () => {
    // A slow holder (2 MB/s), so the download is still running when its client is killed.
    const slow = await net.addNode(undefined, { args: ["--upload-limit", "2"] });
    await net.waitForConsistentRing(30_000);
    const root = join(dir.path, "album");
    mkdirSync(root);
    writeFileSync(join(root, "a.raw"), randomBytes(3 * 1024 * 1024));
    writeFileSync(join(root, "b.raw"), randomBytes(3 * 1024 * 1024 + 17));
    await json(["client", "upload", root, "--node", slow.ip]);
    const out = join(dir.path, "album copy");
    const first = startP2P(["client", "download", "album", "--out", out, "--node", gamma.ip], { executable: [binary], env: net.env });
    await waitFor("the first attempt to have fetched some of the folder", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", gamma.ip]);
      return report.downloads.some((entry) => entry.name.startsWith("album/") && entry.state === "downloading" && entry.bytes > 0);
    }, 20_000);
    first.proc.kill("SIGKILL"); // the client hangs up: the node stops the download and keeps what it has
    await first.proc.exited;
    await waitFor("the node to stop the download", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", gamma.ip]);
      return !report.downloads.some((entry) => entry.name.startsWith("album/") && entry.state === "downloading");
    }, 10_000);

    // The same command again: --out is a folder now, and the download continues in it, not in a new folder inside it.
    const again = await json<DownloadReport>(["client", "download", "album", "--out", out, "--node", gamma.ip]);
    expect(again.path).toBe(out);
    expect(again.resumedChunks).toBeGreaterThan(0);
    expect(treeOf(out)).toEqual(["a.raw", "b.raw"]);
    for (const file of ["a.raw", "b.raw"]) expect(sha256(join(out, file))).toBe(sha256(join(root, file)));
    // A folder this node did not download there is still not overwritten without --force.
    const elsewhere = join(dir.path, "unrelated");
    mkdirSync(join(elsewhere, "album"), { recursive: true });
    writeFileSync(join(elsewhere, "album", "mine.txt"), "not from p2p");
    const refused = await p2p(["client", "download", "album", "--out", elsewhere, "--node", gamma.ip]);
    expect(refused.code).toBe(EXIT.AMBIGUOUS);
    expect(refused.stderr).toMatch(/already exists; use --force to overwrite it/);
    expect(readFileSync(join(elsewhere, "album", "mine.txt"), "utf8")).toBe("not from p2p");
  }, 90_000);

  test("a file changed inside a shared folder gets the folder announced under its new id at once, not minutes later", async () => {
    const root = join(dir.path, "live");
    mkdirSync(root);
    writeFileSync(join(root, "readme.txt"), "version one\n");
    writeFileSync(join(root, "data.bin"), randomBytes(100_000));
    const first = await json<SharedReport>(["client", "upload", root, "--node", beta.ip]);
    writeFileSync(join(root, "readme.txt"), "version two, longer\n");
    // A downloader of the old id asks for the changed file: the holder notices and announces the folder again.
    const stale = await p2p(["client", "download", "live", "--out", join(dir.path, "live stale"), "--node", gamma.ip]);
    expect(stale.code).not.toBe(0);
    const renewed = await waitFor("the folder to be announced under a new id only", async () => {
      const found = await json<FileSummary[]>(["client", "search", "live", "--node", alpha.ip]);
      return found.length === 1 && found[0]!.id !== first.id ? found[0] : null;
    }, 15_000);
    const out = join(dir.path, "live fresh");
    const report = await json<DownloadReport>(["client", "download", "live", "--out", out, "--node", gamma.ip]);
    expect(report.id).toBe(renewed.id);
    expect(readFileSync(join(out, "readme.txt"), "utf8")).toBe("version two, longer\n");
  }, 60_000);
});
