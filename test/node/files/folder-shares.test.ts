// Sharing a folder whose files move while it is walked (a download renaming its .part inside it): a conflict to retry, never a crash.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Announcer } from "../../../src/node/files/announcer";
import { FolderShares } from "../../../src/node/files/folder-shares";
import type { FileCatalog } from "../../../src/node/files/ports";
import { isP2PError } from "../../../src/protocol/errors";
import { tempDir } from "../../helpers/wait";

const dir = tempDir();
afterAll(() => dir.remove());

describe("FolderShares.share", () => {
  test("a file that vanishes after the folder was walked is a CONFLICT naming it, with what to do", async () => {
    const root = join(dir.path, "moving");
    mkdirSync(root);
    writeFileSync(join(root, "a.txt"), "first");
    writeFileSync(join(root, "b.txt.part"), "second");
    const catalog = {
      byPath: () => [],
      // While a.txt is catalogued, a download renames b.txt.part into place.
      share: () => rmSync(join(root, "b.txt.part"), { force: true }),
    } as unknown as FileCatalog;
    const announcer = { announce: async () => {}, withdraw: async () => {} } as unknown as Announcer;
    const folders = new FolderShares({ catalog, announcer, warn: () => {} });
    let failure: unknown = null;
    try {
      await folders.share(root, "moving");
    } catch (error) {
      failure = error;
    }
    expect(isP2PError(failure, "CONFLICT")).toBe(true);
    expect((failure as Error).message).toBe("b.txt.part vanished from moving while it was being shared; share the folder again once it stops changing");
  });
});
