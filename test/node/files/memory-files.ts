// Nodes that share and download files in one process: a ring of records in memory and links that call the other node's FileSharing directly, over real catalogs and part files in a temp dir.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CatalogStore } from "../../../src/node/files/catalog";
import { partFilesIn } from "../../../src/node/files/part-file";
import type { FileLinks, FileRing } from "../../../src/node/files/ports";
import { RateLimiter } from "../../../src/node/files/rate-limiter";
import { FileSharing } from "../../../src/node/files/sharing";
import type { RingId } from "../../../src/model/id";
import { MemoryRecordStore, type RecordCursor } from "../../../src/node/ring/records";
import { peerAt } from "../../../src/model/peer";
import { P2PError } from "../../../src/protocol/errors";

export interface MemoryNode {
  address: string;
  sharing: FileSharing;
  catalog: CatalogStore;
  dir: string;
}

/** A ring operation as a test sees it: which op, on which key, and the value put. */
export type RingCall = { op: "get" | "put" | "remove"; key: RingId; value?: string };

/** One ring's records for every node: what one node puts, the next one reads, as a ring that has converged would answer. */
function memoryRing(store: MemoryRecordStore, observe: (call: RingCall) => void): FileRing {
  let lastStamp = 0;
  // Last writer wins on a strictly later time: two writes in one millisecond still land in order.
  const stamp = () => (lastStamp = Math.max(Date.now(), lastStamp + 1));
  return {
    get: async (key: RingId) => {
      observe({ op: "get", key });
      return store.get(key, Date.now());
    },
    put: async (key: RingId, member: string, value: string, ttlMs?: number) => {
      observe({ op: "put", key, value });
      const now = stamp();
      store.merge([{ key, member, value, updatedAt: now, expiresAt: ttlMs === undefined ? null : now + ttlMs, deleted: false }]);
    },
    remove: async (key: RingId, member: string) => {
      observe({ op: "remove", key });
      const now = stamp();
      store.merge([{ key, member, value: "", updatedAt: now, expiresAt: now + 60_000, deleted: true }]);
    },
    // One node's listing reads the whole store: the broadcast ends at the node that asked.
    routingPeers: () => [],
    localRecordsAfter: (after: RecordCursor | null, limit: number) => store.liveAfter(after, Date.now(), limit),
    holdsKey: () => true,
  };
}

/** `from`'s links to the other nodes: each op answered by the target's FileSharing, as its op table would. */
function memoryLinks(from: string, nodes: ReadonlyMap<string, MemoryNode>): FileLinks {
  const at = (address: string) => {
    const node = nodes.get(address);
    if (!node) throw new P2PError("UNAVAILABLE", `${address} did not answer`);
    return node.sharing;
  };
  let streams = 0;
  return {
    manifest: async (address, fileId) => at(address).server.manifestFor(fileId),
    folder: async (address, folderId) => at(address).folderManifest(folderId),
    listPage: async (address, limit, after) => at(address).lister.step(limit, after),
    chunk: (address, fileId, index) => at(address).server.chunk(fileId, index, { requester: from }),
    chosenChunk: (address, fileId, wanted) => at(address).server.chosenChunk(fileId, wanted, { requester: from }),
    have: (address, fileId, knownVersion) => at(address).server.have(fileId, knownVersion),
    release: () => {},
    newStream: () => `memory-${++streams}`,
    closeStream: () => {},
  };
}

/**
 * `count` nodes at 127.0.0.2, 127.0.0.3, ... (addresses only: nothing listens), sharing one ring; `close()` closes their catalogs.
 * `observe` hears of every ring operation, in the order they are made.
 */
export function memoryFileNetwork(root: string, count: number, observe: (call: RingCall) => void = () => {}): { nodes: MemoryNode[]; close: () => void } {
  const ring = memoryRing(new MemoryRecordStore(), observe);
  const byAddress = new Map<string, MemoryNode>();
  const nodes: MemoryNode[] = [];
  for (let index = 0; index < count; index++) {
    const self = peerAt(`127.0.0.${index + 2}:7495`);
    const dir = join(root, `node-${index}`);
    mkdirSync(dir, { recursive: true });
    const catalog = new CatalogStore(join(dir, "catalog.db"));
    const sharing = new FileSharing({
      self,
      ring,
      links: memoryLinks(self.address, byAddress),
      catalog,
      parts: partFilesIn(catalog),
      uploadLimiter: new RateLimiter(0),
      warn: () => {},
      holderKeys: {} as never, // only this node's own listing is read: no other node's entries to check
    });
    const node = { address: self.address, sharing, catalog, dir };
    byAddress.set(self.address, node);
    nodes.push(node);
  }
  return { nodes, close: () => nodes.forEach((node) => node.catalog.close()) };
}
