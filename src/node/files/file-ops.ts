// The file-sharing ops: what peers ask of each other (TCP) and what the local client asks (Unix socket).

import { P2PError } from "../../protocol/errors";
import type { OpTable, Request } from "../../protocol/server";
import { encodeJson } from "../../wire/codec";
import { FILES, haveToWire } from "../../wire/files";
import { opTable, serveOp } from "../../wire/op";
import type { FileSharing } from "./sharing";
import { Bitfield } from "./swarm/bitfield";

/** Peer ops (defined in src/wire/files.ts): a file's manifest, its chunks and availability, and one step of the LIST_ALL_FILES broadcast. */
export function filePeerOps(sharing: FileSharing): OpTable {
  return opTable(
    [FILES.GET_MANIFEST, serveOp(FILES.GET_MANIFEST, (fileId) => sharing.server.manifestFor(fileId))],
    [
      FILES.GET_CHUNK,
      serveOp(FILES.GET_CHUNK, ({ fileId, index }, request) => sharing.server.chunk(fileId, index, { requester: requesterOf(request), signal: request.signal })),
    ],
    [
      FILES.GET_ANY_CHUNK,
      serveOp(FILES.GET_ANY_CHUNK, async ({ fileId, wanted }, request) => {
        const chunkCount = sharing.server.manifestFor(fileId).chunks.length;
        if (Bitfield.byteLength(chunkCount) !== wanted.length) {
          throw new P2PError("MALFORMED", `the wanted list of ${fileId.slice(0, 12)} takes ${Bitfield.byteLength(chunkCount)} bytes (one bit per chunk), not ${wanted.length}`);
        }
        return sharing.server.chosenChunk(fileId, new Bitfield(chunkCount, wanted), { requester: requesterOf(request), signal: request.signal });
      }),
    ],
    [
      FILES.GET_HAVE,
      serveOp(FILES.GET_HAVE, async ({ fileId, knownVersion }, request) => haveToWire(await sharing.server.have(fileId, knownVersion, request.signal))),
    ],
    [FILES.LIST_ALL_FILES, serveOp(FILES.LIST_ALL_FILES, ({ limit, after }) => sharing.lister.step(limit, after))],
  );
}

/** Client ops: share, list, search and download, with progress as 202 replies. */
export function fileClientOps(sharing: FileSharing): OpTable {
  return {
    UPLOAD: {
      usage: "UPLOAD <absolute path> [<name>]",
      minArgs: 1,
      maxArgs: 2,
      handle: async ({ args, progress, signal }) => {
        let last = 0;
        const file = await sharing.share(
          args[0]!,
          args[1],
          (bytes, total) => {
            const now = performance.now();
            if (now - last < 200 && bytes < total) return;
            last = now;
            progress([JSON.stringify({ phase: "hashing", bytes, total })]);
          },
          signal,
        );
        return { body: encodeJson({ name: file.name, size: file.size, id: file.id }) };
      },
    },
    LIST: { usage: "LIST", minArgs: 0, maxArgs: 0, handle: async () => ({ body: encodeJson(await sharing.list()) }) },
    SEARCH: {
      usage: "SEARCH <term>",
      minArgs: 1,
      maxArgs: 1,
      handle: async ({ args }) => ({ body: encodeJson(await sharing.search(args[0]!)) }),
    },
    DOWNLOAD: {
      usage: "DOWNLOAD <name[@id]> [<out path>] [force]",
      minArgs: 1,
      maxArgs: 3,
      handle: async ({ args, progress, signal }) => {
        const outPath = args[1] && args[1].length > 0 ? args[1] : undefined;
        const result = await sharing.download(args[0]!, outPath, {
          force: args[2] === "force",
          onProgress: (event) => progress([JSON.stringify({ phase: "downloading", ...event })]),
          signal,
        });
        return { body: encodeJson(result) };
      },
    },
  };
}

/**
 * Whose turn a request takes in the upload queue: its peer's address, so one peer cannot take more
 * turns by opening more connections. On loopback every node connects from 127.0.0.1, so there a
 * connection stands for a peer.
 */
function requesterOf(request: Request): string {
  return request.remoteAddress.startsWith("127.") ? request.connectionId : request.remoteAddress;
}
