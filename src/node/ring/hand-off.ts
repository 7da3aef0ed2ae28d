// Hand-off: entries this node holds for keys it is not primary for, remembered and forwarded to each key's current primary.

import { isP2PError } from "../../protocol/errors";
import { bigIntToId, idToBigInt, inHalfOpenInterval, type RingId } from "../../model/id";
import type { Lookup } from "./lookup";
import type { RecordPusher } from "./record-pusher";
import type { RecordStore } from "./records";
import type { RoutingTable } from "./routing-table";
import type { Neighbours, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/** Keys of misplaced entries remembered for hand-off; beyond this the oldest are dropped (their holders re-announce). */
const MAX_MISPLACED_KEYS = 10_000;
/** Keys handed off per maintenance round, and primaries looked up for them: bounds the work one round adds. */
const MAX_HANDOFF_KEYS_PER_ROUND = 2_000;
const MAX_HANDOFF_LOOKUPS_PER_ROUND = 8;

export type HandOffOptions = {
  table: RoutingTable;
  transport: RingTransport;
  lookup: Lookup;
  store: RecordStore;
  pusher: RecordPusher;
  /** Whether this node is a member of a ring right now (joined, not left). */
  isMember: () => boolean;
};

export class HandOff {
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly lookup: Lookup;
  private readonly store: RecordStore;
  private readonly pusher: RecordPusher;
  private readonly isMember: () => boolean;

  /**
   * Keys of entries this node took in while not their primary (a put routed by stale tables, a
   * replica, a hand-over). Maintenance forwards them to the key's current primary: a merge is
   * last-writer-wins, so forwarding is always safe, and a fresh entry stranded beside the
   * primary can no longer be hidden by an older tombstone the primary holds.
   */
  private readonly misplaced = new Set<RingId>();
  private handingOff = false;

  constructor(options: HandOffOptions) {
    this.table = options.table;
    this.transport = options.transport;
    this.lookup = options.lookup;
    this.store = options.store;
    this.pusher = options.pusher;
    this.isMember = options.isMember;
  }

  /** Remembers `key` (as the newest) to be forwarded to its primary. */
  noteMisplaced(key: RingId): void {
    this.misplaced.delete(key);
    this.misplaced.add(key);
    if (this.misplaced.size > MAX_MISPLACED_KEYS) {
      const oldest = this.misplaced.values().next().value;
      if (oldest !== undefined) this.misplaced.delete(oldest);
    }
  }

  /**
   * Queues every stored entry this node is not primary for, to be forwarded to its primary: for a
   * node that was away (its store may hold the only copy of updates made before it went) or that
   * moved to another ring.
   */
  handOffEverything(): void {
    for (const entry of this.store.all()) this.noteMisplaced(entry.key);
  }

  /** How many keys wait to be forwarded to their primary. */
  get misplacedCount(): number {
    return this.misplaced.size;
  }

  /**
   * Forwards entries held for keys this node is not primary for to each key's primary: one
   * lookup and one GET_NEIGHBOURS per primary, which takes every queued key in its range at once.
   */
  async handOffMisplaced(): Promise<void> {
    if (this.handingOff || !this.isMember() || this.table.alone || this.misplaced.size === 0) return;
    this.handingOff = true;
    try {
      const keys = [...this.misplaced].slice(0, MAX_HANDOFF_KEYS_PER_ROUND);
      let remaining = keys.filter((key) => {
        if (!this.table.isPrimaryFor(key)) return true;
        this.misplaced.delete(key); // ours now: replication carries it on
        return false;
      });
      for (let lookups = 0; lookups < MAX_HANDOFF_LOOKUPS_PER_ROUND && remaining.length > 0; lookups++) {
        const left = await this.forwardToPrimaryOf(remaining);
        if (left === null) return;
        remaining = left;
      }
    } finally {
      this.handingOff = false;
    }
  }

  /**
   * Looks up the primary of the first key and forwards every key of `keys` in its range to it.
   * Returns the keys still to do, or null when the ring is in flux (next round tries again).
   */
  private async forwardToPrimaryOf(keys: RingId[]): Promise<RingId[] | null> {
    const first = keys[0]!;
    let primary: Peer;
    let known: Neighbours | undefined;
    try {
      ({ peer: primary, neighbours: known } = await this.lookup.route(null, first, new Set(), { confirm: true }));
    } catch (error) {
      if (!isP2PError(error)) throw error;
      return null;
    }
    // Routing says ours but our predecessor says not: the tables disagree, so wait for them.
    if (primary.address === this.table.self.address) return keys.slice(1);
    let rangeStart: Peer | null = null;
    try {
      // The lookup's check asked the primary already, unless our own tables answered it.
      rangeStart = (known ?? (await this.transport.getNeighbours(primary))).predecessor;
    } catch (error) {
      this.table.noteFailure(error, primary);
      return null;
    }
    const inRange = (key: RingId) => (rangeStart === null ? key === first : inHalfOpenInterval(key, rangeStart.id, primary.id));
    const batch = keys.filter(inRange);
    const entries = batch.flatMap((key) => this.store.inRange(bigIntToId(idToBigInt(key) - 1n), key));
    if (await this.pusher.pushRecords(primary, entries)) {
      for (const key of batch) this.misplaced.delete(key);
    }
    return keys.filter((key) => !inRange(key));
  }
}
