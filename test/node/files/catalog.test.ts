// catalog.db: what a node shares and since when, kept across restarts, and older catalog files still open.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { CatalogStore, type SharedFile } from "../../../src/node/files/catalog";
import { tempDir } from "../../helpers/wait";

const dirs: Array<{ remove(): void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function fileNamed(name: string): SharedFile {
  return { fileId: "ab".repeat(32), name, path: `/srv/${name}`, size: 3, mtimeMs: 1, chunkSize: 1024, chunks: ["cd".repeat(32)] };
}

describe("CatalogStore", () => {
  test("a file keeps the time it was first shared when it is catalogued again and when the store is reopened", () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir.path, "catalog.db");
    const before = Date.now();
    const store = new CatalogStore(path);
    store.share(fileNamed("a.txt"));
    const since = store.allShared()[0]!.sharedAt!;
    expect(since).toBeGreaterThanOrEqual(before);
    store.share({ ...fileNamed("a.txt"), mtimeMs: 2 }); // re-announced after a touch: same id, same name
    expect(store.allShared()[0]!.sharedAt).toBe(since);
    store.shareFolder({ folderId: "ef".repeat(32), name: "pics", path: "/srv/pics", size: 0, manifest: { entries: [] } });
    const folderSince = store.allFolders()[0]!.sharedAt!;
    store.shareFolder({ folderId: "ef".repeat(32), name: "pics", path: "/srv/pics2", size: 0, manifest: { entries: [] } });
    store.close();

    const reopened = new CatalogStore(path);
    expect(reopened.allShared()[0]!.sharedAt).toBe(since);
    expect(reopened.allFolders()[0]).toMatchObject({ path: "/srv/pics2", sharedAt: folderSince });
    reopened.close();
  });

  test("a catalog.db written before share times were recorded opens, keeps its files, and says their time is unknown", () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir.path, "catalog.db");
    const old = new Database(path, { create: true, strict: true });
    old.exec(`CREATE TABLE shared (file_id TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
      chunk_size INTEGER NOT NULL, chunks TEXT NOT NULL, PRIMARY KEY (file_id, name));
      CREATE TABLE folders (folder_id TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, manifest TEXT NOT NULL,
      PRIMARY KEY (folder_id, name));`);
    old.query("INSERT INTO shared VALUES (?, ?, ?, ?, ?, ?, ?)").run("ab".repeat(32), "old.txt", "/srv/old.txt", 3, 1, 1024, "cd".repeat(32));
    old.close();

    const store = new CatalogStore(path);
    expect(store.allShared()).toEqual([expect.objectContaining({ name: "old.txt", sharedAt: null })]);
    store.share(fileNamed("new.txt"));
    expect(store.allShared().find((file) => file.name === "new.txt")?.sharedAt).toBeGreaterThan(0);
    store.close();
  });
});
