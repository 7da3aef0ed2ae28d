// A Chord ring node (Stoica et al.): routing tables, iterative lookups and replicated records.

import { isP2PError, P2PError } from "../../protocol/errors";
import {
  bigIntToId,
  fingerStart,
  idToBigInt,
  ID_BITS,
  inHalfOpenInterval,
  inOpenInterval,
  isRingId,
  ringDistance,
  type RingId,
} from "./id";
import { isLive, isRecordEntry, type RecordEntry, type RecordStore } from "./records";
import {
  isPeer,
  type LookupStep,
  type Neighbours,
  type Peer,
  type RingHandlers,
  type RingTransport,
} from "./transport";

export type ChordOptions = {
  /** How many successors each node tracks; the ring survives this many minus one adjacent failures. */
  successorListLength?: number;
  /** Copies of each record: on its primary and on the next `replicas - 1` successors. */
  replicas?: number;
  clock?: () => number;
  /** Only spreads the maintenance timer; everything else is deterministic. */
  random?: () => number;
  /** How long a removal is remembered, so a late replica cannot bring the member back. */
  tombstoneTtlMs?: number;
  /** How long a peer that failed to answer stays out of this node's tables. */
  deadPeerTtlMs?: number;
  /** Upper bound on calls one lookup may make, dead ends included. */
  maxLookupCalls?: number;
  /** Largest batch of entries sent in one PUT_RECORDS. */
  maxEntriesPerCall?: number;
  /** Background work that failed for a reason other than a peer not answering. */
  onError?: (error: unknown) => void;
};

export type LookupResult = { peer: Peer; hops: number };

/** `joinedVia` is null when no bootstrap peer could bring this node in; `failed` never answered. */
export type JoinResult = { joinedVia: Peer | null; failed: Peer[] };

export type ChordStatus = {
  id: RingId;
  address: string;
  predecessor: Peer | null;
  successors: Peer[];
  /** Distinct finger peers, nearest first. */
  fingers: Peer[];
  /** Live entries this node holds as the primary for their key, and as a replica. */
  records: { primary: number; replica: number };
};

const DEFAULTS = {
  successorListLength: 4,
  replicas: 3,
  tombstoneTtlMs: 24 * 60 * 60 * 1000,
  deadPeerTtlMs: 60 * 1000,
  maxLookupCalls: 256,
  maxEntriesPerCall: 500,
};

/** Background work is re-run at most this often in a row when asked again while running. */
const MAX_REPLICATION_PASSES = 4;
/** Bound on calls one stabilize makes, walking back towards the true successor included. */
const MAX_STABILIZE_CALLS = 2 * ID_BITS;
/** How many known nodes a node without live successors asks for its way back into the ring. */
const MAX_RECOVERY_CANDIDATES = 8;
/** How many of the dead peers it knows a recovering node asks the others to route around. */
const MAX_RECOVERY_AVOID = 64;
/** Keys of misplaced entries remembered for hand-off; beyond this the oldest are dropped (their holders re-announce). */
const MAX_MISPLACED_KEYS = 10_000;
/** Keys handed off per maintenance round, and primaries looked up for them: bounds the work one round adds. */
const MAX_HANDOFF_KEYS_PER_ROUND = 2_000;
const MAX_HANDOFF_LOOKUPS_PER_ROUND = 8;
/** What a call fails with when the peer did not answer at all: the only evidence that it is dead. */
const SILENT_CODES: ReadonlySet<string> = new Set(["TIMEOUT", "UNREACHABLE", "CLOSED"]);
/** Bound on waiting for background work that keeps spawning more. */
const MAX_IDLE_WAITS = 1000;

export class ChordNode implements RingHandlers {
  readonly self: Peer;
  private readonly transport: RingTransport;
  private readonly store: RecordStore;
  private readonly successorListLength: number;
  private readonly replicas: number;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly tombstoneTtlMs: number;
  private readonly deadPeerTtlMs: number;
  private readonly maxLookupCalls: number;
  private readonly maxEntriesPerCall: number;
  private readonly onError: (error: unknown) => void;

  private predecessor: Peer | null = null;
  /** Nearest first; never contains this node. */
  private successorList: Peer[] = [];
  /** Created a ring and met nobody yet; unlike a node that lost all its successors. */
  private alone = false;
  /** fingers[i] = successor(id + 2^i), or null when unknown or this node itself. */
  private readonly fingers: (Peer | null)[] = new Array<Peer | null>(ID_BITS).fill(null);
  private nextFinger = 0;
  /** Where this node's primary range began at the last known predecessor; outlives its death. */
  private rangeStart: RingId | null = null;
  /** address -> when it failed to answer. */
  private readonly deadPeers = new Map<string, number>();

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

