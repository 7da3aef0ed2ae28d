// A Chord ring node (Stoica et al.): the front that composes its routing table, lookups, upkeep and records.

import { P2PError } from "../../protocol/errors";
import type { ChordOptions } from "./chord-options";
import type { ChordStatus } from "../../model/reports";
import { isRingId, type RingId } from "../../model/id";
import type { LookupResult } from "./lookup";
import type { JoinResult } from "./membership";
import { isLive, type RecordEntry } from "../../model/record";
import type { RecordCursor, RecordStore } from "./records";
import { buildRingParts, type RingParts, type RingSettings, ringSettings } from "./ring-parts";
import type { LookupStep, Neighbours, RingHandlers, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";
import { Upkeep } from "./upkeep";

export type { ChordOptions } from "./chord-options";
export type { LookupResult } from "./lookup";
export type { JoinResult } from "./membership";

/**
 * One ring member. The parts, each in its own file and wired in ring-parts.ts: `RoutingTable` (the
 * state, synchronous), `Lookup` (iterative routing), `Stabilizer` (periodic upkeep of the table),
 * `Membership` (create, join, leave), and for records `RecordClient` (reads and writes),
 * `RecordIntake` (records received), `Replicator` (periodic replication, hand-over) and `HandOff`
 * (misplaced entries to their primary). Handlers trust their arguments: the wire
 * (src/wire/ring.ts) has parsed and checked them already.
 */
export class ChordNode implements RingHandlers {
  readonly self: Peer;
  private readonly parts: RingParts;
  private readonly settings: RingSettings;
  private readonly store: RecordStore;
  private readonly upkeep: Upkeep;

  constructor(self: Peer, transport: RingTransport, store: RecordStore, options: ChordOptions = {}) {
    this.self = { id: self.id, address: self.address };
    this.store = store;
    this.settings = ringSettings(options);
    this.parts = buildRingParts(this.self, transport, store, options, this.settings);
    this.upkeep = new Upkeep(this.parts, this.settings, store, () => this.maintain(), options.timers);
  }

  // ---- membership -------------------------------------------------------------------------

  /** Starts a new ring with this node alone in it. */
  create(): void {
    this.parts.membership.create();
  }

  /** Joins through the first bootstrap peer that answers, trying each in turn. */
  join(bootstrapPeers: readonly Peer[]): Promise<JoinResult> {
    return this.parts.membership.join(bootstrapPeers);
  }

  /** Leaves gracefully: hands every record to the successor and closes the ring around this node. */
  async leave(): Promise<{ handedTo: Peer | null }> {
    this.stop();
    await this.idle();
    return this.parts.membership.leave();
  }

  /** Installs known-correct neighbours without any call: a simulated ring built in one step; `fixFingers` fills the fingers. */
  adoptNeighbours(predecessor: Peer | null, successors: readonly Peer[]): void {
    this.parts.membership.adopt(predecessor, successors);
  }

  /**
   * Leaves this node's ring for the one `via` is in, without a goodbye: the old neighbours follow
   * by stabilizing through this node. Every record it holds is then forwarded to its primary in the
   * new ring. False when `via` could not take it in (its tables are then unchanged).
   */
  async rejoinThrough(via: Peer): Promise<boolean> {
    this.disturbed(`merging into the ring of ${via.address}`);
    const { joinedVia } = await this.join([via]);
    if (joinedVia === null) return false;
    this.handOffEverything();
    return true;
  }

  // ---- periodic maintenance -----------------------------------------------------------------

  /** One round of all periodic work (see Upkeep.maintain). */
  maintain(): Promise<void> {
    return this.upkeep.maintain();
  }

  /** Runs `maintain` every `intervalMs` while the ring changes, backing off to `maxMaintenanceMs` while it does not, until `stop`. */
  start(intervalMs: number): void {
    this.upkeep.start(intervalMs);
  }

  stop(): void {
    this.upkeep.stop();
  }

  /** The wait before the next maintenance round now (ms). */
  get maintenancePeriod(): number {
    return this.parts.period.current();
  }

  /** Something outside the ring saw a change (a link to a neighbour dropped): maintenance runs fast again. */
  disturbed(reason: string): void {
    this.parts.period.disturbed(reason);
  }

  /** A hint that may be nothing (a link to a neighbour closed): the next round comes soon, the period unchanged. */
  checkSoon(): void {
    this.upkeep.checkSoon();
  }

  /** `listener` hears each change that cut a grown maintenance period back to the fast one (and why). */
  onSnapBack(listener: (reason: string) => void): void {
    this.parts.period.onSnapBack(listener);
  }

  stabilize(): Promise<void> {
    return this.parts.stabilizer.stabilize();
  }

  checkPredecessor(): Promise<void> {
    return this.parts.stabilizer.checkPredecessor();
  }

  /** Refreshes the next distinct finger; true when this call finished a pass over the table. */
  fixFingers(): Promise<boolean> {
    return this.parts.stabilizer.fixFingers();
  }

  /** Makes the next `fixFingers` calls walk the table from the first finger again. */
  restartFingerPass(): void {
    this.parts.table.nextFinger = 0;
  }

  fixAllFingers(): Promise<void> {
    return this.parts.stabilizer.fixAllFingers();
  }

  replicate(): Promise<void> {
    return this.parts.replicator.replicate();
  }

  /** Queues every stored entry this node is not primary for, to be forwarded to its primary. */
  handOffEverything(): void {
    this.parts.handOff.handOffEverything();
  }

  handOffMisplaced(): Promise<void> {
    return this.parts.handOff.handOffMisplaced();
  }

  /** How many keys wait to be forwarded to their primary. */
  get misplacedCount(): number {
    return this.parts.handOff.misplacedCount;
  }

  /** Resolves when the background work this node started (pushes, handovers) has finished. */
  idle(): Promise<void> {
    return this.parts.background.idle();
  }

  get busy(): boolean {
    return this.parts.background.busy;
  }

  // ---- lookups and records ------------------------------------------------------------------

  /** The successor of `key`, found iteratively and checked; `hops` counts lookup calls, `checks` the calls that checked the answer. */
  async lookup(key: RingId): Promise<LookupResult> {
    assertKey(key);
    return this.parts.lookup.route(null, key, new Set(), { confirm: true });
  }

  /**
   * The successor of `key` as the ring `via` belongs to sees it: the lookup starts at `via`
   * instead of this node's tables, so it can reach into a ring this node is not part of.
   */
  async lookupVia(via: Peer, key: RingId): Promise<LookupResult> {
    assertKey(key);
    return this.parts.lookup.route(via, key, new Set());
  }

  /** Whether this node holds `key` as its primary or one of its replicas, as far as it can tell (false only on evidence). */
  holdsKey(key: RingId): boolean {
    return this.parts.table.holdsKey(key, this.settings.replicas);
  }

  /** Whether `peer` is in this node's tables (predecessor, successors, fingers). */
  knows(peer: Peer): boolean {
    return this.parts.table.knows(peer);
  }

  /** Stores `value` for `member` under `key` on its primary, which replicates it. */
  async put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer> {
    assertKey(key);
    if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new P2PError("MALFORMED", `ttl must be a positive number of milliseconds, got ${ttlMs}`);
    }
    return this.parts.client.put(key, member, value, ttlMs);
  }

  /** Removes `member` from `key` by storing a tombstone. */
  async remove(key: RingId, member: string): Promise<Peer> {
    assertKey(key);
    return this.parts.client.remove(key, member);
  }

  /** The live members of `key`, read from its primary (or the next live replica). */
  async get(key: RingId): Promise<RecordEntry[]> {
    assertKey(key);
    return this.parts.client.readFromPrimary(key);
  }

  status(): ChordStatus {
    const now = this.settings.clock();
    let primary = 0;
    let replica = 0;
    for (const entry of this.store.all()) {
      if (!isLive(entry, now)) continue;
      if (this.parts.table.isPrimaryFor(entry.key)) primary++;
      else replica++;
    }
    return {
      id: this.self.id,
      address: this.self.address,
      predecessor: this.parts.table.predecessor,
      successors: [...this.parts.table.successors],
      fingers: this.parts.table.distinctFingers(),
      records: { primary, replica },
      maintenanceMs: this.parts.period.current(),
      lastChange: this.parts.period.lastChange(now),
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
    return this.parts.table.nearestKnownPeers(new Set());
  }

  /** This node's current view of its neighbours. */
  neighbours(): Neighbours {
    return this.parts.table.neighbours();
  }

  // ---- incoming calls (what the transport's server invokes, with arguments already checked) ----

  handleFindSuccessorStep(key: RingId, avoid: string[]): LookupStep {
    this.assertServing();
    return this.parts.table.nextStep(key, new Set(avoid));
  }

  handleGetNeighbours(): Neighbours {
    this.assertServing();
    return this.neighbours();
  }

  handleNotify(candidate: Peer, direct = false): void {
    this.assertServing();
    this.upkeep.notified(candidate, direct);
  }

  handlePutRecords(entries: RecordEntry[]): number {
    this.assertServing();
    return this.parts.intake.accept(entries);
  }

  handleGetRecords(key: RingId): RecordEntry[] {
    this.assertServing();
    return this.store.get(key, this.settings.clock());
  }

  handleLeaving(leaver: Peer, predecessor: Peer | null, successors: Peer[]): void {
    this.assertServing();
    this.parts.stabilizer.neighbourLeft(leaver, predecessor, successors);
    this.disturbed(`${leaver.address} left`);
    // Our range grew or our replica set changed: push what the new holders lack.
    this.parts.background.start(() => this.replicate());
  }

  // ---- internals ----------------------------------------------------------------------------

  private assertServing(): void {
    this.parts.membership.assertServing();
  }
}

/** Keys from this node's own callers (names hashed by the node); keys from peers are checked by the wire. */
function assertKey(key: unknown): asserts key is RingId {
  if (!isRingId(key)) throw new P2PError("MALFORMED", `a key must be 40 lowercase hex digits, got ${String(key)}`);
}
