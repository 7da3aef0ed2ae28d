// 160-bit ring identifiers: hashing names onto the circle and reasoning about arcs of it.

import { parsePeerAddress } from "../protocol/address";
import { hostOf } from "../protocol/ip";

/** An identifier as it appears on the API and the wire: 40 lowercase hex digits. */
export type RingId = string;

export const ID_BITS = 160;
export const ID_HEX_LENGTH = ID_BITS / 4;
export const RING_SIZE = 1n << BigInt(ID_BITS);

const ID_PATTERN = /^[0-9a-f]{40}$/;

/**
 * How many ring ids one host can have: one IPv4 address, or one IPv6 /64. A node's id is bound to its
 * host (as BitTorrent's BEP 42 binds DHT ids): `SHA-1("<ip>/<port mod IDS_PER_IP>")` for IPv4,
 * `SHA-1("<its /64, e.g. fd12:3456:789a:1::/64>/<port mod IDS_PER_IP>")` for IPv6, always of the canonical
 * spelling (src/protocol/ip.ts). Grinding ports or spellings yields at most this many ids per host, and
 * placing a node just after a chosen key costs about 2^160 / (N * IDS_PER_IP) hosts.
 */
export const IDS_PER_IP = 8;

/** The one id a node listening at "ip:port" (IPv6 as "[ip]:port") may have; every peer named on the wire is checked against it. */
export function nodeId(address: string): RingId {
  const { ip, port } = parsePeerAddress(address);
  return nodeIdAt(ip, port);
}

/** `nodeId` of a canonical `ip` (parsePeerIp) and a port. */
export function nodeIdAt(ip: string, port: number): RingId {
  return ringId(`${hostOf(ip)}/${port % IDS_PER_IP}`);
}

/** The SHA-1 of `text` as a ring id (record keys); a node's id is `nodeId("ip:port")`. */
export function ringId(text: string): RingId {
  return new Bun.CryptoHasher("sha1").update(text).digest("hex");
}

export function isRingId(value: unknown): value is RingId {
  return typeof value === "string" && ID_PATTERN.test(value);
}

export function idToBigInt(id: RingId): bigint {
  return BigInt(`0x${id}`);
}

export function bigIntToId(value: bigint): RingId {
  const wrapped = ((value % RING_SIZE) + RING_SIZE) % RING_SIZE;
  return wrapped.toString(16).padStart(ID_HEX_LENGTH, "0");
}

/** The start of finger `i`: `id + 2^i mod 2^160`. */
export function fingerStart(id: RingId, i: number): RingId {
  return bigIntToId(idToBigInt(id) + (1n << BigInt(i)));
}

/** Clockwise distance from `from` to `to`, in [0, 2^160). */
export function ringDistance(from: RingId, to: RingId): bigint {
  return (idToBigInt(to) - idToBigInt(from) + RING_SIZE) % RING_SIZE;
}

// The interval tests compare the hex strings directly: fixed-width lowercase hex sorts exactly as
// the numbers do, and this runs on every routing step, where building bigints would dominate.

/** Whether `x` lies in the open arc (a, b) going clockwise; a == b means the whole circle but a. */
export function inOpenInterval(x: RingId, a: RingId, b: RingId): boolean {
  if (a < b) return a < x && x < b;
  if (a > b) return x > a || x < b;
  return x !== a;
}

/** Whether `x` lies in the half-open arc (a, b] going clockwise; a == b means the whole circle. */
export function inHalfOpenInterval(x: RingId, a: RingId, b: RingId): boolean {
  if (a < b) return a < x && x <= b;
  if (a > b) return x > a || x <= b;
  return true;
}
