// A Chord node's routing state (predecessor, successor list, fingers, dead peers): synchronous, no I/O.

import { isP2PError } from "../../protocol/errors";
import { ID_BITS, inHalfOpenInterval, inOpenInterval, type RingId } from "../../model/id";
import type { LookupStep, Neighbours } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/**
 * What a call fails with when the peer did not answer at all: the only evidence that it is dead.
 * REFUSED: it is not on this private network (another --key, or none), so it is as good as dead to us.
 */
const SILENT_CODES: ReadonlySet<string> = new Set(["TIMEOUT", "UNREACHABLE", "CLOSED", "REFUSED"]);

export class RoutingTable {
  readonly self: Peer;
  readonly successorListLength: number;
  private readonly clock: () => number;

  private predecessorPeer: Peer | null = null;
  /** Nearest first; never contains this node. */
  private successorList: Peer[] = [];
  /** Created a ring and met nobody yet; unlike a node that lost all its successors. */
  alone = false;
  /** fingers[i] = successor(id + 2^i), or null when unknown or this node itself. */
  private readonly fingers: (Peer | null)[] = new Array<Peer | null>(ID_BITS).fill(null);
  /** The finger the next `fixFingers` refreshes. */
  nextFinger = 0;
  /** Where this node's primary range began at the last known predecessor; outlives its death. */
  private rangeStart: RingId | null = null;
  /** address -> when it failed to answer. */
  private readonly deadPeers = new Map<string, number>();
  /**
   * The predecessors before the predecessor, nearest first, as asked of each (`learnPredecessors`),
   * and the predecessor they were learnt behind: with it, where the keys this node replicates begin.
   * `doubted`: a key was held not to be this node's on their word since (they may be stale: ask again).
   */
  private earlier: { behind: string; peers: Peer[]; wraps: boolean; at: number; doubted?: boolean } | null = null;

  constructor(self: Peer, successorListLength: number, clock: () => number) {
    this.self = self;
    this.successorListLength = successorListLength;
    this.clock = clock;
  }

  get predecessor(): Peer | null {
    return this.predecessorPeer;
  }

  /** Nearest first. Read-only: change it through `setSuccessors` and `markDead`. */
  get successors(): readonly Peer[] {
    return this.successorList;
  }

  /** The first live successor, if any. */
  get successor(): Peer | undefined {
    return this.successorList[0];
  }

  finger(index: number): Peer | null {
    return this.fingers[index] ?? null;
  }

  /** Points fingers `from` to `to - 1` at `owner` (null: this node itself, or unknown). */
  setFingers(from: number, to: number, owner: Peer | null): void {
    for (let j = from; j < to; j++) this.fingers[j] = owner;
  }

  clearFingers(): void {
    this.fingers.fill(null);
  }

  /** Forgets everything: a node about to join, or one that left. */
  reset(): void {
    this.predecessorPeer = null;
    this.successorList = [];
    this.fingers.fill(null);
    this.nextFinger = 0;
    this.rangeStart = null;
    this.alone = false;
    this.earlier = null;
  }

  /** Installs a predecessor without any range hand-over (a simulated ring built in one step). */
  adoptPredecessor(predecessor: Peer | null): void {
    this.predecessorPeer = predecessor && predecessor.address !== this.self.address ? { ...predecessor } : null;
    this.rangeStart = this.predecessorPeer?.id ?? null;
  }

  /**
   * Takes `candidate` as predecessor. True when it joined inside this node's range: it then needs
   * everything outside the new range that this node holds (its share and the replicas before it).
   */
  setPredecessor(candidate: Peer): boolean {
    // A node alone owns the whole circle: its first predecessor always takes a share of it.
    const previousStart = this.alone ? this.self.id : this.rangeStart;
    this.predecessorPeer = { id: candidate.id, address: candidate.address };
    this.rangeStart = candidate.id;
    return previousStart !== null && previousStart !== candidate.id && inOpenInterval(candidate.id, previousStart, this.self.id);
  }

