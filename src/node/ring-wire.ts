// How the ring's calls look on the wire: peers as lines and arguments, records as JSON bodies, checked on arrival.

import { parsePeerIp, parsePort } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { isRingId, ringId, type RingId } from "./ring/id";
import type { RecordEntry } from "./ring/records";
import type { Peer } from "./ring/transport";

/** Most record entries one PUT_RECORDS or reply may carry; bigger hand-overs are sent in batches. */
export const MAX_RECORDS_PER_MESSAGE = 2_000;
/** Most dead addresses a lookup step may be asked to avoid. */
export const MAX_AVOID = 32;

/** A peer as three request arguments: id, ip, port. */
export function peerArgs(peer: Peer): string[] {
  const { ip, port } = splitAddress(peer.address);
  return [peer.id, ip, String(port)];
}

/** Reads a peer from request arguments; the id must be the hash of its address, so nobody claims another's place. */
export function peerFromArgs(id: string, ip: string, port: string): Peer {
  return checkedPeer(id, parsePeerIp(ip), parsePort(port));
}

/** A peer as one data line: `<role>,<id>,<ip>,<port>`. */
export function peerLine(role: string, peer: Peer): string {
  const { ip, port } = splitAddress(peer.address);
  return `${role},${peer.id},${ip},${port}`;
}

export function parsePeerLine(line: string): { role: string; peer: Peer } {
  const parts = line.split(",");
  if (parts.length !== 4) throw new P2PError("MALFORMED", `bad peer line '${line.slice(0, 120)}'`);
  const [role, id, ip, port] = parts as [string, string, string, string];
  return { role, peer: checkedPeer(id, parsePeerIp(ip), parsePort(port)) };
}

export function splitAddress(address: string): { ip: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { ip: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export function parseKey(value: string): RingId {
  const key = value.toLowerCase();
  if (!isRingId(key)) throw new P2PError("MALFORMED", `invalid key '${value.slice(0, 60)}': expected 40 hex digits`);
  return key;
}

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJson(body: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new P2PError("MALFORMED", `${what} is not valid JSON`);
  }
}

/** Validates a JSON array of record entries field by field; a peer's bad data is rejected, never stored. */
export function parseRecordEntries(value: unknown): RecordEntry[] {
  if (!Array.isArray(value)) throw new P2PError("MALFORMED", "records must be a JSON array");
  if (value.length > MAX_RECORDS_PER_MESSAGE) {
    throw new P2PError("MALFORMED", `${value.length} records in one message, at most ${MAX_RECORDS_PER_MESSAGE}`);
  }
  return value.map((item, index) => {
    const entry = item as Record<string, unknown>;
    const ok =
      typeof entry === "object" &&
      entry !== null &&
      isRingId(entry.key) &&
      typeof entry.member === "string" &&
      entry.member.length <= 1024 &&
      typeof entry.value === "string" &&
      entry.value.length <= 64 * 1024 &&
      Number.isSafeInteger(entry.updatedAt) &&
      (entry.expiresAt === null || Number.isSafeInteger(entry.expiresAt)) &&
      typeof entry.deleted === "boolean";
    if (!ok) throw new P2PError("MALFORMED", `record ${index} is not a valid entry`);
    return {
      key: entry.key as string,
      member: entry.member as string,
      value: entry.value as string,
      updatedAt: entry.updatedAt as number,
      expiresAt: entry.expiresAt as number | null,
      deleted: entry.deleted as boolean,
    };
  });
}

export function parsePeerJson(value: unknown): Peer {
  const peer = value as Record<string, unknown>;
  if (typeof peer !== "object" || peer === null || typeof peer.id !== "string" || typeof peer.address !== "string") {
    throw new P2PError("MALFORMED", "peer must be {id, address}");
  }
  const { ip, port } = splitAddress(peer.address);
  return checkedPeer(peer.id, parsePeerIp(ip), parsePort(String(port)));
}

function checkedPeer(id: string, ip: string, port: number): Peer {
  const address = `${ip}:${port}`;
  if (id !== ringId(address)) throw new P2PError("MALFORMED", `peer id ${id.slice(0, 40)} is not the SHA-1 of ${address}`);
  return { id, address };
}