  private readonly pending = new Set<Promise<void>>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastStamp = 0;
  private left = false;
  /** False until create/join/adoptNeighbours: until then this node's tables would mislead a caller. */
  private member = false;

  constructor(self: Peer, transport: RingTransport, store: RecordStore, options: ChordOptions = {}) {
    this.self = { id: self.id, address: self.address };
    // Any answer at all proves a peer alive: it leaves the dead list at once, not after its TTL.
    this.transport = revivingTransport(transport, (peer) => this.deadPeers.delete(peer.address));
    this.store = store;
    this.successorListLength = Math.max(1, options.successorListLength ?? DEFAULTS.successorListLength);
    this.replicas = Math.max(1, options.replicas ?? DEFAULTS.replicas);
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? DEFAULTS.tombstoneTtlMs;
    this.deadPeerTtlMs = options.deadPeerTtlMs ?? DEFAULTS.deadPeerTtlMs;
    this.maxLookupCalls = options.maxLookupCalls ?? DEFAULTS.maxLookupCalls;
    this.maxEntriesPerCall = options.maxEntriesPerCall ?? DEFAULTS.maxEntriesPerCall;
    this.onError = options.onError ?? ((error) => console.error("chord background work failed:", error));
  }

  // ---- membership -------------------------------------------------------------------------

  /** Starts a new ring with this node alone in it. */
  create(): void {
    this.resetTables();
    this.alone = true;
    this.member = true;
  }

  /** Joins through the first bootstrap peer that answers, trying each in turn. */
  async join(bootstrapPeers: readonly Peer[]): Promise<JoinResult> {
    const failed: Peer[] = [];
    for (const bootstrap of bootstrapPeers) {
      if (bootstrap.address === this.self.address) continue;
      const avoid = new Set([this.self.address]);
      let successor: Peer;
      try {
        successor = (await this.route(bootstrap, this.self.id, avoid)).peer;
      } catch (error) {
        if (!isP2PError(error)) throw error;
        failed.push(bootstrap);
        continue;
      }
      // The bootstrap answered; a successor that dies right now is routed around, not blamed on it.
      for (let attempt = 0; attempt < this.successorListLength; attempt++) {
        try {
          const neighbours = await this.transport.getNeighbours(successor);
          this.resetTables();
          this.setSuccessors([successor, ...neighbours.successors]);
          // From here on the tables are sound: answer the successor, who may call back at once.
          this.member = true;
          await this.transport.notify(successor, this.self);
          return { joinedVia: bootstrap, failed };
        } catch (error) {
          if (!isP2PError(error)) throw error;
          avoid.add(successor.address);
          try {
            successor = (await this.route(bootstrap, this.self.id, avoid)).peer;
          } catch (retryError) {
            if (!isP2PError(retryError)) throw retryError;
            break;
          }
        }
      }
    }
    return { joinedVia: null, failed };
  }

  /** Leaves gracefully: hands every record to the successor and closes the ring around this node. */
  async leave(): Promise<{ handedTo: Peer | null }> {
    this.stop();
    await this.idle();
    const predecessor = this.predecessor;
    const successors = [...this.successorList];
    const entries = this.store.all();
    let heir: Peer | null = null;
    for (const successor of successors) {
      if (await this.pushRecords(successor, entries)) {
        heir = successor;
        break;
      }
    }
    // The heir first, so it owns this range before the predecessor starts routing to it.
    const told = [heir, predecessor].filter((peer): peer is Peer => peer !== null);
    for (const peer of told) {
      if (peer.address === this.self.address) continue;
      try {
        await this.transport.leaving(peer, this.self, predecessor, successors);
      } catch (error) {
        if (!isP2PError(error)) throw error;
      }
    }
    this.resetTables();
    this.left = true;
    this.member = false;
    return { handedTo: heir };
  }

  /**
   * Installs known-correct neighbours without any call: for building a large simulated ring in
   * one step instead of N joins. Fingers are then filled by `fixFingers`.
   */
  adoptNeighbours(predecessor: Peer | null, successors: readonly Peer[]): void {
    this.resetTables();
    this.predecessor = predecessor && predecessor.address !== this.self.address ? { ...predecessor } : null;
    this.rangeStart = this.predecessor?.id ?? null;
    this.setSuccessors(successors);
    this.member = true;
  }

  // ---- periodic maintenance -----------------------------------------------------------------

