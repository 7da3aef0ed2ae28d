// 160-bit ring identifiers: hashing names onto the circle and reasoning about arcs of it.

/** An identifier as it appears on the API and the wire: 40 lowercase hex digits. */
export type RingId = string;

export const ID_BITS = 160;
export const ID_HEX_LENGTH = ID_BITS / 4;
export const RING_SIZE = 1n << BigInt(ID_BITS);

const ID_PATTERN = /^[0-9a-f]{40}$/;

/**
 * How many ring ids one IP address can have. A node's id is bound to its IP (as BitTorrent's BEP 42 binds
 * DHT ids): `SHA-1("<ip>/<port mod IDS_PER_IP>")`, so grinding ports yields at most this many ids per
 * address, and placing a node just after a chosen key costs about 2^160 / (N * IDS_PER_IP) addresses.
 */
export const IDS_PER_IP = 8;

/** The one id a node listening at "ip:port" may have; every peer named on the wire is checked against it. */
export function nodeId(address: string): RingId {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  return ringId(`${address.slice(0, colon)}/${port % IDS_PER_IP}`);
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
