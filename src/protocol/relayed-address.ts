// How an edge node (one nobody can connect to) is named on the network: its relay's address and its own id, bound to its key.

import { createHash } from "node:crypto";
import { P2PError } from "./errors";
import { formatAddress, parsePeerAddress } from "./address";

/** An edge id: 40 lowercase hex digits, the SHA-1 of `edge:<public key hex>` (`edgeIdOf`). */
export const EDGE_ID_PATTERN = /^[0-9a-f]{40}$/;

/** The id an edge node goes by: bound to its public key, so only the holder of that key can answer KEY for it. */
export function edgeIdOf(publicKey: string): string {
  return createHash("sha1").update(`edge:${publicKey}`).digest("hex");
}

/** `<relay ip:port>/<edge id>`, e.g. `127.0.0.2:7495/3fa2…` (IPv6 relays as `[::1]:7495/…`): the relay is the address dialled. */
export function formatRelayed(relayAddress: string, edgeId: string): string {
  return `${relayAddress}/${edgeId}`;
}

/** The parts of a relayed address, or null for a plain `ip:port`. Throws MALFORMED for a relayed address that is not canonical. */
export function parseRelayed(address: string, what = "relayed address"): { relay: string; edgeId: string } | null {
  const slash = address.indexOf("/");
  if (slash < 0) return null;
  const edgeId = address.slice(slash + 1);
  if (!EDGE_ID_PATTERN.test(edgeId)) throw P2PError.invalid(what, address, "<ip:port>/<edge id: 40 lowercase hex digits>");
  const { ip, port } = parsePeerAddress(address.slice(0, slash), what);
  return { relay: formatAddress(ip, port), edgeId };
}

/**
 * Any address a node or an edge is named by (a record's holder, a download's source), in its one spelling:
 * `ip:port` or `ip:port/<edge id>`. Throws MALFORMED with the reason.
 */
export function canonicalHolderAddress(address: string, what = "address"): string {
  const relayed = parseRelayed(address, what);
  if (relayed) return formatRelayed(relayed.relay, relayed.edgeId);
  const { ip, port } = parsePeerAddress(address, what);
  return formatAddress(ip, port);
}
