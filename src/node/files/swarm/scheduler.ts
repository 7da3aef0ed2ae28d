// Which chunk to ask of which peer: rarest first among what the peers have, an endgame at the end, retries with backoff. Pure: no I/O, no timers, time from an injected clock.

import { Bitfield } from "../../../model/bitfield";
import { InOrderReading } from "./in-order";
import { Pauses } from "./pauses";
import { rarestOf, wantedChunks } from "./rarest";
import { RequestsOut } from "./requests-out";
import { SwarmPeers } from "./swarm-peers";
import { DEFAULT_LIMITS, type SchedulerLimits } from "./scheduler-limits";
import { type Assignment, type PeerState, type PeerSummary, type RequestFailure, isUsable } from "./scheduler-types";

export { DEFAULT_LIMITS, type SchedulerLimits };
export type { Assignment, PeerSummary, RequestFailure };

/**
 * One download's decisions. The caller adds peers and what they have, calls `assign()` whenever
 * something changed, performs the requests it returns, and reports each outcome back.
 */
export class ChunkScheduler {
  readonly chunkCount: number;
  private readonly limits: SchedulerLimits;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly have: Bitfield;
  private readonly peers: SwarmPeers;
  /** Peers told to wait (link failures, busy answers): their pauses' ends are wake times. */
  private readonly pauses = new Pauses();
  private readonly out = new RequestsOut();
  /** Verified, being written: not yet in `have`, which names only bytes on disk. */
  private readonly writing = new Set<number>();
  private haveCount: number;
  /**
   * Set by `assign` to the next wake (null: none): until then, or until an outcome is reported,
   * `assign` has nothing to add but to peers with news. Large swarms report news of every chunk
   * of every peer: a full look at all peers on each would cost peers × chunks per news.
   * Undefined when something changed.
   */
  private quietUntil: number | null | undefined = undefined;
  /** Peers with news of a chunk this download lacks since the last fill: while quiet, only they are looked at. */
  private readonly news = new Set<PeerState>();
  /** Complete holders are read in order, which keeps disks sequential. */
  private readonly inOrder: InOrderReading;

  constructor(options: { chunkCount: number; have?: Bitfield; clock: () => number; random: () => number; limits?: Partial<SchedulerLimits> }) {
    this.chunkCount = options.chunkCount;
    this.have = options.have ?? new Bitfield(options.chunkCount);
    this.clock = options.clock;
    this.random = options.random;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.peers = new SwarmPeers(options.chunkCount);
    this.haveCount = this.have.count();
    this.inOrder = new InOrderReading(this.chunkCount, this.limits.randomStart ? Math.floor(this.random() * this.chunkCount) : 0);
  }

  get complete(): boolean {
    return this.haveCount === this.chunkCount;
  }

  get verifiedCount(): number {
    return this.haveCount;
  }

  /** Requests out and chunks waiting for the disk. */
  get busy(): number {
    return this.out.count + this.writing.size;
  }

  hasPeer(address: string): boolean {
    return this.peers.get(address) !== undefined;
  }

  /** Adds a peer, or updates what it has: a complete holder has everything (`have` null). */
  setPeer(address: string, have: Bitfield | null): void {
    this.quietUntil = undefined;
    this.peers.set(address, have, this.have);
  }

  /**
   * A partial peer now has one more chunk (its HAVE update). True when that can change what
   * `assign` returns: a chunk this download lacks and is not writing.
   */
  peerHas(address: string, index: number): boolean {
    const peer = this.peers.get(address);
    if (!this.peers.gained(peer, index)) return false;
    if (this.have.has(index)) return false;
    peer.interesting++; // `stored` takes it back when a chunk being written lands
    if (this.writing.has(index)) return false;
    this.news.add(peer);
    return true;
  }

  /** Requests to make now: free slots of usable peers filled, rarest chunks first. */
  assign(): Assignment[] {
    const now = this.clock();
    let candidates = this.peers.list;
    if (this.isQuiet(now)) {
      // Nothing changed since the last fill but some peers' news: only they can be asked for more.
      if (this.news.size === 0) return [];
      candidates = [...this.news];
    }
    this.news.clear();
    const assignments = this.fill(now, candidates);
    // Filled: until something is reported or the next wake, another call would find nothing.
    this.quietUntil = this.computeWake(now);
    return assignments;
  }

  private fill(now: number, candidates: PeerState[]): Assignment[] {
    const assignments: Assignment[] = [];
    if (this.complete || this.out.count + this.writing.size >= this.limits.inFlight) return assignments;
    let partialSwarm = false;
    for (const peer of this.peers.list) {
      if (peer.have !== null && isUsable(peer, now)) {
        partialSwarm = true;
        break;
      }
    }
    // In a swarm: the chunks nobody is fetching, kept current as requests go out.
    const wanted = partialSwarm ? wantedChunks(this.have, this.writing, this.out.chunks()) : null;
    let wantedCount = wanted === null ? 0 : wanted.count();
    const endgame = this.endgameCandidates(now);
    // Large swarms call this on every peer's news: with nothing to ask, the peers need no look.
    if (wanted !== null && wantedCount === 0 && endgame.length === 0) return assignments;
    const perPeer = partialSwarm ? this.limits.swarmInFlightPerPeer : this.limits.inFlightPerPeer;
    // The least busy first when a peer takes several requests; in a swarm (one each) the order is the peers'.
    const peers = perPeer > 1 ? [...candidates].sort((a, b) => a.inFlight - b.inFlight) : candidates;
    for (let round = 0; round < perPeer; round++) {
      let progressed = false;
      for (const peer of peers) {
        if (this.out.count + this.writing.size >= this.limits.inFlight) return assignments;
        if (peer.inFlight >= perPeer || (peer.have !== null && peer.interesting === 0) || !isUsable(peer, now)) continue;
        if (wanted !== null && this.limits.holderChooses && peer.have === null) {
          if (wantedCount > peer.chosenInFlight) {
            this.out.addChosen(peer);
            assignments.push({ peer: peer.address, index: null, wanted: wanted.copy() });
            progressed = true;
            continue;
          }
        }
        const index = (wanted === null ? this.nextInOrder() : this.rarestFor(peer, wanted)) ?? this.out.pickEndgame(peer, endgame);
        if (index === undefined) continue;
        this.out.add(peer, index, now);
        if (wanted?.has(index)) {
          wanted.clear(index);
          wantedCount--;
        }
        assignments.push({ peer: peer.address, index });
        progressed = true;
      }
      if (!progressed) break;
    }
    return assignments;
  }

