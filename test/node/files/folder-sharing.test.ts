// Sharing a folder whose files move while it is walked (a download renaming its .part inside it): a conflict to retry, never a crash.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CatalogStore } from "../../../src/node/files/catalog";
import { type FolderHost, shareFolder } from "../../../src/node/files/folder-sharing";
import { isP2PError } from "../../../src/protocol/errors";
import { tempDir } from "../../helpers/wait";

const dir = tempDir();
afterAll(() => dir.remove());

describe("shareFolder", () => {
  test("a file that vanishes after the folder was walked is a CONFLICT naming it, with what to do", async () => {
    const root = join(dir.path, "moving");
    mkdirSync(root);
    writeFileSync(join(root, "a.txt"), "first");
    writeFileSync(join(root, "b.txt.part"), "second");
    const host = {
      options: { catalog: { byPath: () => [] } as unknown as CatalogStore, warn: () => {} },
      // While a.txt is catalogued, a download renames b.txt.part into place.
      markShared: () => rmSync(join(root, "b.txt.part"), { force: true }),
      announce: async () => {},
      withdraw: async () => {},
      fetchFile: async () => {
        throw new Error("not used");
      },
    } as unknown as FolderHost;
    let failure: unknown = null;
    try {
      await shareFolder(host, root, "moving");
    } catch (error) {
      failure = error;
    }
    expect(isP2PError(failure, "CONFLICT")).toBe(true);
    expect((failure as Error).message).toBe("b.txt.part vanished from moving while it was being shared; share the folder again once it stops changing");
  });
});
