// A download's first step: the file's manifest from the first holder that gives one matching its id, or an error that says why none did.

import { P2PError, isP2PError } from "../../protocol/errors";
import type { ChunkServer } from "./chunk-server";
import type { Manifest } from "../../model/manifest";
import type { FileLinks } from "./ports";

/** No holder gave the manifest; `allMissing`: each one answered that it does not have this id (any more). */
export class ManifestUnavailable extends P2PError {
  readonly allMissing: boolean;
  constructor(message: string, allMissing: boolean) {
    super("UNAVAILABLE", message);
    this.allMissing = allMissing;
  }
}

/** Asks each holder in turn (this node answers for itself); the wire checks the manifest against `fileId`. */
export async function fetchManifest(
  node: { selfAddress: string; links: FileLinks },
  server: ChunkServer,
  name: string,
  fileId: string,
  holders: string[],
): Promise<Manifest> {
  const failures: string[] = [];
  let missing = 0;
  for (const address of holders) {
    try {
      if (address === node.selfAddress) return server.manifestFor(fileId);
      return await node.links.manifest(address, fileId);
    } catch (error) {
      if (!(isP2PError(error) || error instanceof SyntaxError)) throw error;
      if (isP2PError(error, "NOT_FOUND")) missing++;
      failures.push(`${address}: ${(error as Error).message}`);
    }
  }
  const allMissing = holders.length > 0 && missing === holders.length;
  const why = allMissing ? "it changed on disk or is no longer shared there; run the download again in a moment" : failures.join("; ") || "none announced";
  const message = `no reachable holder of ${name} (id ${fileId.slice(0, 12)}): ${why}`;
  throw new ManifestUnavailable(allMissing ? `${message} (${failures.join("; ")})` : message, allMissing);
}

/** How long a download waits for a changed file's new id to be announced, and how often it looks. */
const ID_CHANGE_WAIT_MS = 10_000;
const ID_CHANGE_POLL_MS = 250;

/**
 * Waits until the files a name leads to (`read`) are held under ids other than `oldId` only: the holder
 * changed the file on disk and announced it again. False when that does not happen within ID_CHANGE_WAIT_MS.
 */
export async function waitForNewId(read: () => Promise<Array<{ id: string; holders: number }>>, oldId: string): Promise<boolean> {
  const deadline = performance.now() + ID_CHANGE_WAIT_MS;
  while (performance.now() < deadline) {
    await Bun.sleep(ID_CHANGE_POLL_MS);
    const held = (await read()).filter((file) => file.holders > 0);
    if (held.length > 0 && held.every((file) => file.id !== oldId)) return true;
  }
  return false;
}