  /** Deduplicates, drops this node and known-dead peers, and trims to the list length. */
  setSuccessors(candidates: readonly Peer[]): void {
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
  markDead(peer: Peer): void {
    if (peer.address === this.self.address) return;
    this.deadPeers.set(peer.address, this.clock());
    this.successorList = this.successorList.filter((successor) => successor.address !== peer.address);
    for (let i = 0; i < ID_BITS; i++) {
      if (this.fingers[i]?.address === peer.address) this.fingers[i] = null;
    }
    if (this.predecessorPeer?.address === peer.address) this.predecessorPeer = null;
  }

  /** A call to `peer` failed: only link failures and timeouts mean it is gone; anything else is a bug worth seeing. */
  noteFailure(error: unknown, peer: Peer): void {
    if (!isP2PError(error)) throw error;
    // UNAVAILABLE is a live peer that is joining or leaving: skipped this time, not banned for
    // deadPeerTtlMs, or a node that joins alongside others would be ignored once it is in.
    if (SILENT_CODES.has(error.code)) this.markDead(peer);
  }

  /** The peer answered: it is no longer dead. */
  revive(address: string): void {
    this.deadPeers.delete(address);
  }

  isDead(address: string): boolean {
    return this.deadPeers.has(address);
  }

  /** The dead addresses, oldest death first. */
  deadAddresses(): string[] {
    return [...this.deadPeers.keys()];
  }

  forgetDeadPeersOlderThan(ttlMs: number): void {
    const cutoff = this.clock() - ttlMs;
    for (const [address, since] of this.deadPeers) {
      if (since <= cutoff) this.deadPeers.delete(address);
    }
  }

  isPrimaryFor(key: RingId): boolean {
    if (this.alone) return true;
    if (this.predecessorPeer === null) return false;
    return inHalfOpenInterval(key, this.predecessorPeer.id, this.self.id);
  }

  /** Remembers the predecessors before `behind` (the predecessor asked first); `wraps`: the walk came back round, the ring is that small. */
  setEarlierPredecessors(behind: Peer, peers: readonly Peer[], wraps: boolean): void {
    this.earlier = { behind: behind.address, peers: peers.map((peer) => ({ id: peer.id, address: peer.address })), wraps, at: this.clock() };
  }

  /** How long ago the earlier predecessors were learnt behind the current predecessor (Infinity: never, behind another, or doubted since). */
  earlierPredecessorsAge(): number {
    const earlier = this.currentEarlier();
    return earlier === null || earlier.doubted === true ? Infinity : this.clock() - earlier.at;
  }

  /**
   * Whether this node holds `key` as its primary or one of the `replicas - 1` replicas after it, as far
   * as it can tell: false only on evidence, i.e. `replicas` live nodes it knows lie between the key and
   * it (the key's primary and the replicas are those nodes, not this one). Its earlier predecessors
   * (learnt by `learnPredecessors`) give that evidence for every key; without them, its own tables.
   */
  holdsKey(key: RingId, replicas: number): boolean {
    if (this.alone || this.isPrimaryFor(key)) return true;
    const earlier = this.currentEarlier();
    if (earlier !== null && earlier.wraps) return true;
    const before = new Set<string>();
    const between = (peer: Peer | null | undefined): void => {
      if (peer === null || peer === undefined || peer.address === this.self.address || this.deadPeers.has(peer.address)) return;
      if (peer.id === key || inOpenInterval(peer.id, key, this.self.id)) before.add(peer.address);
    };
    for (const peer of [this.predecessorPeer, ...(earlier?.peers ?? []), ...this.successorList, ...this.fingers]) between(peer);
    if (before.size >= replicas && earlier !== null) earlier.doubted = true;
    return before.size < replicas;
  }

  /**
   * The earlier predecessors while they still describe the ring: learnt behind the current predecessor,
   * and, when the walk came back round, with no live node known outside it (a walk made while the ring
   * was forming may wrap round the few nodes there were; one more node known proves the ring larger).
   */
  private currentEarlier(): { peers: Peer[]; wraps: boolean; at: number; doubted?: boolean } | null {
    const earlier = this.earlier;
    if (earlier === null || earlier.behind !== this.predecessorPeer?.address) return null;
    if (!earlier.wraps) return earlier;
    const walked = new Set([this.self.address, earlier.behind, ...earlier.peers.map((peer) => peer.address)]);
    const outside = [...this.successorList, ...this.fingers].some((peer) => peer !== null && !walked.has(peer.address) && !this.deadPeers.has(peer.address));
    return outside ? null : earlier;
  }

  /** Whether `peer` is in this node's tables (predecessor, successors, fingers). */
  knows(peer: Peer): boolean {
    if (this.predecessorPeer?.address === peer.address) return true;
    return this.nearestKnownPeers(new Set()).some((known) => known.address === peer.address);
  }

  neighbours(): Neighbours {
    return { predecessor: this.predecessorPeer, successors: [...this.successorList] };
  }

  distinctFingers(): Peer[] {
    const seen = new Set<string>();
    const distinct: Peer[] = [];
    for (const finger of this.fingers) {
      if (finger === null || seen.has(finger.address)) continue;
      seen.add(finger.address);
      distinct.push(finger);
    }
    return distinct;
  }

  /** One hop of a lookup, answered from this node's tables alone. */
  nextStep(key: RingId, avoid: ReadonlySet<string>): LookupStep {
    const predecessor = this.predecessorPeer;
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
  closestPrecedingNode(key: RingId, avoid: ReadonlySet<string>): Peer | null {
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

  /**
   * The live node this node knows of (itself included) nearest after `from` and strictly before `to`:
   * proof that `to` is not the successor of `from`. Null when it knows of none.
   */
  knownBetween(from: RingId, to: Peer, avoid: ReadonlySet<string>): Peer | null {
    // A node whose id is the key itself is its successor: nothing lies between.
    if (from === to.id) return null;
    let best: Peer | null = null;
    // Runs on every checked lookup: the tables as they are, no sorting.
    for (const peer of [this.self, this.predecessorPeer, ...this.successorList, ...this.fingers]) {
      if (peer === null || peer === undefined || peer.address === to.address || !inOpenInterval(peer.id, from, to.id)) continue;
      if (peer !== this.self && (avoid.has(peer.address) || this.deadPeers.has(peer.address))) continue;
      if (best === null || inOpenInterval(peer.id, from, best.id)) best = peer;
    }
    return best;
  }

  /** Every live node in this node's tables, nearest clockwise first. */
  nearestKnownPeers(avoid: ReadonlySet<string>): Peer[] {
    const known = new Map<string, Peer>();
    for (const peer of [...this.successorList, ...this.fingers, this.predecessorPeer]) {
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
}
