// The nodes just before this one that notified it: where a notify this node does not take is passed on.

import { isP2PError } from "../../protocol/errors";
import { inOpenInterval, ringDistance } from "../../model/id";
import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";
import type { RoutingTable } from "./routing-table";

/**
 * Notifiers a node remembers, nearest before it first. A burst of joiners that all found this node as their
 * successor then learns its true order in one round instead of one layer of joiners per round (17 rounds for
 * 64 joiners into a ring of two, test/node/ring/join-burst.test.ts).
 */
export const MAX_REMEMBERED_NOTIFIERS = 64;

export class RecentNotifiers {
  private notifiers: Peer[] = [];

  constructor(
    private readonly table: Pick<RoutingTable, "self" | "predecessor" | "isDead">,
    private readonly transport: Pick<RingTransport, "notify">,
  ) {}

  /**
   * Tells the nearest node after `candidate` that this node knows that `candidate` may be its predecessor:
   * Chord alone would leave the candidate to find it by stabilizing one node closer per round. The caller
   * passes on only notifies the candidate sent itself, never one passed on, so a message costs one more at most.
   */
  passOn(candidate: Peer): void {
    this.remember(candidate);
    let nearest: Peer | null = null;
    for (const peer of [this.table.predecessor, ...this.notifiers]) {
      if (peer === null || peer.address === candidate.address || this.table.isDead(peer.address)) continue;
      if (!inOpenInterval(peer.id, candidate.id, this.table.self.id)) continue;
      if (nearest === null || inOpenInterval(peer.id, candidate.id, nearest.id)) nearest = peer;
    }
    if (nearest === null) return;
    // Only a hint: a node that does not take it costs nothing, and stabilize finds the order anyway.
    this.transport.notify(nearest, candidate).catch((error: unknown) => {
      if (!isP2PError(error)) throw error;
    });
  }

  /** Keeps `peer` among the MAX_REMEMBERED_NOTIFIERS nearest before this node. */
  remember(peer: Peer): void {
    const self = this.table.self;
    const kept = this.notifiers.filter((known) => known.address !== peer.address && !this.table.isDead(known.address));
    kept.push(peer);
    kept.sort((a, b) => (ringDistance(a.id, self.id) < ringDistance(b.id, self.id) ? -1 : 1));
    this.notifiers = kept.slice(0, MAX_REMEMBERED_NOTIFIERS);
  }
}