  /**
   * A verified chunk arrived. "write": store it, then call `stored`. "late": another peer's copy
   * was first (the endgame asked twice); drop it.
   */
  delivered(address: string, index: number, chosen = false): "write" | "late" {
    this.quietUntil = undefined;
    const peer = chosen ? this.settleChosen(address) : this.settle(address, index);
    if (peer) {
      peer.failures = 0;
      peer.delivered++;
    }
    if (this.have.has(index) || this.writing.has(index)) return "late";
    // A request of ours for the same chunk may still be out: its answer will come back late.
    this.out.forget(index);
    this.writing.add(index);
    return "write";
  }

  /** The chunk is on disk: it counts as ours from now on. */
  stored(index: number): void {
    this.quietUntil = undefined;
    this.writing.delete(index);
    if (this.have.has(index)) return;
    this.have.set(index);
    this.haveCount++;
    this.peers.stored(index);
  }

  /** A request came back without a usable chunk (`index` null: a request that let the holder choose). */
  failed(address: string, index: number | null, failure: RequestFailure): void {
    this.quietUntil = undefined;
    const peer = index === null ? this.settleChosen(address) : this.settle(address, index);
    if (peer) {
      if (failure === "link") {
        peer.failures++;
        peer.retryAt = this.clock() + Math.min(this.limits.maxRetryMs, this.limits.retryMs * 2 ** (peer.failures - 1));
        this.pauses.add(peer);
      } else if (failure === "busy") {
        // Give or take half: requesters told busy together must not all come back together.
        peer.retryAt = this.clock() + this.limits.busyRetryMs * (0.5 + this.random());
        this.pauses.add(peer);
      } else if (failure === "not-yet") {
        if (index !== null) this.peers.contradicted(peer, index, this.have, this.limits.maxContradictions);
      } else {
        this.peers.drop(peer, failure);
      }
    }
    if (index !== null && this.out.isAbandoned(index)) {
      this.out.forget(index);
      this.inOrder.rewind(index);
    }
  }

  /**
   * The next time at which `assign()` could return more without anything else happening: a peer's
   * pause ends, or a chunk becomes an endgame candidate. Null when only an event can help.
   */
  nextWakeAt(): number | null {
    const now = this.clock();
    return this.isQuiet(now) ? this.quietUntil! : this.computeWake(now);
  }

  private isQuiet(now: number): boolean {
    return this.quietUntil !== undefined && (this.quietUntil === null || now < this.quietUntil);
  }

  private computeWake(now: number): number | null {
    let wake: number | null = null;
    const consider = (at: number) => {
      if (at > now) wake = wake === null ? at : Math.min(wake, at);
    };
    const pauseEnd = this.pauses.nextEnd(now);
    if (pauseEnd !== null) consider(pauseEnd);
    this.out.forEachSoleRequest((requestedAt) => consider(requestedAt + this.limits.endgameAfterMs));
    return wake;
  }

  /** Whether any peer could still be asked for something, now or after its pause. */
  get hasCandidates(): boolean {
    return this.peers.hasCandidates;
  }

  /** A copy of what this download has on disk. */
  haveBits(): Bitfield {
    return this.have.copy();
  }

  peerSummaries(): PeerSummary[] {
    return this.peers.summaries(this.clock());
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private settleChosen(address: string): PeerState | undefined {
    const peer = this.peers.get(address);
    if (peer) this.out.settleChosen(peer);
    return peer;
  }

  /** Ends one request's bookkeeping; the peer, if it is still known. */
  private settle(address: string, index: number): PeerState | undefined {
    const peer = this.peers.get(address);
    if (peer) this.out.settle(peer, index);
    return peer;
  }

  private isWanted(index: number): boolean {
    return !this.have.has(index) && !this.writing.has(index) && !this.out.has(index);
  }

  /** Among complete holders only, chunks go in order (from a first chunk): disks on both sides stay sequential. */
  private nextInOrder(): number | undefined {
    return this.inOrder.next((index) => this.isWanted(index));
  }

  /**
   * In a swarm: of the chunks still wanted that `peer` has, the rarest among the partial peers,
   * random among equals; any at random for the first few, so that peers starting together diverge.
   */
  private rarestFor(peer: PeerState, wanted: Bitfield): number | undefined {
    const randomOnly = this.haveCount + this.writing.size < this.limits.randomFirst;
    return rarestOf(wanted, peer.have, randomOnly ? null : this.peers.availability, this.random);
  }

  /** Chunks one peer has held for a while: once nothing new is left to ask, they are asked of another too. */
  private endgameCandidates(now: number): number[] {
    return this.out.endgameCandidates(now - this.limits.endgameAfterMs);
  }
}
