// The file-sharing ops: what peers ask of each other (TCP) and what the local client asks (Unix socket).

import { P2PError } from "../../protocol/errors";
import type { OpTable, Request } from "../../protocol/server";
import { CONTROL } from "../../wire/control";
import { TRANSFER_CONTROL } from "../../wire/control-transfers";
import { FILES, haveToWire } from "../../wire/files";
import { opTable, serveOp } from "../../wire/op";
import type { FileSharing } from "./sharing";
import { Bitfield } from "../../model/bitfield";

/** Peer ops (defined in src/wire/files.ts): a file's manifest, its chunks and availability, and one step of the LIST_ALL_FILES broadcast. */
export function filePeerOps(sharing: FileSharing): OpTable {
  return opTable(
    serveOp(FILES.GET_MANIFEST, (fileId) => sharing.server.manifestFor(fileId)),
    serveOp(FILES.GET_FOLDER, (folderId) => sharing.folderManifest(folderId)),
    serveOp(FILES.GET_CHUNK, ({ fileId, index }, request) => sharing.server.chunk(fileId, index, { requester: requesterOf(request), signal: request.signal })),
    serveOp(FILES.GET_ANY_CHUNK, async ({ fileId, wanted }, request) => {
      const chunkCount = sharing.server.manifestFor(fileId).chunks.length;
      if (Bitfield.byteLength(chunkCount) !== wanted.length) {
        throw new P2PError("MALFORMED", `the wanted list of ${fileId.slice(0, 12)} takes ${Bitfield.byteLength(chunkCount)} bytes (one bit per chunk), not ${wanted.length}`);
      }
      return sharing.server.chosenChunk(fileId, new Bitfield(chunkCount, wanted), { requester: requesterOf(request), signal: request.signal });
    }),
    serveOp(FILES.GET_HAVE, async ({ fileId, knownVersion }, request) => haveToWire(await sharing.server.have(fileId, knownVersion, request.signal))),
    serveOp(FILES.LIST_ALL_FILES, ({ limit, after }) => sharing.lister.step(limit, after)),
  );
}

/** Client ops (defined in src/wire/control.ts): share, list, search and download, with progress as 202 replies. */
export function fileClientOps(sharing: FileSharing): OpTable {
  return opTable(
    serveOp(CONTROL.UPLOAD, async ({ path, name }, { progress, signal }) => {
      let last = 0;
      const file = await sharing.share(
        path,
        name,
        (bytes, total) => {
          const now = performance.now();
          if (now - last < 200 && bytes < total) return;
          last = now;
          progress([JSON.stringify({ phase: "hashing", bytes, total })]);
        },
        signal,
      );
      return file.folder ? { name: file.name, size: file.size, id: file.id, folder: true, files: file.files } : { name: file.name, size: file.size, id: file.id };
    }),
    serveOp(CONTROL.LIST, () => sharing.list()),
    serveOp(CONTROL.SEARCH, (term) => sharing.search(term)),
    serveOp(CONTROL.DOWNLOAD, ({ ref, out, force, noShare }, { progress, signal }) =>
      sharing.download(ref, out, {
        force,
        noShare,
        onProgress: (event) => progress([JSON.stringify({ phase: "downloading", ...event })]),
        signal,
      }),
    ),
    serveOp(TRANSFER_CONTROL.START, ({ ref, out, force, noShare }) => sharing.start(ref, out, { force, noShare })),
    serveOp(TRANSFER_CONTROL.LINK, (ref) => sharing.link(ref)),
    serveOp(CONTROL.TRANSFERS, () => sharing.transfersReport()),
    serveOp(CONTROL.CANCEL, ({ ref, discard }) => sharing.cancel(ref, discard)),
    serveOp(TRANSFER_CONTROL.PAUSE, (ref) => sharing.pause(ref)),
    serveOp(TRANSFER_CONTROL.RESUME, (ref) => sharing.resume(ref)),
    serveOp(TRANSFER_CONTROL.CLEAR, () => sharing.clearTransfers()),
    serveOp(CONTROL.SHARED, () => sharing.shared()),
    serveOp(CONTROL.UNSHARE, (ref) => sharing.unshare(ref)),
  );
}

/**
 * Whose turn a request takes in the upload queue: its peer's address, so one peer cannot take more
 * turns by opening more connections. On loopback every node connects from 127.0.0.1, so there a
 * connection stands for a peer.
 */
function requesterOf(request: Request): string {
  return request.remoteAddress.startsWith("127.") ? request.connectionId : request.remoteAddress;
}
