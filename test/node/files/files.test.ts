// Sharing files over real processes: upload, list, search and download, verified, multi-source and resumable.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../../../src/protocol/client";
import { type Testnet, type TestnetNode, createTestnet } from "../../../src/testnet";
import { runP2P } from "../../helpers/processes";
import { tempDir, waitFor } from "../../helpers/wait";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const MiB = 1024 * 1024;

interface FileRow {
  name: string;
  size: number;
  id: string;
  holders: number;
}

interface DownloadReport extends FileRow {
  path: string;
  sources: string[];
  badSources: string[];
  resumedChunks: number;
}

const sha256 = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

/** Runs `p2p client <args> --json` against `node`; returns parsed stdout, or throws with stderr. */
async function client<T>(net: Testnet, node: TestnetNode, args: string[]): Promise<T> {
  const result = await runP2P(["client", ...args, "--json", "--node", node.ip], { env: net.env, timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`p2p client ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

async function clientFails(net: Testnet, node: TestnetNode, args: string[]): Promise<string> {
  const result = await runP2P(["client", ...args, "--node", node.ip], { env: net.env, timeoutMs: 60_000 });
  // Exit codes by kind (src/cli/exit-codes.ts): 2 usage, 3 not found, 4 ambiguous or existing, 5 no holder.
  expect([1, 2, 3, 4, 5]).toContain(result.code);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result.stderr;
}

function writeRandom(path: string, size: number): string {
  const bytes = randomBytes(size);
  // A protocol-looking line inside the data: it must travel as bytes, not as a frame.
  if (size > 64) bytes.set(Buffer.from("\r\n200 OK 0\r\n\r\n"), 17);
  writeFileSync(path, bytes);
  return path;
}

describe("sharing on a network of five nodes", () => {
  let net: Testnet;
  const dir = tempDir();

  beforeAll(async () => {
    net = await createTestnet({ nodes: 5, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
  }, 60_000);
  afterAll(async () => {
    await net.close();
    dir.remove();
  });

  test("a random binary file containing CRLF downloads intact on another node, which then holds it too", async () => {
    const [alpha, , , , echo] = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode, TestnetNode];
    const original = writeRandom(join(dir.path, "binary.dat"), 3 * MiB + 123);
    const shared = await client<FileRow>(net, alpha, ["upload", original]);
    expect(shared).toEqual({ name: "binary.dat", size: 3 * MiB + 123, id: expect.stringMatching(/^[0-9a-f]{64}$/) } as never);
    const out = join(dir.path, "binary.from-echo");
    const report = await client<DownloadReport>(net, echo, ["download", "binary.dat", "--out", out]);
    expect(report.path).toBe(out);
    expect(report.sources).toEqual([alpha.address]);
    expect(sha256(out)).toBe(sha256(original));
    expect(existsSync(`${out}.part`)).toBe(false);
    const listed = await client<FileRow[]>(net, net.nodes[2]!, ["list"]);
    expect(listed.find((file) => file.name === "binary.dat")?.holders).toBe(2);
  }, 60_000);

  test("names with spaces and non-ASCII letters are listed, found by a word, and downloaded", async () => {
    const name = "Über große Träume 2024.txt";
    const original = writeRandom(join(dir.path, "dreams.txt"), 5000);
    await client(net, net.nodes[1]!, ["upload", original, "--name", name]);
    const found = await client<FileRow[]>(net, net.nodes[3]!, ["search", "TRÄUME"]);
    expect(found.map((file) => file.name)).toEqual([name]);
    const out = join(dir.path, "dreams.out");
    await client(net, net.nodes[3]!, ["download", name, "--out", out]);
    expect(sha256(out)).toBe(sha256(original));
  }, 60_000);

  test("list and search from a node that holds nothing see every file exactly once", async () => {
    const first = writeRandom(join(dir.path, "report-final.pdf"), 2000);
    const second = writeRandom(join(dir.path, "holiday photo.jpg"), 3000);
    await client(net, net.nodes[0]!, ["upload", first]);
    await client(net, net.nodes[1]!, ["upload", second]);
    const listed = await client<FileRow[]>(net, net.nodes[4]!, ["list"]);
    const names = listed.map((file) => file.name);
    expect(names).toContain("report-final.pdf");
    expect(names).toContain("holiday photo.jpg");
    expect(new Set(names.map((name, index) => `${name}/${listed[index]!.id}`)).size).toBe(names.length);
    expect((await client<FileRow[]>(net, net.nodes[4]!, ["search", "photo"])).map((file) => file.name)).toEqual(["holiday photo.jpg"]);
    // Not a whole word: found by matching over the list.
    expect((await client<FileRow[]>(net, net.nodes[4]!, ["search", "port-fin"])).map((file) => file.name)).toEqual(["report-final.pdf"]);
    expect(await client<FileRow[]>(net, net.nodes[4]!, ["search", "nothing-like-this"])).toEqual([]);
  }, 60_000);

  test("a file held by three nodes is downloaded from all three at once", async () => {
    const original = writeRandom(join(dir.path, "popular.iso"), 8 * MiB);
    for (const node of net.nodes.slice(0, 3)) await client(net, node, ["upload", original]);
    const out = join(dir.path, "popular.out");
    const report = await client<DownloadReport>(net, net.nodes[4]!, ["download", "popular.iso", "--out", out]);
    expect(report.sources.sort()).toEqual(net.nodes.slice(0, 3).map((node) => node.address).sort());
    expect(sha256(out)).toBe(sha256(original));
  }, 60_000);

  test("empty and one-byte files work", async () => {
    for (const [name, size] of [["empty.txt", 0], ["one.txt", 1]] as const) {
      const original = join(dir.path, name);
      writeFileSync(original, size === 0 ? "" : "x");
      await client(net, net.nodes[2]!, ["upload", original]);
      const out = join(dir.path, `${name}.out`);
      const report = await client<DownloadReport>(net, net.nodes[3]!, ["download", name, "--out", out]);
      expect(report.size).toBe(size);
      expect(readFileSync(out).length).toBe(size);
    }
  }, 60_000);

  test("two files with one name both stay listed; download asks which, and name@id picks one", async () => {
    const first = writeRandom(join(dir.path, "twin-a"), 1000);
    const second = writeRandom(join(dir.path, "twin-b"), 2000);
    const a = await client<FileRow>(net, net.nodes[0]!, ["upload", first, "--name", "twin.bin"]);
    const b = await client<FileRow>(net, net.nodes[1]!, ["upload", second, "--name", "twin.bin"]);
    const listed = (await client<FileRow[]>(net, net.nodes[2]!, ["list"])).filter((file) => file.name === "twin.bin");
    expect(listed.map((file) => file.id).sort()).toEqual([a.id, b.id].sort());
    const message = await clientFails(net, net.nodes[2]!, ["download", "twin.bin", "--out", join(dir.path, "twin.out")]);
    expect(message).toContain(`twin.bin@${a.id.slice(0, 12)}`);
    expect(message).toContain(`twin.bin@${b.id.slice(0, 12)}`);
    const out = join(dir.path, "twin.out");
    await client(net, net.nodes[2]!, ["download", `twin.bin@${b.id.slice(0, 8)}`, "--out", out]);
    expect(sha256(out)).toBe(sha256(second));
  }, 60_000);

  test("clear errors: unknown name with a close match, existing output, a path as a name, a missing file", async () => {
    const original = writeRandom(join(dir.path, "unique-name.txt"), 100);
    await client(net, net.nodes[0]!, ["upload", original]);
    expect(await clientFails(net, net.nodes[1]!, ["download", "unique-nme.txt"])).toMatch(/no file named 'unique-nme.txt'.*did you mean 'unique-name.txt'/);
    expect(await clientFails(net, net.nodes[1]!, ["download", "unique-name.txt", "--out", original])).toMatch(/already exists; use --force/);
    expect(await clientFails(net, net.nodes[1]!, ["upload", original, "--name", "../etc/passwd"])).toMatch(/cannot contain '\/'/);
    expect(await clientFails(net, net.nodes[1]!, ["upload", join(dir.path, "no-such-file")])).toMatch(/no such file/);
    const forced = await client<DownloadReport>(net, net.nodes[1]!, ["download", "unique-name.txt", "--out", join(dir.path, "unique.out")]);
    expect(forced.size).toBe(100);
  }, 60_000);

  test("a shared file that changes on disk is never served as the old file, and is re-announced", async () => {
    const path = writeRandom(join(dir.path, "changing.log"), 4000);
    const before = await client<FileRow>(net, net.nodes[3]!, ["upload", path]);
    writeRandom(path, 5000);
    const message = await clientFails(net, net.nodes[4]!, ["download", `changing.log@${before.id.slice(0, 12)}`, "--out", join(dir.path, "changing.old")]);
    expect(message).toMatch(/no reachable holder|does not share|has an id starting with/);
    const renewed = await waitFor("the changed file to be re-announced", async () => {
      const files = await client<FileRow[]>(net, net.nodes[4]!, ["search", "changing"]);
      return files.find((file) => file.id !== before.id && file.size === 5000);
    });
    const out = join(dir.path, "changing.new");
    await client(net, net.nodes[4]!, ["download", `changing.log@${renewed.id.slice(0, 12)}`, "--out", out]);
    expect(sha256(out)).toBe(sha256(path));
  }, 60_000);
});

describe("sharing when things go wrong", () => {
  let net: Testnet | null = null;
  const dir = tempDir();
  afterEach(async () => {
    await net?.close();
    net = null;
  });
  afterAll(() => dir.remove());

  /** Starts a DOWNLOAD on the control socket; resolves `started` at the first progress with bytes. */
  function startDownload(node: TestnetNode, name: string, out: string) {
    let markStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const result = (async () => {
      const link = await connect({ unix: node.socketPath });
      try {
        const reply = await link.request("DOWNLOAD", [name, out], {
          timeoutMs: 60_000,
          onProgress: (lines) => {
            if (lines.some((line) => JSON.parse(line).chunksDone > 0)) markStarted();
          },
        });
        return JSON.parse(new TextDecoder().decode(reply.body)) as DownloadReport;
      } finally {
        link.close();
      }
    })();
    return { started, result };
  }

  test("a holder killed mid-download: the rest comes from the others and the file is intact", async () => {
    net = await createTestnet({ nodes: 4, nodeArgs: [...FAST, "--upload-limit", "3"] });
    await net.waitForConsistentRing(30_000);
    const original = writeRandom(join(dir.path, "big.bin"), 12 * MiB);
    for (const node of net.nodes.slice(0, 3)) await client(net, node, ["upload", original]);
    const out = join(dir.path, "big.out");
    const download = startDownload(net.nodes[3]!, "big.bin", out);
    await download.started;
    await net.stopNode(net.nodes[1]!, "SIGKILL");
    const report = await download.result;
    expect(report.sources.length).toBeGreaterThanOrEqual(2);
    expect(sha256(out)).toBe(sha256(original));
  }, 90_000);

  test("a holder serving corrupted bytes is dropped and the file still arrives intact", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const good = writeRandom(join(dir.path, "data.bin"), 6 * MiB);
    const bad = join(dir.path, "data-copy.bin");
    writeFileSync(bad, readFileSync(good));
    await client(net, net.nodes[0]!, ["upload", good, "--name", "data.bin"]);
    await client(net, net.nodes[1]!, ["upload", bad, "--name", "data.bin"]);
    // Bit rot on the second holder: same size, same mtime to the nanosecond, different bytes.
    const mtime = Bun.spawnSync(["stat", "-c", "%.9Y", bad]).stdout.toString().trim();
    const bytes = readFileSync(bad);
    for (let chunk = 0; chunk < 6; chunk++) bytes[chunk * MiB + 99] = bytes[chunk * MiB + 99]! ^ 0xff;
    writeFileSync(bad, bytes);
    expect(Bun.spawnSync(["touch", "-m", "-d", `@${mtime}`, bad]).exitCode).toBe(0);
    const out = join(dir.path, "data.out");
    const report = await client<DownloadReport>(net, net.nodes[2]!, ["download", "data.bin", "--out", out]);
    expect(report.badSources).toEqual([net.nodes[1]!.address]);
    expect(sha256(out)).toBe(sha256(good));
  }, 90_000);

  test("a download whose node is killed resumes from its verified chunks when run again", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: [...FAST, "--upload-limit", "4"] });
    await net.waitForConsistentRing(30_000);
    const original = writeRandom(join(dir.path, "resume.bin"), 16 * MiB);
    await client(net, net.nodes[0]!, ["upload", original]);
    await client(net, net.nodes[1]!, ["upload", original]);
    const downloader = net.nodes[2]!;
    const out = join(dir.path, "resume.out");
    const first = startDownload(downloader, "resume.bin", out);
    const interrupted = first.result.then(() => "finished", () => "interrupted");
    await first.started;
    await waitFor("a few chunks to land", () => statSync(`${out}.part`).size > 4 * MiB, 20_000);
    await net.stopNode(downloader, "SIGKILL");
    expect(await interrupted).toBe("interrupted");
    const restarted = await net.addNode(Number(downloader.ip.split(".")[3]));
    const report = await client<DownloadReport>(net, restarted, ["download", "resume.bin", "--out", out]);
    expect(report.resumedChunks).toBeGreaterThan(0);
    expect(report.resumedChunks).toBeLessThan(16);
    expect(sha256(out)).toBe(sha256(original));
  }, 90_000);

  test("a holder that leaves gracefully stops being offered at once", async () => {
    net = await createTestnet({ nodes: 3, nodeArgs: FAST });
    await net.waitForConsistentRing(30_000);
    const original = writeRandom(join(dir.path, "leaving.txt"), 100);
    await client(net, net.nodes[0]!, ["upload", original]);
    expect((await client<FileRow[]>(net, net.nodes[1]!, ["search", "leaving"])).length).toBe(1);
    await net.stopNode(net.nodes[0]!, "SIGTERM");
    await net.waitForConsistentRing(15_000);
    expect(await client<FileRow[]>(net, net.nodes[1]!, ["list"])).toEqual([]);
  }, 60_000);
});
