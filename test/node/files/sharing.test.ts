// Sharing and downloading, file and folder, between nodes in one process: the ring's records and the links in memory, no sockets.

import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isP2PError } from "../../../src/protocol/errors";
import { CHUNK_SIZE } from "../../../src/model/manifest";
import { tempDir } from "../../helpers/wait";
import { memoryFileNetwork } from "./memory-files";

const dir = tempDir();
const network = memoryFileNetwork(dir.path, 3);
const [alice, bob, carol] = network.nodes as [(typeof network.nodes)[0], (typeof network.nodes)[0], (typeof network.nodes)[0]];
afterAll(() => {
  network.close();
  dir.remove();
});

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return null;
}

describe("FileSharing over an in-memory ring", () => {
  test("a file one node shares is found by a word of its name, and another node downloads it, verified, from that node", async () => {
    const bytes = randomBytes(2 * CHUNK_SIZE + 1234);
    const path = join(alice.dir, "holiday photos.bin");
    writeFileSync(path, bytes);
    const shared = await alice.sharing.share(path, undefined);
    const found = await bob.sharing.search("photos");
    expect(found).toEqual([{ name: "holiday photos.bin", size: bytes.length, id: shared.id, holders: 1 }]);
    const out = join(bob.dir, "photos.bin");
    const report = await bob.sharing.download("holiday photos.bin", out);
    expect(Buffer.compare(readFileSync(out), bytes)).toBe(0);
    expect(report.sources).toEqual([alice.address]);
    expect(report.badSources).toEqual([]);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  test("a search for a word finds a name that numbers it (same1.txt) beside one that has it whole (same.txt)", async () => {
    for (const name of ["same.txt", "same1.txt", "2024same.txt"]) writeFileSync(join(alice.dir, name), randomBytes(100));
    for (const name of ["same.txt", "same1.txt", "2024same.txt"]) await alice.sharing.share(join(alice.dir, name), undefined);
    expect((await bob.sharing.search("same")).map((file) => file.name).sort()).toEqual(["2024same.txt", "same.txt", "same1.txt"]);
    expect((await bob.sharing.search("same1")).map((file) => file.name)).toEqual(["same1.txt"]);
    for (const name of ["same.txt", "same1.txt", "2024same.txt"]) await alice.sharing.unshare(name);
  });

  test("a node that downloaded a file holds it from then on: listed twice over, shared, and a source for the next", async () => {
    const [file] = (await carol.sharing.list()).filter((entry) => entry.name === "holiday photos.bin");
    expect(file?.holders).toBe(2);
    expect(bob.sharing.shared().map((entry) => entry.name)).toEqual(["holiday photos.bin"]);
    const report = await carol.sharing.download("holiday photos.bin", join(carol.dir, "photos.bin"));
    expect(report.sources.every((source) => source === alice.address || source === bob.address)).toBe(true);
    expect(report.sources.length).toBeGreaterThan(0);
  });

  test("a folder one node shares is downloaded by another with every file in its place, then shared by it as a folder", async () => {
    const root = join(alice.dir, "album");
    mkdirSync(join(root, "2024"), { recursive: true });
    const files = { "cover.txt": randomBytes(100), "2024/june.bin": randomBytes(CHUNK_SIZE + 7), "2024/empty.txt": Buffer.alloc(0) };
    for (const [path, bytes] of Object.entries(files)) writeFileSync(join(root, path), bytes);
    const shared = await alice.sharing.share(root, undefined);
    expect(shared).toMatchObject({ name: "album", folder: true, files: 3 });
    const out = join(bob.dir, "album");
    const report = await bob.sharing.download("album", out);
    expect(report).toMatchObject({ folder: true, files: 3, id: shared.id, sources: [alice.address] });
    for (const [path, bytes] of Object.entries(files)) expect(Buffer.compare(readFileSync(join(out, path)), bytes)).toBe(0);
    const listed = await carol.sharing.search("album");
    expect(listed).toEqual([{ name: "album", size: shared.size, id: shared.id, holders: 2, folder: true }]);
  });

  test("a folder download onto a file is a CONFLICT, --force or not, and the file stays as it was", async () => {
    const out = join(carol.dir, "not-a-folder");
    writeFileSync(out, "mine");
    const failure = await failureOf(carol.sharing.download("album", out, { force: true }));
    expect(isP2PError(failure, "CONFLICT")).toBe(true);
    expect((failure as Error).message).toContain("is a file; a folder download never replaces a file");
    expect(readFileSync(out, "utf8")).toBe("mine");
  });

  test("a file unshared is withdrawn at once: a download of it then finds no such file", async () => {
    const path = join(alice.dir, "draft.txt");
    writeFileSync(path, "not for long");
    await alice.sharing.share(path, undefined);
    await alice.sharing.unshare("draft.txt");
    const failure = await failureOf(carol.sharing.download("draft.txt", join(carol.dir, "draft.txt")));
    expect(isP2PError(failure, "NOT_FOUND")).toBe(true);
    expect((failure as Error).message).toBe("no file named 'draft.txt' in the network");
    expect(existsSync(join(carol.dir, "draft.txt"))).toBe(false);
  });
});
