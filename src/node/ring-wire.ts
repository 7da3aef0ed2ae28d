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
  if (typeof peer !== "object" || peer === null || Array.isArray(peer) || typeof peer.id !== "string" || typeof peer.address !== "string") {
    throw new P2PError("MALFORMED", "peer must be {id, address}");
  }
  return checkedPeer(peer.id, ...parseAddress(peer.address, "peer address"));
}

/** Most successors a LEAVING hand-over may name. */
export const MAX_HANDOVER_SUCCESSORS = 64;

/** The LEAVING body: `{"predecessor": peer or null, "successors": [peer, ...]}`, every field checked. */
export function parseHandover(value: unknown): { predecessor: Peer | null; successors: Peer[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new P2PError("MALFORMED", 'LEAVING body must be a JSON object {"predecessor": peer or null, "successors": [peer, ...]}');
  }
  const { predecessor, successors } = value as Record<string, unknown>;
  if (successors !== undefined && !Array.isArray(successors)) throw new P2PError("MALFORMED", "LEAVING successors must be an array of peers");
  if (successors && successors.length > MAX_HANDOVER_SUCCESSORS) {
    throw new P2PError("MALFORMED", `LEAVING names ${successors.length} successors, at most ${MAX_HANDOVER_SUCCESSORS}`);
  }
  return {
    predecessor: predecessor === undefined || predecessor === null ? null : parsePeerJson(predecessor),
    successors: (successors ?? []).map(parsePeerJson),
  };
}

/** The FIND_SUCCESSOR avoid list: comma-separated `ip:port`, at most MAX_AVOID. */
export function parseAvoid(value: string | undefined): string[] {
  if (value === undefined) return [];
  const items = value.split(",").filter(Boolean);
  if (items.length > MAX_AVOID) throw new P2PError("MALFORMED", `avoid lists ${items.length} addresses, at most ${MAX_AVOID}`);
  return items.map((item) => {
    const [ip, port] = parseAddress(item, "avoid address");
    return `${ip}:${port}`;
  });
}

/** `ip:port` as a peer is named on the wire; IPv6 in brackets is not used by nodes, so a bare last colon splits. */
function parseAddress(address: string, what: string): [string, number] {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) throw new P2PError("MALFORMED", `invalid ${what} '${address.slice(0, 80)}': expected ip:port`);
  return [parsePeerIp(address.slice(0, colon)), parsePort(address.slice(colon + 1), what + " port")];
}

function checkedPeer(id: string, ip: string, port: number): Peer {
  const address = `${ip}:${port}`;
  if (id !== ringId(address)) throw new P2PError("MALFORMED", `peer id ${id.slice(0, 40)} is not the SHA-1 of ${address}`);
  return { id, address };
}
