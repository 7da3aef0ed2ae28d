// Where a local network's processes listen: loopback addresses counted from a 127.x.y subnet on into the next /24s.

import { P2PError } from "../protocol/errors";

/** Usable last octets of one loopback /24: .1 to .254 (.0 names the net, .255 is its broadcast). */
export const ADDRESSES_PER_SUBNET = 254;

/**
 * The loopback address at `position` (1-based) counted from `subnet` (e.g. "127.0.0"): positions 1 to 254 are
 * 127.0.0.1 to .254, position 255 is 127.0.1.1, and so on, so a network larger than a /24 takes the next ones.
 */
export function addressAt(subnet: string, position: number): string {
  const [first, second, third] = subnet.split(".").map(Number) as [number, number, number];
  if (!Number.isInteger(position) || position < 1) throw new P2PError("MALFORMED", `address position ${position} is not a whole number from 1`);
  const subnetOffset = Math.floor((position - 1) / ADDRESSES_PER_SUBNET);
  if (third + subnetOffset > 255) {
    throw new P2PError("MALFORMED", `position ${position} after ${subnet}.0/24 runs past ${first}.${second}.255.254`);
  }
  return `${first}.${second}.${third + subnetOffset}.${((position - 1) % ADDRESSES_PER_SUBNET) + 1}`;
}

/** How many /24s `count` addresses from `position` on take (the first included). */
export function subnetsSpanned(position: number, count: number): number {
  if (count <= 0) return 1;
  return Math.floor((position + count - 2) / ADDRESSES_PER_SUBNET) + 1;
}

/** The /24s a list of addresses lies in, in order of first appearance, e.g. ["127.0.0", "127.0.1"]. */
export function subnetsOf(addresses: readonly string[]): string[] {
  return [...new Set(addresses.map((address) => address.split(".").slice(0, 3).join(".")))];
}
