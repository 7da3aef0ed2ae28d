// The file-sharing ops: what peers ask of each other (TCP) and what the local client asks (Unix socket).

import { P2PError } from "../../protocol/errors";
import type { OpTable, Request } from "../../protocol/server";
import { encodeJson, parseKey } from "../../wire/codec";
import type { FileSharing } from "./sharing";
import { Bitfield } from "./swarm/bitfield";
import { encodeChosenChunk, encodeHave } from "./swarm/wire";

const FILE_ID = /^[0-9a-f]{64}$/;
/** A key, a slash and a member of at most the 1,024 characters the wire allows. */
const MAX_CURSOR_LENGTH = 41 + 1024;

/** Peer ops: a file's manifest, its chunks and availability, and one step of the LIST_ALL_FILES broadcast. */
export function filePeerOps(sharing: FileSharing): OpTable {
  return {
    GET_MANIFEST: {
      usage: "GET_MANIFEST <file_id>",
      minArgs: 1,
      maxArgs: 1,
      handle: ({ args }) => ({ body: encodeJson(sharing.server.manifestFor(parseFileId(args[0]!))) }),
    },
    GET_CHUNK: {
      usage: "GET_CHUNK <file_id> <index>",
      minArgs: 2,
      maxArgs: 2,
      handle: async (request) => ({
        body: await sharing.server.chunk(parseFileId(request.args[0]!), parseIndex(request.args[1]!), { requester: requesterOf(request), signal: request.signal }),
      }),
    },
    GET_ANY_CHUNK: {
      usage: "GET_ANY_CHUNK <file_id> <length> + body: one bit per chunk, set for each chunk wanted",
      minArgs: 1,
      maxArgs: 1,
      body: true,
      handle: async (request) => {
        const { args, body, signal } = request;
        const fileId = parseFileId(args[0]!);
        const chunkCount = sharing.server.manifestFor(fileId).chunks.length;
        if (Bitfield.byteLength(chunkCount) !== body.length) {
          throw new P2PError("MALFORMED", `the wanted list of ${fileId.slice(0, 12)} takes ${Bitfield.byteLength(chunkCount)} bytes (one bit per chunk), not ${body.length}`);
        }
        const chosen = await sharing.server.chosenChunk(fileId, new Bitfield(chunkCount, body), { requester: requesterOf(request), signal });
        return { body: encodeChosenChunk(chosen.index, chosen.bytes) };
      },
    },
    GET_HAVE: {
      usage: "GET_HAVE <file_id> [<known version>]",
      minArgs: 1,
      maxArgs: 2,
      handle: async ({ args, signal }) => {
        const version = args[1] === undefined ? null : parseIndex(args[1]);
        return { body: encodeHave(await sharing.server.have(parseFileId(args[0]!), version, signal)) };
      },
    },
    LIST_ALL_FILES: {
      usage: "LIST_ALL_FILES <limit_id> [<after>]",
      minArgs: 1,
      maxArgs: 2,
      handle: ({ args }) => ({ body: encodeJson(sharing.lister.step(parseKey(args[0]!), parseCursor(args[1]))) }),
    },
  };
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

function parseFileId(value: string): string {
  const id = value.toLowerCase();
  if (!FILE_ID.test(id)) throw new P2PError("MALFORMED", `invalid file id '${value.slice(0, 70)}': expected 64 hex digits`);
  return id;
}

/** A LIST_ALL_FILES cursor: `<key>/<member>` of the last entry of the previous page. */
function parseCursor(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!/^[0-9a-f]{40}\//.test(value) || value.length > MAX_CURSOR_LENGTH) {
    throw new P2PError("MALFORMED", `invalid LIST_ALL_FILES cursor '${value.slice(0, 60)}': expected <key>/<member> from the previous page`);
  }
  return value;
}

function parseIndex(value: string): number {
  const index = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(index)) throw new P2PError("MALFORMED", `invalid chunk index '${value.slice(0, 20)}'`);
  return index;
}