  /** One round of all periodic work. */
  async maintain(): Promise<void> {
    this.forgetOldDeadPeers();
    await this.checkPredecessor();
    await this.stabilize();
    await this.fixFingers();
    await this.replicate();
    await this.handOffMisplaced();
    this.store.pruneExpired(this.clock());
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
    if (this.handingOff || !this.member || this.left || this.alone || this.misplaced.size === 0) return;
    this.handingOff = true;
    try {
      const keys = [...this.misplaced].slice(0, MAX_HANDOFF_KEYS_PER_ROUND);
      let remaining = keys.filter((key) => {
        if (!this.isPrimaryFor(key)) return true;
        this.misplaced.delete(key); // ours now: replication carries it on
        return false;
      });
      for (let lookups = 0; lookups < MAX_HANDOFF_LOOKUPS_PER_ROUND && remaining.length > 0; lookups++) {
        const first = remaining[0]!;
        let primary: Peer;
        try {
          primary = (await this.route(null, first, new Set())).peer;
        } catch (error) {
          if (!isP2PError(error)) throw error;
          return; // the ring is in flux: next round
        }
        if (primary.address === this.self.address) {
          // Routing says ours but our predecessor says not: the tables disagree, so wait for them.
          remaining = remaining.slice(1);
          continue;
        }
        let rangeStart: Peer | null = null;
        try {
          rangeStart = (await this.transport.getNeighbours(primary)).predecessor;
        } catch (error) {
          this.failedCall(error, primary);
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

  /** Runs `maintain` every `intervalMs` (spread by ±10%) until `stop`. */
  start(intervalMs: number): void {
    if (this.timer !== null) return;
    const schedule = (): void => {
      const delay = intervalMs * (0.9 + 0.2 * this.random());
      this.timer = setTimeout(async () => {
        try {
          await this.maintain();
        } catch (error) {
          this.onError(error);
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

  /**
   * Chord's stabilize: learns of nodes that joined just after this one, refreshes the successor
   * list from the successor's, and tells the successor about this node. Dead successors are
   * skipped; when all are dead the nearest live node this node knows of takes their place.
   */
  async stabilize(): Promise<void> {
    let successor = this.successorList[0];
    for (let attempt = 0; attempt < MAX_STABILIZE_CALLS; attempt++) {
      if (successor === undefined) {
        if (!(await this.recoverSuccessor())) return;
        successor = this.successorList[0];
        continue;
      }
      let neighbours: Neighbours;
      try {
        neighbours = await this.transport.getNeighbours(successor);
      } catch (error) {
        if (isP2PError(error, "UNAVAILABLE")) return; // alive but mid-join or mid-leave: next round
        this.failedCall(error, successor);
        successor = this.successorList[0];
        continue;
      }
      const between = neighbours.predecessor;
      if (
        between !== null &&
        between.address !== this.self.address &&
        inOpenInterval(between.id, this.self.id, successor.id) &&
        (await this.isAliveAgain(between))
      ) {
        // A node sits between us and our successor: ask it in turn, so a successor recovered from
        // far away walks back to the true one within this call rather than one node per round.
        this.setSuccessors([between, successor, ...neighbours.successors]);
        successor = between;
        continue;
      }
      this.setSuccessors([successor, ...neighbours.successors]);
      const nearest = this.successorList[0];
      if (nearest === undefined) continue;
      try {
        await this.transport.notify(nearest, this.self);
        return;
      } catch (error) {
        if (isP2PError(error, "UNAVAILABLE")) return;
        this.failedCall(error, nearest);
        successor = this.successorList[0];
      }
    }
  }

  /**
   * Whether a peer our successor names is worth adopting: yes unless we saw it die, in which case
   * one PING decides, since a node restarted on the same address is that peer back again.
   */
  private async isAliveAgain(peer: Peer): Promise<boolean> {
    if (!this.deadPeers.has(peer.address)) return true;
    try {
      await this.transport.ping(peer);
      return true;
    } catch (error) {
      this.failedCall(error, peer);
      return false;
    }
  }

  /** Forgets the predecessor if it does not answer, so a live node can claim the place. */
  async checkPredecessor(): Promise<void> {
    const predecessor = this.predecessor;
    if (predecessor === null) return;
    try {
      await this.transport.ping(predecessor);
    } catch (error) {
      this.failedCall(error, predecessor);
    }
  }

  /**
   * Refreshes the next distinct finger with one lookup; the following fingers that fall before
   * the same node are filled from that answer. Returns true when this call finished a pass.
   */
  async fixFingers(): Promise<boolean> {
    const successor = this.successorList[0];
    if (successor === undefined) {
      // Alone there is nothing to point at; having lost every successor, the fingers are what
      // stabilize recovers from, so keep them.
      if (this.alone) this.fingers.fill(null);
      this.nextFinger = 0;
      return true;
    }
    const index = this.nextFinger;
    const start = fingerStart(this.self.id, index);
    let owner: Peer = successor;
    if (!inHalfOpenInterval(start, this.self.id, successor.id)) {
      try {
        owner = (await this.lookup(start)).peer;
      } catch (error) {
        if (!isP2PError(error)) throw error;
        this.nextFinger = (index + 1) % ID_BITS;
        return this.nextFinger === 0;
      }
    }
    // Finger j starts 2^j past this node, so every j with 2^j <= distance(self, owner) is owner.
    const isSelf = owner.address === this.self.address;
    const reach = isSelf ? 0 : ringDistance(this.self.id, owner.id).toString(2).length;
    const end = Math.max(index + 1, Math.min(ID_BITS, reach));
    for (let j = index; j < end; j++) this.fingers[j] = isSelf ? null : owner;
    this.nextFinger = end % ID_BITS;
    return this.nextFinger === 0;
  }

  /** Makes the next `fixFingers` calls walk the table from the first finger again. */
  restartFingerPass(): void {
    this.nextFinger = 0;
  }

  /** Refreshes the whole finger table now. */
  async fixAllFingers(): Promise<void> {
    this.restartFingerPass();
    for (let call = 0; call < ID_BITS; call++) {
      if (await this.fixFingers()) return;
    }
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

  /** Resolves when the background work this node started (pushes, handovers) has finished. */
  async idle(): Promise<void> {
    for (let wait = 0; wait < MAX_IDLE_WAITS && this.pending.size > 0; wait++) {
      await Promise.all(this.pending);
    }
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  // ---- lookups and records ------------------------------------------------------------------

  /** The successor of `key`, found iteratively; `hops` counts calls made to other nodes. */
  async lookup(key: RingId): Promise<LookupResult> {
    assertKey(key);
    return this.route(null, key, new Set());
  }

  /**
   * The successor of `key` as the ring `via` belongs to sees it: the lookup starts at `via`
   * instead of this node's tables, so it can reach into a ring this node is not part of.
   */
  async lookupVia(via: Peer, key: RingId): Promise<LookupResult> {
    assertKey(key);
    return this.route(via, key, new Set());
  }

  /** Whether `peer` is in this node's tables (predecessor, successors, fingers). */
  knows(peer: Peer): boolean {
    if (this.predecessor?.address === peer.address) return true;
    return this.nearestKnownPeers(new Set()).some((known) => known.address === peer.address);
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

  /** Stores `value` for `member` under `key` on its primary, which replicates it. */
  async put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer> {
    assertKey(key);
    if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new P2PError("MALFORMED", `ttl must be a positive number of milliseconds, got ${ttlMs}`);
    }
    const updatedAt = this.stamp();
    const expiresAt = ttlMs === undefined ? null : updatedAt + ttlMs;
    return this.sendToPrimary(key, [{ key, member, value, updatedAt, expiresAt, deleted: false }]);
  }

  /** Removes `member` from `key` by storing a tombstone. */
  async remove(key: RingId, member: string): Promise<Peer> {
    assertKey(key);
    const updatedAt = this.stamp();
    const tombstone: RecordEntry = {
      key,
      member,
      value: "",
      updatedAt,
      expiresAt: updatedAt + this.tombstoneTtlMs,
      deleted: true,
    };
    return this.sendToPrimary(key, [tombstone]);
  }

  /** The live members of `key`, read from its primary (or the next live replica). */
  async get(key: RingId): Promise<RecordEntry[]> {
    assertKey(key);
    const avoid = new Set<string>();
    for (let attempt = 0; attempt <= this.successorListLength; attempt++) {
      const { peer } = await this.route(null, key, avoid);
      if (peer.address === this.self.address) return this.store.get(key, this.clock());
      try {
        return await this.transport.getRecords(peer, key);
      } catch (error) {
        this.failedCall(error, peer);
        avoid.add(peer.address);
      }
    }
    throw new P2PError("UNAVAILABLE", `no live node holds key ${key}`);
  }

  status(): ChordStatus {
    const now = this.clock();
    let primary = 0;
    let replica = 0;
    for (const entry of this.store.all()) {
      if (!isLive(entry, now)) continue;
      if (this.isPrimaryFor(entry.key)) primary++;
      else replica++;
    }
    return {
      id: this.self.id,
      address: this.self.address,
      predecessor: this.predecessor,
      successors: [...this.successorList],
      fingers: this.distinctFingers(),
      records: { primary, replica },
    };
  }

  /** Every entry this node stores, as primary or replica, tombstones included. */
  localRecords(): RecordEntry[] {
    return this.store.all();
  }

  /** Every distinct peer in this node's routing tables (fingers and successors), nearest first. */
  routingPeers(): Peer[] {
    return this.nearestKnownPeers(new Set());
  }

  /** This node's current view of its neighbours. */
  neighbours(): Neighbours {
    return { predecessor: this.predecessor, successors: [...this.successorList] };
  }

  // ---- incoming calls (what the transport's server invokes) ----------------------------------

  handleFindSuccessorStep(key: RingId, avoid: string[]): LookupStep {
    this.assertServing();
    assertKey(key);
    if (!Array.isArray(avoid)) throw new P2PError("MALFORMED", "avoid must be a list of addresses");
    const avoided = new Set(avoid);
    return this.nextStep(key, avoided);
  }

  handleGetNeighbours(): Neighbours {
    this.assertServing();
    return this.neighbours();
  }

  handleNotify(candidate: Peer): void {
    this.assertServing();
    assertPeer(candidate);
    if (candidate.address === this.self.address) return;
    this.deadPeers.delete(candidate.address);
    const predecessor = this.predecessor;
    if (predecessor?.address === candidate.address) return;
    if (predecessor !== null && !inOpenInterval(candidate.id, predecessor.id, this.self.id)) return;
    const wasAlone = this.alone;
    this.setPredecessor(candidate);
    // A ring of one closes into a ring of two now instead of at the next stabilize.
    if (wasAlone) this.setSuccessors([candidate]);
  }

  handlePutRecords(entries: RecordEntry[]): number {
    this.assertServing();
    if (!Array.isArray(entries) || !entries.every(isRecordEntry)) {
      throw new P2PError("MALFORMED", "records must be a list of record entries");
    }
    return this.acceptRecords(entries);
  }

  handleGetRecords(key: RingId): RecordEntry[] {
    this.assertServing();
    assertKey(key);
    return this.store.get(key, this.clock());
  }

  handleLeaving(leaver: Peer, predecessor: Peer | null, successors: Peer[]): void {
    this.assertServing();
    assertPeer(leaver);
    if (predecessor !== null) assertPeer(predecessor);
    if (!Array.isArray(successors) || !successors.every(isPeer)) {
      throw new P2PError("MALFORMED", "successors must be a list of peers");
    }
    const wasPredecessor = this.predecessor?.address === leaver.address;
    const position = this.successorList.findIndex((peer) => peer.address === leaver.address);
    this.markDead(leaver);
    if (wasPredecessor && predecessor !== null && predecessor.address !== this.self.address) {
      this.setPredecessor(predecessor);
    }
    if (position >= 0) {
      const before = this.successorList.slice(0, position);
      const after = this.successorList.slice(position);
      this.setSuccessors([...before, ...successors, ...after]);
    }
    // The leaver knew no one else: this node is all that is left of the ring.
    if (this.successorList.length === 0 && this.predecessor === null) this.alone = true;
    // Our range grew or our replica set changed: push what the new holders lack.
    this.inBackground(() => this.replicate());
  }

  // ---- routing internals --------------------------------------------------------------------

  /**
   * Iterative lookup from `start` (null: this node's own tables). When a node does not answer it
   * is added to `avoid` and the last node that did answer is asked again for its next-best hop.
   */
  private async route(start: Peer | null, key: RingId, avoid: Set<string>): Promise<LookupResult> {
    const answered: (Peer | null)[] = [];
    let asking: Peer | null = start;
    let hops = 0;
    for (let step = 0; step < 2 * this.maxLookupCalls; step++) {
      let answer: LookupStep;
      if (asking === null || asking.address === this.self.address) {
        answer = this.nextStep(key, avoid);
      } else {
        if (hops >= this.maxLookupCalls) break;
        hops++;
        try {
          answer = await this.transport.findSuccessorStep(asking, key, [...avoid]);
        } catch (error) {
          this.failedCall(error, asking);
          avoid.add(asking.address);
          const previous = answered.pop();
          if (previous === undefined) throw error;
          asking = previous;
          continue;
        }
      }
      if (answer.done) return { peer: answer.peer, hops };
      answered.push(asking);
      asking = answer.peer;
    }
    throw new P2PError("UNAVAILABLE", `lookup of ${key} gave up after ${hops} calls`);
  }

  /** One hop of a lookup, answered from this node's tables alone. */
  private nextStep(key: RingId, avoid: ReadonlySet<string>): LookupStep {
    const predecessor = this.predecessor;
    if (predecessor !== null && !avoid.has(predecessor.address) && inHalfOpenInterval(key, predecessor.id, this.self.id)) {
      return { done: true, peer: this.self };
    }
    // Only the first live successor is known exactly: entries further down the list can miss a
    // node that joined moments ago, so keys beyond it go to a preceding node, which knows better.
    const successor = this.successorList.find((peer) => !avoid.has(peer.address));
    if (successor !== undefined && inHalfOpenInterval(key, this.self.id, successor.id)) return { done: true, peer: successor };
    const next = this.closestPrecedingNode(key, avoid);
    if (next !== null) return { done: false, peer: next };
    // Nothing known precedes the key: the nearest live node clockwise is the best answer left.
    return { done: true, peer: this.nearestKnownPeers(avoid)[0] ?? this.self };
  }

  /** The known node closest before `key` on the circle: a finger or a successor-list entry. */
  private closestPrecedingNode(key: RingId, avoid: ReadonlySet<string>): Peer | null {
    let best: Peer | null = null;
    for (let i = ID_BITS - 1; i >= 0; i--) {
      const finger = this.fingers[i];
      if (finger === null || finger === undefined || avoid.has(finger.address)) continue;
      if (inOpenInterval(finger.id, this.self.id, key)) {
        best = finger;
        break;
      }
    }
    for (const successor of this.successorList) {
      if (avoid.has(successor.address) || !inOpenInterval(successor.id, this.self.id, key)) continue;
      if (best === null || inOpenInterval(successor.id, best.id, key)) best = successor;
    }
    return best;
  }

  /** Every live node in this node's tables, nearest clockwise first. */
  private nearestKnownPeers(avoid: ReadonlySet<string>): Peer[] {
    const known = new Map<string, Peer>();
    for (const peer of [...this.successorList, ...this.fingers, this.predecessor]) {
      if (peer === null || peer === undefined || avoid.has(peer.address)) continue;
      if (peer.address === this.self.address || this.deadPeers.has(peer.address)) continue;
      known.set(peer.address, peer);
    }
    const self = this.self.id;
    // Ids after this one come first, in order, then the ones that wrap past zero.
    return [...known.values()].sort((a, b) => {
      const aWraps = a.id <= self;
      const bWraps = b.id <= self;
      if (aWraps !== bWraps) return aWraps ? 1 : -1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
  }

  /**
   * Every successor is dead. A node ahead of this one is needed: adopting one from behind would
   * close the ring into a loop that stabilize never undoes. Any live finger lies ahead, so the
   * nearest one is a safe stand-in, and stabilize walks back from it to the true successor; a
   * lookup through it may shortcut that walk, taken only when its answer lies in between.
   */
  private async recoverSuccessor(): Promise<boolean> {
    const afterSelf = fingerStart(this.self.id, 0);
    const predecessor = this.predecessor;
    const ahead = this.nearestKnownPeers(new Set(predecessor === null ? [] : [predecessor.address]));
    for (const candidate of ahead.slice(0, MAX_RECOVERY_CANDIDATES)) {
      try {
        await this.transport.ping(candidate);
      } catch (error) {
        this.failedCall(error, candidate);
        continue;
      }
      let successor = candidate;
      const found = await this.lookThrough(candidate, afterSelf);
      if (found !== null && inOpenInterval(found.id, this.self.id, candidate.id)) successor = found;
      this.setSuccessors([successor]);
      return true;
    }
    return predecessor === null ? false : this.probeAheadThrough(predecessor);
  }

  /**
   * Only the predecessor is left, and it may be as cut off as this node: its fingers sit at
   * nearly the same places. Look up points ever farther ahead through it, then through the
   * nodes before it, and take the first answer no farther than twice the probe distance: that
   * bound is what rules out a node from behind.
   */
  private async probeAheadThrough(predecessor: Peer): Promise<boolean> {
    const gapBits = ringDistance(predecessor.id, this.self.id).toString(2).length;
    let router: Peer | null = predecessor;
    let onlyPredecessorAnswered = true;
    for (let step = 0; step < MAX_RECOVERY_CANDIDATES && router !== null; step++) {
      for (let i = Math.max(0, gapBits - 1); i < ID_BITS - 1; i++) {
        const found = await this.lookThrough(router, fingerStart(this.self.id, i));
        if (found === null) continue;
        if (found.address !== predecessor.address) onlyPredecessorAnswered = false;
        if (found.address !== this.self.address && ringDistance(this.self.id, found.id) <= 1n << BigInt(i + 1)) {
          this.setSuccessors([found]);
          return true;
        }
      }
      router = await this.predecessorOf(router);
    }
    // Every lookup ended at the predecessor: it is the only other node, a ring of two.
    if (onlyPredecessorAnswered && !this.deadPeers.has(predecessor.address)) this.setSuccessors([predecessor]);
    return onlyPredecessorAnswered;
  }

  private async predecessorOf(peer: Peer): Promise<Peer | null> {
    try {
      const { predecessor } = await this.transport.getNeighbours(peer);
      return predecessor === null || predecessor.address === this.self.address ? null : predecessor;
    } catch (error) {
      this.failedCall(error, peer);
      return null;
    }
  }

  /** A lookup through `via` that skips this node and the dead it knows of; null if it fails. */
  private async lookThrough(via: Peer, key: RingId): Promise<Peer | null> {
    const avoid = new Set([this.self.address, ...[...this.deadPeers.keys()].slice(-MAX_RECOVERY_AVOID)]);
    try {
      const { peer } = await this.route(via, key, avoid);
      return this.deadPeers.has(peer.address) ? null : peer;
    } catch (error) {
      if (!isP2PError(error)) throw error;
      return null;
    }
  }

  // ---- record internals ---------------------------------------------------------------------

  private async sendToPrimary(key: RingId, entries: RecordEntry[]): Promise<Peer> {
    const avoid = new Set<string>();
    for (let attempt = 0; attempt <= this.successorListLength; attempt++) {
      const { peer } = await this.route(null, key, avoid);
      if (peer.address === this.self.address) {
        this.acceptRecords(entries);
        return this.self;
      }
      try {
        await this.transport.putRecords(peer, entries);
        return peer;
      } catch (error) {
        this.failedCall(error, peer);
        avoid.add(peer.address);
      }
    }
    throw new P2PError("UNAVAILABLE", `no live node accepts records for key ${key}`);
  }

  /** Merges entries; what changed and is ours as primary goes on to the replicas. */
  private acceptRecords(entries: RecordEntry[]): number {
    const changed = this.store.merge(entries);
    if (changed > 0) {
      const primary: RecordEntry[] = [];
      for (const entry of entries) {
        if (this.isPrimaryFor(entry.key)) primary.push(entry);
        else this.noteMisplaced(entry.key);
      }
      if (primary.length > 0) this.inBackground(() => this.pushToReplicas(primary));
    }
    return changed;
  }

  private noteMisplaced(key: RingId): void {
    this.misplaced.delete(key);
    this.misplaced.add(key);
    if (this.misplaced.size > MAX_MISPLACED_KEYS) {
      const oldest = this.misplaced.values().next().value;
      if (oldest !== undefined) this.misplaced.delete(oldest);
    }
  }

  private async pushToReplicas(entries: RecordEntry[]): Promise<void> {
    for (const target of this.replicaTargets()) await this.pushRecords(target, entries);
  }

  private async replicateOnce(): Promise<void> {
    const predecessor = this.predecessor;
    if (predecessor === null || this.successorList.length === 0) return;
    const targets = this.replicaTargets();
    const previousStart = this.replicatedRangeStart;
    const grew =
      previousStart === null ||
      (previousStart !== predecessor.id && inOpenInterval(previousStart, predecessor.id, this.self.id));
    const due = grew ? targets : targets.filter((target) => !this.replicatedTo.has(target.address));
    const reached = new Set(targets.filter((target) => !due.includes(target)).map((target) => target.address));
    if (due.length > 0) {
      const entries = this.store.inRange(predecessor.id, this.self.id);
      for (const target of due) {
        if (await this.pushRecords(target, entries)) reached.add(target.address);
      }
    }
    this.replicatedRangeStart = predecessor.id;
    this.replicatedTo = reached;
  }

  /** Sends entries in batches; false (and the peer marked dead) when it does not answer. */
  private async pushRecords(to: Peer, entries: RecordEntry[]): Promise<boolean> {
    for (let offset = 0; offset < entries.length; offset += this.maxEntriesPerCall) {
      try {
        await this.transport.putRecords(to, entries.slice(offset, offset + this.maxEntriesPerCall));
      } catch (error) {
        this.failedCall(error, to);
        return false;
      }
    }
    return true;
  }

  private replicaTargets(): Peer[] {
    return this.successorList.slice(0, this.replicas - 1);
  }

  private isPrimaryFor(key: RingId): boolean {
    if (this.alone) return true;
    if (this.predecessor === null) return false;
    return inHalfOpenInterval(key, this.predecessor.id, this.self.id);
  }

  // ---- table internals ----------------------------------------------------------------------

  private setPredecessor(candidate: Peer): void {
    // A node alone owns the whole circle: its first predecessor always takes a share of it.
    const previousStart = this.alone ? this.self.id : this.rangeStart;
    this.predecessor = { id: candidate.id, address: candidate.address };
    this.rangeStart = candidate.id;
    if (previousStart !== null && previousStart !== candidate.id && inOpenInterval(candidate.id, previousStart, this.self.id)) {
      // The candidate joined inside our range. It needs everything outside our new range that we
      // hold: its own share, and the replicas of the nodes before it. We keep ours as replicas.
      const handover = this.store.inRange(this.self.id, candidate.id);
      if (handover.length > 0) this.inBackground(() => this.pushRecords(candidate, handover));
    }
  }

  /** Deduplicates, drops this node and known-dead peers, and trims to the list length. */
  private setSuccessors(candidates: readonly Peer[]): void {
    const seen = new Set<string>([this.self.address]);
    const list: Peer[] = [];
    for (const peer of candidates) {
      if (list.length >= this.successorListLength) break;
      if (seen.has(peer.address) || this.deadPeers.has(peer.address)) continue;
      seen.add(peer.address);
      list.push({ id: peer.id, address: peer.address });
    }
    this.successorList = list;
    if (list.length > 0) this.alone = false;
  }

  /** A peer failed to answer: it leaves every table of this node until it shows up alive again. */
  private markDead(peer: Peer): void {
    if (peer.address === this.self.address) return;
    this.deadPeers.set(peer.address, this.clock());
    this.successorList = this.successorList.filter((successor) => successor.address !== peer.address);
    for (let i = 0; i < ID_BITS; i++) {
      if (this.fingers[i]?.address === peer.address) this.fingers[i] = null;
    }
    if (this.predecessor?.address === peer.address) this.predecessor = null;
  }

  /** Only link failures and timeouts mean the peer is gone; anything else is a bug worth seeing. */
  private failedCall(error: unknown, peer: Peer): void {
    if (!isP2PError(error)) throw error;
    // UNAVAILABLE is a live peer that is joining or leaving: skipped this time, not banned for
    // deadPeerTtlMs, or a node that joins alongside others would be ignored once it is in.
    if (SILENT_CODES.has(error.code)) {
      this.markDead(peer);
    }
  }

  private forgetOldDeadPeers(): void {
    const cutoff = this.clock() - this.deadPeerTtlMs;
    for (const [address, since] of this.deadPeers) {
      if (since <= cutoff) this.deadPeers.delete(address);
    }
  }

  private distinctFingers(): Peer[] {
    const seen = new Set<string>();
    const distinct: Peer[] = [];
    for (const finger of this.fingers) {
      if (finger === null || seen.has(finger.address)) continue;
      seen.add(finger.address);
      distinct.push(finger);
    }
    return distinct;
  }

  private resetTables(): void {
    this.predecessor = null;
    this.successorList = [];
    this.fingers.fill(null);
    this.nextFinger = 0;
    this.rangeStart = null;
    this.alone = false;
    this.replicatedRangeStart = null;
    this.replicatedTo = new Set();
    this.left = false;
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /** A strictly increasing write time, so a quick put-then-remove never ties. */
  private stamp(): number {
    this.lastStamp = Math.max(this.clock(), this.lastStamp + 1);
    return this.lastStamp;
  }

  /** Work a handler starts but must not wait for; `idle()` waits for it. */
  private inBackground(task: () => Promise<unknown>): void {
    const running: Promise<void> = task().then(
      () => undefined,
      (error: unknown) => {
        if (!isP2PError(error)) this.onError(error);
      },
    );
    this.pending.add(running);
    void running.finally(() => this.pending.delete(running));
  }

  private assertServing(): void {
    if (this.left) throw new P2PError("UNAVAILABLE", `${this.self.address} has left the ring`);
    if (!this.member) throw new P2PError("UNAVAILABLE", `${this.self.address} is still joining the ring`);
  }
}

/** `transport` with `onAnswer(peer)` called whenever a peer answers a call successfully. */
function revivingTransport(transport: RingTransport, onAnswer: (peer: Peer) => void): RingTransport {
  // Only success counts: a node that has left answers UNAVAILABLE until it exits, and must stay out.
  const answered = async <T>(to: Peer, call: Promise<T>): Promise<T> => {
    const result = await call;
    onAnswer(to);
    return result;
  };
  return {
    findSuccessorStep: (to, key, avoid) => answered(to, transport.findSuccessorStep(to, key, avoid)),
    getNeighbours: (to) => answered(to, transport.getNeighbours(to)),
    notify: (to, candidate) => answered(to, transport.notify(to, candidate)),
    ping: (to) => answered(to, transport.ping(to)),
    putRecords: (to, entries) => answered(to, transport.putRecords(to, entries)),
    getRecords: (to, key) => answered(to, transport.getRecords(to, key)),
    leaving: (to, leaver, predecessor, successors) => answered(to, transport.leaving(to, leaver, predecessor, successors)),
  };
}

function assertKey(key: unknown): asserts key is RingId {
  if (!isRingId(key)) throw new P2PError("MALFORMED", `a key must be 40 lowercase hex digits, got ${String(key)}`);
}

function assertPeer(peer: unknown): asserts peer is Peer {
  if (!isPeer(peer)) throw new P2PError("MALFORMED", "a peer must be { id: 40 hex digits, address: \"ip:port\" }");
}
