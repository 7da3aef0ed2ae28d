// Where a ring node's records go: to the key's primary, from the primary to its replicas, and misplaced ones handed on.

import { isP2PError, P2PError } from "../../protocol/errors";
import { MAX_RECORD_LIFETIME_MS } from "./admission";
import type { BackgroundWork } from "./background";
import { bigIntToId, idToBigInt, inHalfOpenInterval, inOpenInterval, ringDistance, type RingId } from "../../model/id";
import type { Lookup } from "./lookup";
import type { RecordEntry } from "../../model/record";
import type { RecordStore } from "./records";
import type { RoutingTable } from "./routing-table";
import type { Neighbours, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/** Background work is re-run at most this often in a row when asked again while running. */
const MAX_REPLICATION_PASSES = 4;
/** Keys of misplaced entries remembered for hand-off; beyond this the oldest are dropped (their holders re-announce). */
const MAX_MISPLACED_KEYS = 10_000;
/** Keys handed off per maintenance round, and primaries looked up for them: bounds the work one round adds. */
const MAX_HANDOFF_KEYS_PER_ROUND = 2_000;
const MAX_HANDOFF_LOOKUPS_PER_ROUND = 8;

export type ReplicatorOptions = {
  table: RoutingTable;
  transport: RingTransport;
  lookup: Lookup;
  store: RecordStore;
  background: BackgroundWork;
  /** Copies of each record: on its primary and on the next `replicas - 1` successors. */
  replicas: number;
  /** Largest batch of entries sent in one PUT_RECORDS. */
  maxEntriesPerCall: number;
  /** How long a removal is remembered, so a late replica cannot bring the member back. */
  tombstoneTtlMs: number;
  clock: () => number;
  /** Whether this node is a member of a ring right now (joined, not left). */
  isMember: () => boolean;
  signEntry: (entry: RecordEntry) => RecordEntry;
};

export class Replicator {
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly lookup: Lookup;
  private readonly store: RecordStore;
  private readonly background: BackgroundWork;
  private readonly replicas: number;
  private readonly maxEntriesPerCall: number;
  private readonly tombstoneTtlMs: number;
  private readonly clock: () => number;
  private readonly isMember: () => boolean;
  private readonly signEntry: (entry: RecordEntry) => RecordEntry;

  /** Range start and targets of the last full push of primary records, to push only what changed. */
  private replicatedRangeStart: RingId | null = null;
  private replicatedTo = new Set<string>();
  private replicating = false;
  private replicateAgain = false;
  /**
   * Keys of entries this node took in while not their primary (a put routed by stale tables, a
   * replica, a hand-over). Maintenance forwards them to the key's current primary: a merge is
   * last-writer-wins, so forwarding is always safe, and a fresh entry stranded beside the
   * primary can no longer be hidden by an older tombstone the primary holds.
   */
  private readonly misplaced = new Set<RingId>();
  private handingOff = false;
  private lastStamp = 0;

  constructor(options: ReplicatorOptions) {
    this.table = options.table;
    this.transport = options.transport;
    this.lookup = options.lookup;
    this.store = options.store;
    this.background = options.background;
    this.replicas = options.replicas;
    this.maxEntriesPerCall = options.maxEntriesPerCall;
    this.tombstoneTtlMs = options.tombstoneTtlMs;
    this.clock = options.clock;
    this.isMember = options.isMember;
    this.signEntry = options.signEntry;
  }

  /** Forgets what was pushed where: the tables were reset. */
  reset(): void {
    this.replicatedRangeStart = null;
    this.replicatedTo = new Set();
  }

  /**
   * Stores `value` for `member` under `key` on its primary (checked by the caller), which replicates it.
   * It lives `ttlMs`, at most (and by default) MAX_RECORD_LIFETIME_MS: peers store nothing that lives longer.
   */
  put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer> {
    const updatedAt = this.stamp();
    const expiresAt = updatedAt + Math.min(ttlMs ?? MAX_RECORD_LIFETIME_MS, MAX_RECORD_LIFETIME_MS);
    return this.sendToPrimary(key, [this.signEntry({ key, member, value, updatedAt, expiresAt, deleted: false })]);
  }

  /** Removes `member` from `key` by storing a tombstone. */
  remove(key: RingId, member: string): Promise<Peer> {
    const updatedAt = this.stamp();
    const tombstone: RecordEntry = { key, member, value: "", updatedAt, expiresAt: updatedAt + this.tombstoneTtlMs, deleted: true };
    return this.sendToPrimary(key, [this.signEntry(tombstone)]);
  }

  /**
   * Sends entries for `key` to its primary (this node included), routing around nodes that do not
   * answer, and to the key's replicas as this node sees them: a primary that swallows what it is
   * sent cannot keep it from the nodes after it.
   */
  async sendToPrimary(key: RingId, entries: RecordEntry[]): Promise<Peer> {
    const avoid = new Set<string>();
    let refusal: string | null = null;
    for (let attempt = 0; attempt <= this.table.successorListLength; attempt++) {
      const { peer, neighbours } = await this.lookup.route(null, key, avoid, { confirm: true });
      if (peer.address === this.table.self.address) {
        this.accept(entries);
        return this.table.self;
      }
      try {
        await this.transport.putRecords(peer, entries);
      } catch (error) {
        this.table.noteFailure(error, peer);
        if (isP2PError(error)) refusal = `${peer.address} answered: ${error.message}`;
        avoid.add(peer.address);
        continue;
      }
      await this.pushToAll(this.replicasAfter(peer, await this.successorsOf(peer, neighbours), avoid), entries);
      return peer;
    }
    // The last answer says why (a quota, a clock): "no live node" alone would hide it.
    throw new P2PError("UNAVAILABLE", `no live node accepts records for key ${key}${refusal === null ? "" : ` (${refusal})`}`);
  }

  /** The live members of `key`, read from its primary (or the next live replica) and merged with what its replicas hold. */
  async readFromPrimary(key: RingId): Promise<RecordEntry[]> {
    const avoid = new Set<string>();
    for (let attempt = 0; attempt <= this.table.successorListLength; attempt++) {
      const { peer, neighbours } = await this.lookup.route(null, key, avoid, { confirm: true });
      try {
        const primary = await this.readFrom(peer, key);
        return mergeReads(key, primary, await this.readReplicas(peer, key, neighbours, avoid));
      } catch (error) {
        this.table.noteFailure(error, peer);
        avoid.add(peer.address);
      }
    }
    throw new P2PError("UNAVAILABLE", `no live node holds key ${key}`);
  }

  /**
   * What the primary's replicas hold of `key`: one lying or lagging primary cannot hide entries they have.
   * Best effort: a replica that does not answer adds nothing.
   */
  private async readReplicas(primary: Peer, key: RingId, known: Neighbours | undefined, avoid: ReadonlySet<string>): Promise<RecordEntry[][]> {
    if (this.replicas <= 1) return [];
    const replicas = this.replicasAfter(primary, await this.successorsOf(primary, known), avoid);
    const reads = await Promise.allSettled(replicas.map((peer) => this.readFrom(peer, key)));
    return reads.flatMap((read) => (read.status === "fulfilled" ? [read.value] : []));
  }

  /**
   * The successors `primary` names: from the lookup's check when it asked (`known`), from this
   * node's own list when the primary is this node, else one GET_NEIGHBOURS (none when it does not answer).
   */
  private async successorsOf(primary: Peer, known: Neighbours | undefined): Promise<readonly Peer[]> {
    if (this.replicas <= 1) return [];
    if (primary.address === this.table.self.address) return this.table.successors;
    if (known !== undefined) return known.successors;
    try {
      return (await this.transport.getNeighbours(primary)).successors;
    } catch (error) {
      if (!isP2PError(error)) throw error;
      return [];
    }
  }

  /**
   * The `replicas - 1` nodes nearest after `primary` among those it names as its successors and
   * those this node knows of (itself included): a primary that names nobody, or strangers far
   * away, cannot steer reads and writes away from the nodes that really follow it.
   */
  replicasAfter(primary: Peer, named: readonly Peer[], avoid: ReadonlySet<string>): Peer[] {
    const candidates = new Map<string, Peer>();
    for (const peer of [...named, this.table.self, ...this.table.nearestKnownPeers(avoid)]) {
      if (peer.address === primary.address || avoid.has(peer.address) || this.table.isDead(peer.address)) continue;
      candidates.set(peer.address, peer);
    }
    return [...candidates.values()]
      .sort((a, b) => {
        const [da, db] = [ringDistance(primary.id, a.id), ringDistance(primary.id, b.id)];
        return da < db ? -1 : da > db ? 1 : 0;
      })
      .slice(0, this.replicas - 1);
  }

  private readFrom(peer: Peer, key: RingId): Promise<RecordEntry[]> {
    if (peer.address === this.table.self.address) return Promise.resolve(this.store.get(key, this.clock()));
    return this.transport.getRecords(peer, key);
  }

  /** Merges entries; what changed and is ours as primary goes on to the replicas. */
  accept(entries: RecordEntry[]): number {
    const changed = this.store.merge(entries);
    if (changed > 0) {
      const primary: RecordEntry[] = [];
      for (const entry of entries) {
        if (this.table.isPrimaryFor(entry.key)) primary.push(entry);
        else this.noteMisplaced(entry.key);
      }
      if (primary.length > 0) this.background.start(() => this.pushToReplicas(primary));
    }
    return changed;
  }

  /**
   * Pushes this node's primary records to the replica holders that may lack them: new members of
   * the first `replicas - 1` successors, or all of them when the primary range grew.
   */
  async replicate(): Promise<void> {
    if (this.replicating) {
      this.replicateAgain = true;
      return;
    }
    this.replicating = true;
    try {
      for (let pass = 0; pass < MAX_REPLICATION_PASSES; pass++) {
        this.replicateAgain = false;
        await this.replicateOnce();
        if (!this.replicateAgain) break;
      }
    } finally {
      this.replicating = false;
    }
  }

  /**
   * `candidate` joined inside this node's range. It needs everything outside our new range that we
   * hold: its own share, and the replicas of the nodes before it. We keep ours as replicas.
   */
  handOverTo(candidate: Peer): void {
    const handover = this.store.inRange(this.table.self.id, candidate.id);
    if (handover.length > 0) this.background.start(() => this.pushRecords(candidate, handover));
  }

  /** Sends entries in batches; false (and the peer marked dead) when it does not answer. */
  async pushRecords(to: Peer, entries: RecordEntry[]): Promise<boolean> {
    for (let offset = 0; offset < entries.length; offset += this.maxEntriesPerCall) {
      try {
        await this.transport.putRecords(to, entries.slice(offset, offset + this.maxEntriesPerCall));
      } catch (error) {
        this.table.noteFailure(error, to);
        return false;
      }
    }
    return true;
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
        const first = remaining[0]!;
        let primary: Peer;
        let known: Neighbours | undefined;
        try {
          ({ peer: primary, neighbours: known } = await this.lookup.route(null, first, new Set(), { confirm: true }));
        } catch (error) {
          if (!isP2PError(error)) throw error;
          return; // the ring is in flux: next round
        }
        if (primary.address === this.table.self.address) {
          // Routing says ours but our predecessor says not: the tables disagree, so wait for them.
          remaining = remaining.slice(1);
          continue;
        }
        let rangeStart: Peer | null = null;
        try {
          // The lookup's check asked the primary already, unless our own tables answered it.
          rangeStart = (known ?? (await this.transport.getNeighbours(primary))).predecessor;
        } catch (error) {
          this.table.noteFailure(error, primary);
          return;
        }
        const inRange = (key: RingId) => (rangeStart === null ? key === first : inHalfOpenInterval(key, rangeStart.id, primary.id));
        const batch = remaining.filter(inRange);
        remaining = remaining.filter((key) => !inRange(key));
        const entries = batch.flatMap((key) => this.store.inRange(bigIntToId(idToBigInt(key) - 1n), key));
        if (await this.pushRecords(primary, entries)) {
          for (const key of batch) this.misplaced.delete(key);
        }
      }
    } finally {
      this.handingOff = false;
    }
  }

  /** A strictly increasing write time, so a quick put-then-remove never ties. */
  private stamp(): number {
    this.lastStamp = Math.max(this.clock(), this.lastStamp + 1);
    return this.lastStamp;
  }

  private noteMisplaced(key: RingId): void {
    this.misplaced.delete(key);
    this.misplaced.add(key);
    if (this.misplaced.size > MAX_MISPLACED_KEYS) {
      const oldest = this.misplaced.values().next().value;
      if (oldest !== undefined) this.misplaced.delete(oldest);
    }
  }

  /** Pushes `entries` to each target at once (this node: stored here); a target that does not answer adds nothing. */
  private async pushToAll(targets: readonly Peer[], entries: RecordEntry[]): Promise<void> {
    await Promise.all(
      targets.map(async (target) => {
        if (target.address === this.table.self.address) this.accept(entries);
        else await this.pushRecords(target, entries);
      }),
    );
  }

  private async pushToReplicas(entries: RecordEntry[]): Promise<void> {
    for (const target of this.replicaTargets()) await this.pushRecords(target, entries);
  }

  private async replicateOnce(): Promise<void> {
    const predecessor = this.table.predecessor;
    const self = this.table.self;
    if (predecessor === null || this.table.successors.length === 0) return;
    const targets = this.replicaTargets();
    const previousStart = this.replicatedRangeStart;
    const grew =
      previousStart === null ||
      (previousStart !== predecessor.id && inOpenInterval(previousStart, predecessor.id, self.id));
    const due = grew ? targets : targets.filter((target) => !this.replicatedTo.has(target.address));
    const reached = new Set(targets.filter((target) => !due.includes(target)).map((target) => target.address));
    if (due.length > 0) {
      const entries = this.store.inRange(predecessor.id, self.id);
      for (const target of due) {
        if (await this.pushRecords(target, entries)) reached.add(target.address);
      }
    }
    this.replicatedRangeStart = predecessor.id;
    this.replicatedTo = reached;
  }

  private replicaTargets(): Peer[] {
    return this.table.successors.slice(0, this.replicas - 1);
  }
}

/** The primary's entries with what replicas hold that it does not, newest write of each member kept, in member order. */
function mergeReads(key: RingId, primary: RecordEntry[], replicas: RecordEntry[][]): RecordEntry[] {
  if (replicas.every((read) => read.length === 0)) return primary;
  const byMember = new Map(primary.map((entry) => [entry.member, entry]));
  for (const entry of replicas.flat()) {
    if (entry.key !== key) continue;
    const known = byMember.get(entry.member);
    if (!known || entry.updatedAt > known.updatedAt) byMember.set(entry.member, entry);
  }
  return [...byMember.values()].sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}
