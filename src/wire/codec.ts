// What several links share on the wire: peers as arguments, lines and JSON, keys, addresses and JSON bodies, checked on arrival.

import { formatAddress, parsePeerAddress, parsePeerIp, parsePort, splitAddress } from "../protocol/address";
import { hostOf } from "../protocol/ip";
import { P2PError } from "../protocol/errors";
import { IDS_PER_IP, isRingId, nodeIdAt, type RingId } from "../model/id";
import type { Peer } from "../model/peer";

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

export { splitAddress };

export function parseKey(value: string): RingId {
  const key = value.toLowerCase();
  if (!isRingId(key)) throw P2PError.invalid("key", value, "40 hex digits");
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

export function parsePeerJson(value: unknown): Peer {
  const peer = value as Record<string, unknown>;
  if (typeof peer !== "object" || peer === null || Array.isArray(peer) || typeof peer.id !== "string" || typeof peer.address !== "string") {
    throw new P2PError("MALFORMED", "peer must be {id, address}");
  }
  return checkedPeer(peer.id, ...parseAddress(peer.address, "peer address"));
}

/** `ip:port` as a peer is named on the wire (IPv6 as `[ip]:port`), canonical (src/protocol/ip.ts). */
export function parseAddress(address: string, what: string): [string, number] {
  const { ip, port } = parsePeerAddress(address, what);
  return [ip, port];
}

/**
 * A peer whose id must be the one bound to its address (`nodeId`), so nobody picks where it sits on the
 * ring. `ip` is made canonical (parsePeerIp): every spelling of one address is the same peer.
 */
export function checkedPeer(id: string, ip: string, port: number): Peer {
  const canonical = parsePeerIp(ip);
  const address = formatAddress(canonical, port);
  if (id !== nodeIdAt(canonical, port)) {
    throw new P2PError("MALFORMED", `peer id ${id.slice(0, 40)} is not the id of ${address} (SHA-1 of "${hostOf(canonical)}/${port % IDS_PER_IP}")`);
  }
  return { id, address };
}
