// The holders a link names, as a download uses them: only those this node may contact, beside the ring's, and the one error when none serves the link's id.

import { splitAddress } from "../../protocol/address";
import { isLoopback } from "../../protocol/ip";
import { P2PError } from "../../protocol/errors";
import { holdersOf } from "./announcements";
import type { ManifestUnavailable } from "./manifest-fetch";
import { nameKey } from "./names";
import type { FileRecords } from "./ports";
import type { Holder } from "./swarm/file-peers";

/**
 * The link's holders this node contacts: on its own side of loopback only. A node on 127/8 or ::1 (a test,
 * a demo, one machine) never connects out of loopback because a pasted link said so, and a node on a
 * network never connects to its own machine's loopback services because a stranger's link named them.
 */
export function usableVia(via: readonly string[], selfAddress: string): { usable: Holder[]; dropped: string[] } {
  const selfLoopback = isLoopback(splitAddress(selfAddress).ip);
  const usable: Holder[] = [];
  const dropped: string[] = [];
  for (const address of via) {
    if (isLoopback(splitAddress(address).ip) === selfLoopback) usable.push({ address, partial: true });
    else dropped.push(address);
  }
  return { usable, dropped };
}

/**
 * The ring's holders of `id` under `name`, then the link's (asked for what they have: a holder a link
 * names may be partial). Asked again during the download, as the ring's are; a ring that cannot answer
 * yet leaves the link's holders.
 */
export function linkHolders(ring: FileRecords, name: string, id: string, via: readonly Holder[]): () => Promise<Holder[]> {
  return async () => {
    const announced = holdersOf(await ring.get(nameKey(name)).catch(() => []), id);
    return [...announced, ...via.filter((holder) => !announced.some((known) => known.address === holder.address))];
  };
}

/** No holder gave the manifest of the link's id: one error that says why, and what the link said. */
export function linkUnavailable(what: { name: string; id: string; via: { usable: Holder[]; dropped: string[] }; linkDns: string[]; ownDns: string[]; cause: ManifestUnavailable }): P2PError {
  const { name, id, via, cause } = what;
  const short = id.slice(0, 12);
  const dropped = via.dropped.length > 0 ? ` (not asked: ${via.dropped.join(", ")}, on the other side of loopback from this node)` : "";
  const otherNetwork = what.linkDns.length > 0 && !what.linkDns.some((dns) => what.ownDns.includes(dns)) ? `; the link comes from the network of DNS ${what.linkDns.join(",")}, this node is in that of ${what.ownDns.join(",")}` : "";
  if (cause.allMissing) {
    return new P2PError("NOT_FOUND", `no holder serves ${name} with the link's id ${short}: the link does not match what its holders share (a mistyped or edited link, or the file changed since)${dropped}${otherNetwork}`);
  }
  const asked = via.usable.length > 0 ? `asked ${via.usable.map((holder) => holder.address).join(", ")} and the ring: ${cause.message}` : `the link names no holder this node can ask${dropped}, and the ring knows none`;
  return new P2PError("UNAVAILABLE", `could not fetch ${name} (id ${short}) from the link: ${asked}${otherNetwork}`);
}
