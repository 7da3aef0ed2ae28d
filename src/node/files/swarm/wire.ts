// The binary bodies of the swarm's ops: GET_HAVE's availability and GET_ANY_CHUNK's chosen chunk.

import { P2PError } from "../../../protocol/errors";
import { Bitfield } from "./bitfield";
import type { HaveReport } from "./file-peers";

/** GET_HAVE reply: version (uint32, big-endian), flags (1 byte; bit 0: complete), then the bitfield unless complete. */
export function encodeHave(report: HaveReport): Uint8Array {
  const bits = report.have?.bytes ?? new Uint8Array(0);
  const body = new Uint8Array(5 + bits.length);
  new DataView(body.buffer).setUint32(0, report.version >>> 0);
  body[4] = report.have === null ? 1 : 0;
  body.set(bits, 5);
  return body;
}

/** The report, or null when the bitfield does not fit `chunkCount` chunks. */
export function decodeHave(body: Uint8Array, chunkCount: number): HaveReport | null {
  if (body.length < 5) return null;
  const version = new DataView(body.buffer, body.byteOffset, body.length).getUint32(0);
  if ((body[4]! & 1) === 1) return body.length === 5 ? { version, have: null } : null;
  if (body.length - 5 !== Bitfield.byteLength(chunkCount)) return null;
  return { version, have: new Bitfield(chunkCount, body.slice(5)) };
}

/** GET_ANY_CHUNK reply: the chunk's index (uint32, big-endian), then its bytes. */
export function encodeChosenChunk(index: number, bytes: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + bytes.length);
  new DataView(body.buffer).setUint32(0, index);
  body.set(bytes, 4);
  return body;
}

export function decodeChosenChunk(body: Uint8Array, from: string): { index: number; bytes: Uint8Array } {
  if (body.length < 4) throw new P2PError("MALFORMED", `${from} answered GET_ANY_CHUNK without a chunk index`);
  const index = new DataView(body.buffer, body.byteOffset, body.length).getUint32(0);
  return { index, bytes: body.subarray(4) };
}
