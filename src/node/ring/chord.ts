// A Chord ring node (Stoica et al.): the front that composes its routing table, lookups, upkeep and records.

import { P2PError } from "../../protocol/errors";
import { BackgroundWork } from "./background";
import { type ChordOptions, DEFAULTS } from "./chord-options";
import type { ChordStatus } from "../../model/reports";
import { isRingId, type RingId } from "../../model/id";
import { Lookup, type LookupResult } from "./lookup";
import { type JoinResult, Membership } from "./membership";
import { isLive, type RecordEntry } from "../../model/record";
import type { RecordCursor, RecordStore } from "./records";
import { Replicator } from "./replicator";
import { RoutingTable } from "./routing-table";
import { Stabilizer } from "./stabilizer";
import { revivingTransport } from "./transport";
import type { LookupStep, Neighbours, RingHandlers, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

export type { ChordOptions } from "./chord-options";
export type { LookupResult } from "./lookup";
export type { JoinResult } from "./membership";

/**
 * One ring member. The parts, each in its own file: `RoutingTable` (the state, synchronous),
 * `Lookup` (iterative routing), `Stabilizer` (periodic upkeep of the table), `Replicator`
 * (records to their primary, replicas and hand-offs). Handlers trust their arguments: the wire
 * (src/wire/ring.ts) has parsed and checked them already.
 */
export class ChordNode implements RingHandlers {
  readonly self: Peer;
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly routing: Lookup;
  private readonly stabilizer: Stabilizer;
  private readonly replicator: Replicator;
  private readonly background: BackgroundWork;
  private readonly store: RecordStore;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly deadPeerTtlMs: number;
  private readonly replicas: number;
  private readonly learnReplicaRange: boolean;

  private readonly membership: Membership;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(self: Peer, transport: RingTransport, store: RecordStore, options: ChordOptions = {}) {
    this.self = { id: self.id, address: self.address };
    this.store = store;
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.deadPeerTtlMs = options.deadPeerTtlMs ?? DEFAULTS.deadPeerTtlMs;
    this.replicas = Math.max(1, options.replicas ?? DEFAULTS.replicas);
    this.learnReplicaRange = options.learnReplicaRange ?? false;
    const successorListLength = Math.max(1, options.successorListLength ?? DEFAULTS.successorListLength);
    this.table = new RoutingTable(this.self, successorListLength, this.clock);
    // Any answer at all proves a peer alive: it leaves the dead list at once, not after its TTL.
    this.transport = revivingTransport(transport, (peer) => this.table.revive(peer.address));
    this.routing = new Lookup(this.table, this.transport, {
      maxLookupCalls: options.maxLookupCalls ?? DEFAULTS.maxLookupCalls,
      clock: this.clock,
      warn: options.onWarning ?? (() => {}),
    });
    // A new predecessor inside our range gets what it now owns, and the replicas before it.
    this.stabilizer = new Stabilizer(this.table, this.transport, this.routing, (candidate) => this.replicator.handOverTo(candidate));
    this.background = new BackgroundWork(options.onError ?? ((error) => console.error("chord background work failed:", error)));
    this.replicator = new Replicator({
      table: this.table,
      transport: this.transport,
      lookup: this.routing,
      store,
      background: this.background,
      replicas: this.replicas,
      maxEntriesPerCall: options.maxEntriesPerCall ?? DEFAULTS.maxEntriesPerCall,
      tombstoneTtlMs: options.tombstoneTtlMs ?? DEFAULTS.tombstoneTtlMs,
      clock: this.clock,
      isMember: () => this.membership.isMember,
      signEntry: options.signEntry ?? ((entry) => entry),
    });
    this.membership = new Membership(this.table, this.transport, this.routing, this.replicator, store);
  }

  // ---- membership -------------------------------------------------------------------------

  /** Starts a new ring with this node alone in it. */
  create(): void {
    this.membership.create();
  }

  /** Joins through the first bootstrap peer that answers, trying each in turn. */
  join(bootstrapPeers: readonly Peer[]): Promise<JoinResult> {
    return this.membership.join(bootstrapPeers);
  }

  /** Leaves gracefully: hands every record to the successor and closes the ring around this node. */
  async leave(): Promise<{ handedTo: Peer | null }> {
    this.stop();
    await this.idle();
    return this.membership.leave();
  }

  /** Installs known-correct neighbours without any call: a simulated ring built in one step; `fixFingers` fills the fingers. */
  adoptNeighbours(predecessor: Peer | null, successors: readonly Peer[]): void {
    this.membership.adopt(predecessor, successors);
  }

  /**
   * Leaves this node's ring for the one `via` is in, without a goodbye: the old neighbours follow
   * by stabilizing through this node. Every record it holds is then forwarded to its primary in the
   * new ring. False when `via` could not take it in (its tables are then unchanged).
   */
  async rejoinThrough(via: Peer): Promise<boolean> {
    const { joinedVia } = await this.join([via]);
    if (joinedVia === null) return false;
    this.handOffEverything();
    return true;
  }

  // ---- periodic maintenance -----------------------------------------------------------------

  /** One round of all periodic work. */
  async maintain(): Promise<void> {
    this.table.forgetDeadPeersOlderThan(this.deadPeerTtlMs);
    await this.checkPredecessor();
    if (this.learnReplicaRange) await this.stabilizer.learnPredecessors(this.replicas);
    await this.stabilize();
    await this.fixFingers();
    await this.replicate();
    await this.handOffMisplaced();
    this.store.pruneExpired(this.clock());
  }

  /** Runs `maintain` every `intervalMs` (spread by ±10%) until `stop`. */
  start(intervalMs: number): void {
    if (this.timer !== null) return;
    const schedule = (): void => {
      const delay = intervalMs * (0.9 + 0.2 * this.random());
      this.timer = setTimeout(async () => {
        try {
          await this.maintain();
        } catch (error) {
          this.background.reportError(error);
        }
        // stop() during maintain cleared the timer handle: do not schedule again.
        if (this.timer !== null) schedule();
      }, delay);
    };
    schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  stabilize(): Promise<void> {
    return this.stabilizer.stabilize();
  }

  checkPredecessor(): Promise<void> {
    return this.stabilizer.checkPredecessor();
  }

  /** Refreshes the next distinct finger; true when this call finished a pass over the table. */
  fixFingers(): Promise<boolean> {
    return this.stabilizer.fixFingers();
  }

  /** Makes the next `fixFingers` calls walk the table from the first finger again. */
  restartFingerPass(): void {
    this.table.nextFinger = 0;
  }

  fixAllFingers(): Promise<void> {
    return this.stabilizer.fixAllFingers();
  }

  replicate(): Promise<void> {
    return this.replicator.replicate();
  }

  /** Queues every stored entry this node is not primary for, to be forwarded to its primary. */
  handOffEverything(): void {
    this.replicator.handOffEverything();
  }

  handOffMisplaced(): Promise<void> {
    return this.replicator.handOffMisplaced();
  }

  /** How many keys wait to be forwarded to their primary. */
  get misplacedCount(): number {
    return this.replicator.misplacedCount;
  }

  /** Resolves when the background work this node started (pushes, handovers) has finished. */
  idle(): Promise<void> {
    return this.background.idle();
  }

  get busy(): boolean {
    return this.background.busy;
  }

  // ---- lookups and records ------------------------------------------------------------------

  /** The successor of `key`, found iteratively and checked; `hops` counts lookup calls, `checks` the calls that checked the answer. */
  async lookup(key: RingId): Promise<LookupResult> {
    assertKey(key);
    return this.routing.route(null, key, new Set(), { confirm: true });
  }

  /**
   * The successor of `key` as the ring `via` belongs to sees it: the lookup starts at `via`
   * instead of this node's tables, so it can reach into a ring this node is not part of.
   */
  async lookupVia(via: Peer, key: RingId): Promise<LookupResult> {
    assertKey(key);
    return this.routing.route(via, key, new Set());
  }

  /** Whether this node holds `key` as its primary or one of its replicas, as far as it can tell (false only on evidence). */
  holdsKey(key: RingId): boolean {
    return this.table.holdsKey(key, this.replicas);
  }

  /** Whether `peer` is in this node's tables (predecessor, successors, fingers). */
  knows(peer: Peer): boolean {
    return this.table.knows(peer);
  }

  /** Stores `value` for `member` under `key` on its primary, which replicates it. */
  async put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer> {
    assertKey(key);
    if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new P2PError("MALFORMED", `ttl must be a positive number of milliseconds, got ${ttlMs}`);
    }
    return this.replicator.put(key, member, value, ttlMs);
  }

  /** Removes `member` from `key` by storing a tombstone. */
  async remove(key: RingId, member: string): Promise<Peer> {
    assertKey(key);
    return this.replicator.remove(key, member);
  }

  /** The live members of `key`, read from its primary (or the next live replica). */
  async get(key: RingId): Promise<RecordEntry[]> {
    assertKey(key);
    return this.replicator.readFromPrimary(key);
  }

  status(): ChordStatus {
    const now = this.clock();
    let primary = 0;
    let replica = 0;
    for (const entry of this.store.all()) {
      if (!isLive(entry, now)) continue;
      if (this.table.isPrimaryFor(entry.key)) primary++;
      else replica++;
    }
    return {
      id: this.self.id,
      address: this.self.address,
      predecessor: this.table.predecessor,
      successors: [...this.table.successors],
      fingers: this.table.distinctFingers(),
      records: { primary, replica },
    };
  }

  /** Every entry this node stores, as primary or replica, tombstones included. */
  localRecords(): RecordEntry[] {
    return this.store.all();
  }

  /** One page of a scan of this node's live records, in (key, member) order after `after`. */
  localRecordsAfter(after: RecordCursor | null, limit: number): RecordEntry[] {
    return this.store.liveAfter(after, Date.now(), limit);
  }

  /** Every distinct peer in this node's routing tables (fingers and successors), nearest first. */
  routingPeers(): Peer[] {
    return this.table.nearestKnownPeers(new Set());
  }

  /** This node's current view of its neighbours. */
  neighbours(): Neighbours {
    return this.table.neighbours();
  }

  // ---- incoming calls (what the transport's server invokes, with arguments already checked) ----

  handleFindSuccessorStep(key: RingId, avoid: string[]): LookupStep {
    this.assertServing();
    return this.table.nextStep(key, new Set(avoid));
  }

  handleGetNeighbours(): Neighbours {
    this.assertServing();
    return this.neighbours();
  }

  handleNotify(candidate: Peer): void {
    this.assertServing();
    this.stabilizer.notified(candidate);
  }

  handlePutRecords(entries: RecordEntry[]): number {
    this.assertServing();
    return this.replicator.accept(entries);
  }

  handleGetRecords(key: RingId): RecordEntry[] {
    this.assertServing();
    return this.store.get(key, this.clock());
  }

  handleLeaving(leaver: Peer, predecessor: Peer | null, successors: Peer[]): void {
    this.assertServing();
    this.stabilizer.neighbourLeft(leaver, predecessor, successors);
    // Our range grew or our replica set changed: push what the new holders lack.
    this.background.start(() => this.replicate());
  }

  // ---- internals ----------------------------------------------------------------------------

  private assertServing(): void {
    this.membership.assertServing();
  }
}

/** Keys from this node's own callers (names hashed by the node); keys from peers are checked by the wire. */
function assertKey(key: unknown): asserts key is RingId {
  if (!isRingId(key)) throw new P2PError("MALFORMED", `a key must be 40 lowercase hex digits, got ${String(key)}`);
}
