// The files link (node to node over TCP): manifests, chunks, availability and the LIST_ALL_FILES broadcast, each op's arguments and reply in one place.

import { P2PError } from "../protocol/errors";
import type { RingId } from "../model/id";
import type { RecordEntry } from "../model/record";
import type { Peer } from "../model/peer";
import { checkFolderManifest, type FolderManifest } from "../model/folder";
import { checkManifest, type Manifest } from "../model/manifest";
import { Bitfield, type HaveReport } from "../model/bitfield";
import { decodeJson, encodeJson, parseKey, parsePeerJson } from "./codec";
import { defineOp } from "./op";
import { parseRecordEntries } from "./records";

const FILE_ID = /^[0-9a-f]{64}$/;
/** A key, a slash and a member of at most the 1,024 characters the wire allows. */
const MAX_CURSOR_LENGTH = 41 + 1024;
/** Most entries one LIST_ALL_FILES reply may carry: a frame's worth of the smallest entries (an older peer sends its whole list at once). */
export const MAX_LIST_ENTRIES = 100_000;
/** Most peers one LIST_ALL_FILES reply may name: a node's routing tables hold at most 160 fingers, its successors and predecessor. */
export const MAX_LIST_CHILDREN = 256;

/** One LIST_ALL_FILES reply: a page of a node's file entries, its routing peers below the limit, the next page's cursor. */
export interface ListStep {
  files: RecordEntry[];
  children: Peer[];
  next: string | null;
}

/** A GET_HAVE reply as it travels: the bitfield is read against the chunk count the asker knows from the manifest. */
export type HaveWire = { version: number; complete: boolean; bits: Uint8Array };

export const FILES = {
  /** The manifest of a file the peer holds; the asker checks it against the file id. */
  GET_MANIFEST: defineOp<string, Manifest>({
    name: "GET_MANIFEST",
    usage: "GET_MANIFEST <file_id>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (fileId) => ({ args: [fileId] }),
    decodeArgs: (args) => parseFileId(args[0]!),
    encodeReply: (manifest) => ({ body: encodeJson(manifest) }),
    decodeReply: (body, _from, fileId) => checkManifest(JSON.parse(new TextDecoder().decode(body)), fileId),
  }),

  /** The manifest of a folder the peer shares; the asker checks its SHA-256 and every path in it before writing anything. */
  GET_FOLDER: defineOp<string, FolderManifest>({
    name: "GET_FOLDER",
    usage: "GET_FOLDER <folder_id>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (folderId) => ({ args: [folderId] }),
    decodeArgs: (args) => parseFileId(args[0]!),
    encodeReply: (manifest) => ({ body: encodeJson(manifest) }),
    decodeReply: (body, _from, folderId) => checkFolderManifest(JSON.parse(new TextDecoder().decode(body)), folderId),
  }),

  /** One chunk's bytes. */
  GET_CHUNK: defineOp<{ fileId: string; index: number }, Uint8Array>({
    name: "GET_CHUNK",
    usage: "GET_CHUNK <file_id> <index>",
    minArgs: 2,
    maxArgs: 2,
    encodeArgs: ({ fileId, index }) => ({ args: [fileId, String(index)] }),
    decodeArgs: (args) => ({ fileId: parseFileId(args[0]!), index: parseIndex(args[1]!) }),
    encodeReply: (bytes) => ({ body: bytes }),
    decodeReply: (body) => body,
  }),

  /** A chunk of the holder's choosing among those wanted (one bit per chunk, set for each wanted). */
  GET_ANY_CHUNK: defineOp<{ fileId: string; wanted: Uint8Array }, { index: number; bytes: Uint8Array }>({
    name: "GET_ANY_CHUNK",
    usage: "GET_ANY_CHUNK <file_id> <length> + body: one bit per chunk, set for each chunk wanted",
    minArgs: 1,
    maxArgs: 1,
    body: true,
    encodeArgs: ({ fileId, wanted }) => ({ args: [fileId], body: wanted }),
    // The body's length is checked against the file's chunk count by the holder, which knows it.
    decodeArgs: (args, body) => ({ fileId: parseFileId(args[0]!), wanted: body }),
    encodeReply: ({ index, bytes }) => ({ body: encodeChosenChunk(index, bytes) }),
    decodeReply: (body, from) => decodeChosenChunk(body, from),
  }),

  /** What a holder has of a file; a long poll when `knownVersion` is its current version. */
  GET_HAVE: defineOp<{ fileId: string; knownVersion: number | null }, HaveWire>({
    name: "GET_HAVE",
    usage: "GET_HAVE <file_id> [<known version>]",
    minArgs: 1,
    maxArgs: 2,
    encodeArgs: ({ fileId, knownVersion }) => ({ args: knownVersion === null ? [fileId] : [fileId, String(knownVersion)] }),
    decodeArgs: (args) => ({ fileId: parseFileId(args[0]!), knownVersion: args[1] === undefined ? null : parseIndex(args[1]) }),
    encodeReply: (have) => ({ body: encodeHaveWire(have) }),
    decodeReply: (body, from) => decodeHaveWire(body, from),
  }),

  /** One node's step of the LIST_ALL_FILES broadcast: a page of its file entries and the peers it passes the list on to. */
  LIST_ALL_FILES: defineOp<{ limit: RingId; after: string | null }, ListStep>({
    name: "LIST_ALL_FILES",
    usage: "LIST_ALL_FILES <limit_id> [<after>]",
    minArgs: 1,
    maxArgs: 2,
    encodeArgs: ({ limit, after }) => ({ args: after === null ? [limit] : [limit, after] }),
    decodeArgs: (args) => ({ limit: parseKey(args[0]!), after: parseCursor(args[1]) }),
    encodeReply: (step) => ({ body: encodeJson(step) }),
    decodeReply: (body, from) => parseListStep(decodeJson(body, `LIST_ALL_FILES reply from ${from}`), from),
  }),
};

