// Sends record entries to one peer in batches of one PUT_RECORDS each: how replication, hand-off, hand-over and leaving reach a peer.

import { isP2PError } from "../../protocol/errors";
import { inOpenInterval, ringDistance } from "../../model/id";
import type { RecordEntry } from "../../model/record";
import type { RoutingTable } from "./routing-table";
import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";

/**
 * Predecessors asked, at most, on the way back from a replica that refused entries (`pushToReplicaSet`): enough to
 * cross the replicas of a few joins that successor lists do not show yet, and a bound on what one liar can cost.
 */
export const MAX_REPLICA_WALK_STEPS = 8;

/** What became of entries sent to one peer. */
export type PushOutcome = "stored" | "refused" | "unanswered";

export class RecordPusher {
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly maxEntriesPerCall: number;

  /** `maxEntriesPerCall`: the largest batch of entries sent in one PUT_RECORDS. */
  constructor(table: RoutingTable, transport: RingTransport, maxEntriesPerCall: number) {
    this.table = table;
    this.transport = transport;
    this.maxEntriesPerCall = maxEntriesPerCall;
  }

  /** Sends entries in batches; false when the peer refuses them or does not answer (and then it is marked dead). */
  async pushRecords(to: Peer, entries: RecordEntry[]): Promise<boolean> {
    return (await this.deliver(to, entries)) === "stored";
  }

  /**
   * Sends entries for keys of `primary` to its replicas as the caller sees them (`targets`), and then to the
   * replicas the caller did not know of. Successor lists lag a join by a few rounds, so a node just after the
   * primary may be missing from them, and a target beyond the replica set refuses the entries (409: it knows
   * enough nodes between the key and itself). Those nodes are found by walking back from the farthest refuser
   * through predecessors, each strictly between the primary and the node before it on the walk, to the primary;
   * every one not sent the entries yet is sent them. A write is then on the nodes that will keep it, not only
   * on those a lagging list named.
   */
  async pushToReplicaSet(primary: Peer, targets: readonly Peer[], entries: RecordEntry[]): Promise<void> {
    const outcomes = await Promise.all(targets.map(async (target) => ({ target, outcome: await this.deliver(target, entries) })));
    const refusers = outcomes.filter(({ outcome }) => outcome === "refused").map(({ target }) => target);
    if (refusers.length === 0) return;
    const farthest = refusers.reduce((far, peer) => (ringDistance(primary.id, peer.id) > ringDistance(primary.id, far.id) ? peer : far));
    const sent = new Set([primary.address, this.table.self.address, ...targets.map((target) => target.address)]);
    let at = farthest;
    for (let step = 0; step < MAX_REPLICA_WALK_STEPS; step++) {
      const before = await this.predecessorOf(at);
      if (before === null || !inOpenInterval(before.id, primary.id, at.id)) return;
      if (!sent.has(before.address)) {
        sent.add(before.address);
        if ((await this.deliver(before, entries)) === "unanswered") return;
      }
      at = before;
    }
  }

  /** Sends entries in batches and says whether the peer stored them, refused them as not its keys (409), or failed otherwise. */
  async deliver(to: Peer, entries: RecordEntry[]): Promise<PushOutcome> {
    for (let offset = 0; offset < entries.length; offset += this.maxEntriesPerCall) {
      try {
        await this.transport.putRecords(to, entries.slice(offset, offset + this.maxEntriesPerCall));
      } catch (error) {
        this.table.noteFailure(error, to);
        return isP2PError(error, "CONFLICT") ? "refused" : "unanswered";
      }
    }
    return "stored";
  }

  private async predecessorOf(peer: Peer): Promise<Peer | null> {
    try {
      return (await this.transport.getNeighbours(peer)).predecessor;
    } catch (error) {
      this.table.noteFailure(error, peer);
      return null;
    }
  }
}
