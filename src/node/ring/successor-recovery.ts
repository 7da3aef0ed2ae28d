// A node whose every successor is dead finds a live node ahead of it again, without adopting one from behind.

import { isP2PError } from "../../protocol/errors";
import { fingerStart, ID_BITS, inOpenInterval, ringDistance, type RingId } from "../../model/id";
import type { Lookup } from "./lookup";
import type { RoutingTable } from "./routing-table";
import type { RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/** How many known nodes a node without live successors asks for its way back into the ring. */
const MAX_RECOVERY_CANDIDATES = 8;
/** How many of the dead peers it knows a recovering node asks the others to route around. */
const MAX_RECOVERY_AVOID = 64;

export class SuccessorRecovery {
  constructor(
    private readonly table: RoutingTable,
    private readonly transport: RingTransport,
    private readonly lookup: Lookup,
  ) {}

  /**
   * Every successor is dead. A node ahead of this one is needed: adopting one from behind would
   * close the ring into a loop that stabilize never undoes. Any live finger lies ahead, so the
   * nearest one is a safe stand-in, and stabilize walks back from it to the true successor; a
   * lookup through it may shortcut that walk, taken only when its answer lies in between.
   * Resolves with whether a successor was set.
   */
  async recover(): Promise<boolean> {
    const self = this.table.self;
    const afterSelf = fingerStart(self.id, 0);
    const predecessor = this.table.predecessor;
    const ahead = this.table.nearestKnownPeers(new Set(predecessor === null ? [] : [predecessor.address]));
    for (const candidate of ahead.slice(0, MAX_RECOVERY_CANDIDATES)) {
      try {
        await this.transport.ping(candidate);
      } catch (error) {
        this.table.noteFailure(error, candidate);
        continue;
      }
      let successor = candidate;
      const found = await this.lookThrough(candidate, afterSelf);
      if (found !== null && inOpenInterval(found.id, self.id, candidate.id)) successor = found;
      this.table.setSuccessors([successor]);
      return true;
    }
    return predecessor === null ? false : this.probeAheadThrough(predecessor);
  }

  /**
   * Only the predecessor is left, and it may be as cut off as this node: its fingers sit at
   * nearly the same places. Look up points ever farther ahead through it, then through the
   * nodes before it, and take the first answer no farther than twice the probe distance: that
   * bound is what rules out a node from behind. When no answer passes it (the successor lies more
   * than half the ring ahead, or the nodes asked do not know it yet), the nearest live node ahead
   * among every answer and every node walked through stands in: stabilize walks back from it
   * along predecessors, which lead to the true successor.
   */
  private async probeAheadThrough(predecessor: Peer): Promise<boolean> {
    const self = this.table.self;
    const gapBits = ringDistance(predecessor.id, self.id).toString(2).length;
    let router: Peer | null = predecessor;
    let nearest: Peer | null = null;
    const consider = (peer: Peer) => {
      if (peer.address === self.address || peer.address === predecessor.address || this.table.isDead(peer.address)) return;
      if (nearest === null || ringDistance(self.id, peer.id) < ringDistance(self.id, nearest.id)) nearest = peer;
    };
    for (let step = 0; step < MAX_RECOVERY_CANDIDATES && router !== null; step++) {
      consider(router);
      for (let i = Math.max(0, gapBits - 1); i < ID_BITS - 1; i++) {
        const found = await this.lookThrough(router, fingerStart(self.id, i));
        if (found === null) continue;
        consider(found);
        if (found.address !== self.address && ringDistance(self.id, found.id) <= 1n << BigInt(i + 1)) {
          this.table.setSuccessors([found]);
          return true;
        }
      }
      router = await this.predecessorOf(router);
    }
    if (nearest !== null) {
      this.table.setSuccessors([nearest]);
      return true;
    }
    // Every lookup ended at the predecessor: it is the only other node, a ring of two.
    if (this.table.isDead(predecessor.address)) return false;
    this.table.setSuccessors([predecessor]);
    return true;
  }

  private async predecessorOf(peer: Peer): Promise<Peer | null> {
    try {
      const { predecessor } = await this.transport.getNeighbours(peer);
      return predecessor === null || predecessor.address === this.table.self.address ? null : predecessor;
    } catch (error) {
      this.table.noteFailure(error, peer);
      return null;
    }
  }

  /** A lookup through `via` that skips this node and the dead it knows of; null if it fails. */
  private async lookThrough(via: Peer, key: RingId): Promise<Peer | null> {
    const avoid = new Set([this.table.self.address, ...this.table.deadAddresses().slice(-MAX_RECOVERY_AVOID)]);
    try {
      const { peer } = await this.lookup.route(via, key, avoid);
      return this.table.isDead(peer.address) ? null : peer;
    } catch (error) {
      if (!isP2PError(error)) throw error;
      return null;
    }
  }
}