/**
 * A LIST_ALL_FILES reply, every field checked: record entries as PUT_RECORDS carries them, peers
 * whose ids are their addresses', a cursor. What the entries claim is checked by the lister (their signatures).
 */
export function parseListStep(value: unknown, from: string): ListStep {
  const step = value as Record<string, unknown>;
  if (typeof step !== "object" || step === null || Array.isArray(step) || !Array.isArray(step.files) || !Array.isArray(step.children)) {
    throw P2PError.badAnswer(from, "LIST_ALL_FILES", "with something that is not a list step");
  }
  if (step.children.length > MAX_LIST_CHILDREN) {
    throw P2PError.badAnswer(from, "LIST_ALL_FILES", `with ${step.children.length} peers, at most ${MAX_LIST_CHILDREN}`);
  }
  if (step.next !== undefined && step.next !== null && typeof step.next !== "string") {
    throw P2PError.badAnswer(from, "LIST_ALL_FILES", "with a cursor that is not a string");
  }
  return {
    files: parseRecordEntries(step.files, MAX_LIST_ENTRIES),
    children: step.children.map(parsePeerJson),
    // A peer of an older version sends no cursor: its one reply is the whole list.
    next: typeof step.next === "string" ? step.next : null,
  };
}

/** A holder's availability as it goes on the wire. */
export function haveToWire(report: HaveReport): HaveWire {
  return { version: report.version, complete: report.have === null, bits: report.have?.bytes ?? new Uint8Array(0) };
}

/** The availability read against `chunkCount`; null when the bitfield does not fit it. */
export function haveFromWire(wire: HaveWire, chunkCount: number): HaveReport | null {
  if (wire.complete) return wire.bits.length === 0 ? { version: wire.version, have: null } : null;
  if (wire.bits.length !== Bitfield.byteLength(chunkCount)) return null;
  return { version: wire.version, have: new Bitfield(chunkCount, wire.bits) };
}

export function parseFileId(value: string): string {
  const id = value.toLowerCase();
  if (!FILE_ID.test(id)) throw P2PError.invalid("file id", value, "64 hex digits");
  return id;
}

/** A LIST_ALL_FILES cursor: `<key>/<member>` of the last entry of the previous page. */
function parseCursor(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!/^[0-9a-f]{40}\//.test(value) || value.length > MAX_CURSOR_LENGTH) {
    throw P2PError.invalid("LIST_ALL_FILES cursor", value, "<key>/<member> from the previous page");
  }
  return value;
}

function parseIndex(value: string): number {
  const index = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(index)) throw P2PError.invalid("chunk index", value, "a whole number from 0");
  return index;
}

/** GET_HAVE reply: version (uint32, big-endian), flags (1 byte; bit 0: complete), then the bitfield unless complete. */
function encodeHaveWire(have: HaveWire): Uint8Array {
  const body = new Uint8Array(5 + have.bits.length);
  new DataView(body.buffer).setUint32(0, have.version >>> 0);
  body[4] = have.complete ? 1 : 0;
  body.set(have.bits, 5);
  return body;
}

function decodeHaveWire(body: Uint8Array, from: string): HaveWire {
  if (body.length < 5) throw P2PError.badAnswer(from, "GET_HAVE", "with a bitfield for a different number of chunks");
  const version = new DataView(body.buffer, body.byteOffset, body.length).getUint32(0);
  return { version, complete: (body[4]! & 1) === 1, bits: body.slice(5) };
}

/** GET_ANY_CHUNK reply: the chunk's index (uint32, big-endian), then its bytes. */
function encodeChosenChunk(index: number, bytes: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + bytes.length);
  new DataView(body.buffer).setUint32(0, index);
  body.set(bytes, 4);
  return body;
}

function decodeChosenChunk(body: Uint8Array, from: string): { index: number; bytes: Uint8Array } {
  if (body.length < 4) throw P2PError.badAnswer(from, "GET_ANY_CHUNK", "without a chunk index");
  const index = new DataView(body.buffer, body.byteOffset, body.length).getUint32(0);
  return { index, bytes: body.subarray(4) };
}
