// A ring member as every layer names it: its id, bound to its address, and that address.

import { isRingId, nodeId, type RingId } from "./id";

/** A ring member: its id is `nodeId(address)`, its address is "ip:port". */
export type Peer = { id: RingId; address: string };

/** The peer listening at "ip:port". */
export function peerAt(address: string): Peer {
  return { id: nodeId(address), address };
}

export function isPeer(value: unknown): value is Peer {
  if (typeof value !== "object" || value === null) return false;
  const peer = value as Record<string, unknown>;
  return isRingId(peer.id) && typeof peer.address === "string" && peer.address.length > 0;
}
