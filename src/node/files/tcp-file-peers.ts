// The file links over TCP: each file op of src/wire/files.ts through the node's transport, a download's requests on connections of its own.

import { P2PError } from "../../protocol/errors";
import type { TcpTransport } from "../tcp-transport";
import { FILES, haveFromWire } from "../../wire/files";
import { HAVE_WAIT_MS } from "./chunk-server";
import type { FileLinks } from "./ports";

/**
 * How long a holder may stay silent while one of our chunks is due. A holder keeps a waiting
 * request alive with interim replies, so silence this long means it is gone, not slow.
 */
export const CHUNK_TIMEOUT_MS = 30_000;
/**
 * The longest one chunk's reply may take once it is next in line, busy notices or not: a holder at a
 * 16 KiB/s upload limit still sends a 1 MiB chunk in 64 s, and one that stalls a chunk forever loses the
 * request (and its connection) instead of holding the download with it.
 */
export const CHUNK_DEADLINE_MS = 120_000;
/** How long a LIST_ALL_FILES page may take to come. */
const LIST_STEP_TIMEOUT_MS = 10_000;

/** One node's file links; stream names are unique per links, so a node makes one. */
export function tcpFileLinks(transport: TcpTransport): FileLinks {
  let streams = 0;
  return {
    manifest: (address, fileId) => transport.send(address, FILES.GET_MANIFEST, fileId, { channel: "bulk" }),
    folder: (address, folderId) => transport.send(address, FILES.GET_FOLDER, folderId, { channel: "bulk" }),
    listPage: (address, limit, after) => transport.send(address, FILES.LIST_ALL_FILES, { limit, after }, { channel: "bulk", timeoutMs: LIST_STEP_TIMEOUT_MS }),
    chunk: (address, fileId, index, stream) => transport.send(address, FILES.GET_CHUNK, { fileId, index }, { timeoutMs: CHUNK_TIMEOUT_MS, deadlineMs: CHUNK_DEADLINE_MS, channel: "bulk", stream }),
    chosenChunk: (address, fileId, wanted, stream) =>
      transport.send(address, FILES.GET_ANY_CHUNK, { fileId, wanted: wanted.bytes }, { timeoutMs: CHUNK_TIMEOUT_MS, deadlineMs: CHUNK_DEADLINE_MS, channel: "bulk", stream }),
    async have(address, fileId, knownVersion, chunkCount, stream) {
      const wire = await transport.send(address, FILES.GET_HAVE, { fileId, knownVersion }, { timeoutMs: HAVE_WAIT_MS + 5_000, channel: "have", stream });
      const report = haveFromWire(wire, chunkCount);
      if (report === null) throw P2PError.badAnswer(address, "GET_HAVE", "with a bitfield for a different number of chunks");
      return report;
    },
    release: (bytes) => transport.releaseBody(bytes),
    pathOf: (address) => transport.pathTo(address),
    newStream: () => `download-${++streams}`,
    closeStream: (stream) => transport.closeStream(stream),
  };
}
