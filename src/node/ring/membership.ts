// A ring node's membership: creating a ring, joining one through bootstrap peers, leaving gracefully, and whether it may answer yet.

import { isP2PError, P2PError } from "../../protocol/errors";
import type { Lookup } from "./lookup";
import type { RecordPusher } from "./record-pusher";
import type { RecordStore } from "./records";
import type { Replicator } from "./replicator";
import type { RoutingTable } from "./routing-table";
import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";

/** `joinedVia` is null when no bootstrap peer could bring this node in; `failed` never answered. */
export type JoinResult = { joinedVia: Peer | null; failed: Peer[] };

export class Membership {
  private left = false;
  /** False until create/join/adopt: until then this node's tables would mislead a caller. */
  private member = false;

  constructor(
    private readonly table: RoutingTable,
    private readonly transport: RingTransport,
    private readonly lookup: Lookup,
    private readonly replicator: Replicator,
    private readonly pusher: RecordPusher,
    private readonly store: RecordStore,
    /** Copies of each record: the leave hands over only what the heir will hold once this node is gone. */
    private readonly replicas: number,
  ) {}

  /** Joined and not left. */
  get isMember(): boolean {
    return this.member && !this.left;
  }

  /** Starts a new ring with this node alone in it. */
  create(): void {
    this.reset();
    this.table.alone = true;
    this.member = true;
  }

  /** Joins through the first bootstrap peer that answers, trying each in turn. */
  async join(bootstrapPeers: readonly Peer[]): Promise<JoinResult> {
    const self = this.table.self;
    const failed: Peer[] = [];
    for (const bootstrap of bootstrapPeers) {
      if (bootstrap.address === self.address) continue;
      const avoid = new Set([self.address]);
      let successor: Peer;
      try {
        successor = (await this.lookup.route(bootstrap, self.id, avoid)).peer;
      } catch (error) {
        if (!isP2PError(error)) throw error;
        failed.push(bootstrap);
        continue;
      }
      // The bootstrap answered; a successor that dies right now is routed around, not blamed on it.
      for (let attempt = 0; attempt < this.table.successorListLength; attempt++) {
        try {
          const neighbours = await this.transport.getNeighbours(successor);
          this.reset();
          this.table.setSuccessors([successor, ...neighbours.successors]);
          // From here on the tables are sound: answer the successor, who may call back at once.
          this.member = true;
          await this.transport.notify(successor, self);
          await this.hintPredecessor(neighbours.predecessor, successor);
          return { joinedVia: bootstrap, failed };
        } catch (error) {
          if (!isP2PError(error)) throw error;
          avoid.add(successor.address);
          try {
            successor = (await this.lookup.route(bootstrap, self.id, avoid)).peer;
          } catch (retryError) {
            if (!isP2PError(retryError)) throw retryError;
            break;
          }
        }
      }
    }
    return { joinedVia: null, failed };
  }

  /** Hands every record to the successor and closes the ring around this node (background work already stopped). */
  async leave(): Promise<{ handedTo: Peer | null }> {
    const self = this.table.self;
    const predecessor = this.table.predecessor;
    const successors = [...this.table.successors];
    // Replicas of keys farther back than the heir will hold (it still counts this node among their holders,
    // and would refuse them): the primaries of those keys re-replicate them once the ring closes.
    const entries = this.store.all().filter((entry) => this.table.holdsKey(entry.key, this.replicas - 1));
    let heir: Peer | null = null;
    for (const successor of successors) {
      if (await this.pusher.pushRecords(successor, entries)) {
        heir = successor;
        break;
      }
    }
    // From here on ring calls are answered UNAVAILABLE: that is how the heir and predecessor check the LEAVING below.
    this.left = true;
    // The heir first, so it owns this range before the predecessor starts routing to it.
    const told = [heir, predecessor].filter((peer): peer is Peer => peer !== null);
    for (const peer of told) {
      if (peer.address === self.address) continue;
      try {
        await this.transport.leaving(peer, self, predecessor, successors);
      } catch (error) {
        if (!isP2PError(error)) throw error;
      }
    }
    this.reset();
    this.left = true;
    this.member = false;
    return { handedTo: heir };
  }

  /**
   * The node before this one learns of it at its next stabilize, which on a ring at rest may be seconds
   * away: a NOTIFY from a node just after it brings that round forward (Upkeep.notified). Only a hint, so
   * its failure changes nothing.
   */
  private async hintPredecessor(predecessor: Peer | null, successor: Peer): Promise<void> {
    if (predecessor === null || predecessor.address === this.table.self.address || predecessor.address === successor.address) return;
    try {
      await this.transport.notify(predecessor, this.table.self);
    } catch (error) {
      if (!isP2PError(error)) throw error;
    }
  }

  /** Installs known-correct neighbours without any call (a simulated ring built in one step). */
  adopt(predecessor: Peer | null, successors: readonly Peer[]): void {
    this.reset();
    this.table.adoptPredecessor(predecessor);
    this.table.setSuccessors(successors);
    this.member = true;
  }

  /** Incoming ring calls are answered only by a member: a joining or departed node would mislead. */
  assertServing(): void {
    const address = this.table.self.address;
    if (this.left) throw new P2PError("UNAVAILABLE", `${address} has left the ring`);
    if (!this.member) throw new P2PError("UNAVAILABLE", `${address} is still joining the ring`);
  }

  private reset(): void {
    this.table.reset();
    this.replicator.reset();
    this.left = false;
  }
}
