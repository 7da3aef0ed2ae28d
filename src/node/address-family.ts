// Whether a node has a route to the ring's address family: an IPv6-only node beside IPv4 members joins as an edge behind a dual-stack relay.

import { formatAddress, parsePeerIp, splitAddress } from "../protocol/address";
import { nodeId } from "../model/id";
import { connect } from "../protocol/client";
import { isP2PError, P2PError } from "../protocol/errors";
import { familyOf } from "../protocol/ip";
import type { Peer } from "../model/peer";
import type { Introducers } from "./dns-client";

/** IPv4 members an IPv6-only node tries to connect to, at once, before it decides it has no route to them. */
export const FAMILY_PROBES = 3;

/**
 * A network with IPv4 members is an IPv4 ring: every member must reach every other, IPv4 reaches the most hosts
 * today, and a dual-stack node joins under its IPv4 address (`--also` adds its IPv6 one). So a node on IPv6 with
 * no IPv4 address of its own asks the DNS for the members (PEERS) and tries to connect to a few IPv4 ones: when
 * none opens, it lacks IPv4 (4). Null otherwise: an IPv4 or dual-stack node, no IPv4 member listed, a route to
 * them (loopback has one, and so has a host behind NAT64's translation of literals), or no DNS answer (it joins
 * as it always did).
 */
export async function lackingFamily(ip: string, also: string | undefined, dns: Introducers, connectTimeoutMs: number): Promise<4 | null> {
  if (familyOf(ip) === 4 || (also !== undefined && familyOf(also) === 4)) return null;
  let listed: Peer[];
  try {
    listed = await dns.peers();
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return null;
  }
  const ipv4 = listed.map((peer) => splitAddress(peer.address)).filter((address) => familyOf(address.ip) === 4);
  if (ipv4.length === 0) return null;
  const probes = ipv4.sort(() => Math.random() - 0.5).slice(0, FAMILY_PROBES);
  const reached = await Promise.any(
    probes.map(async ({ ip: host, port }) => {
      (await connect({ hostname: host, port }, { connectTimeoutMs })).close();
      return true;
    }),
  ).catch((error: unknown) => {
    if (error instanceof AggregateError) return false;
    throw error;
  });
  return reached ? null : 4;
}

/** `--also`, canonical; MALFORMED unless it is an address of the other family than `ip`. */
export function checkedAlso(also: string | undefined, ip: string): string | undefined {
  if (also === undefined) return undefined;
  const canonical = parsePeerIp(also);
  if (familyOf(canonical) === familyOf(ip)) throw new P2PError("MALFORMED", `--also ${canonical} is an IPv${familyOf(ip)} address like the node's own ${ip}: it names this host's address in the other family (IPv${familyOf(ip) === 4 ? 6 : 4})`);
  return canonical;
}

/** A dual-stack node's peer in its other family: its address there, and the id bound to that address. */
export function alsoPeer(also: string | undefined, port: number): Peer | undefined {
  if (also === undefined) return undefined;
  const address = formatAddress(also, port);
  return { id: nodeId(address), address };
}
