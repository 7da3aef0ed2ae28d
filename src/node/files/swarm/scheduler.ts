// Which chunk to ask of which peer: rarest first among what the peers have, an endgame at the end, retries with backoff. Pure: no I/O, no timers, time from an injected clock.

import { Bitfield } from "../../../model/bitfield";
import { rarestOf, wantedChunks } from "./rarest";
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
  private readonly peers = new Map<string, PeerState>();
  /** Peers told to wait (link failures, busy answers): their pauses' ends are wake times. */
  private readonly paused = new Set<PeerState>();
  /** The earliest end of a pause (or earlier, if a pause was extended since): looked for again once passed. */
  private pausedUntil: number | null = null;
  /** The same peers in an array: walked on every call of `assign`, which must stay cheap in large swarms. */
  private readonly peerList: PeerState[] = [];
  /** How many partial peers have each chunk (complete holders add the same to every chunk, so they do not change the order). */
  private readonly availability: Uint16Array;
  /** chunk -> the peers asked for it. */
  private readonly inFlight = new Map<number, Set<PeerState>>();
  private readonly requestedAt = new Map<number, number>();
  /** Verified, being written: not yet in `have`, which names only bytes on disk. */
  private readonly writing = new Set<number>();
  private haveCount: number;
  /** Requests out to peers (a chunk asked of two peers counts twice). */
  private requestsOut = 0;
  /**
   * Set by `assign` to the next wake (null: none): until then, or until an outcome is reported,
   * `assign` has nothing to add but to peers with news. Large swarms report news of every chunk
   * of every peer: a full look at all peers on each would cost peers × chunks per news.
   * Undefined when something changed.
   */
  private quietUntil: number | null | undefined = undefined;
  /** Peers with news of a chunk this download lacks since the last fill: while quiet, only they are looked at. */
  private readonly news = new Set<PeerState>();
  /** Lowest chunk that may still be missing: complete holders are read in order, which keeps disks sequential. */
  private sequentialFrom = 0;
  /** Where in-order reading starts: it goes on to the last chunk, then wraps round to chunk 0. */
  private readonly firstInOrder: number;

  constructor(options: { chunkCount: number; have?: Bitfield; clock: () => number; random: () => number; limits?: Partial<SchedulerLimits> }) {
    this.chunkCount = options.chunkCount;
    this.have = options.have ?? new Bitfield(options.chunkCount);
    this.clock = options.clock;
    this.random = options.random;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.availability = new Uint16Array(options.chunkCount);
    this.haveCount = this.have.count();
    this.firstInOrder = this.limits.randomStart ? Math.floor(this.random() * this.chunkCount) : 0;
  }

  get complete(): boolean {
    return this.haveCount === this.chunkCount;
  }

  get verifiedCount(): number {
    return this.haveCount;
  }

  /** Requests out and chunks waiting for the disk. */
  get busy(): number {
    return this.requestsOut + this.writing.size;
  }

  hasPeer(address: string): boolean {
    return this.peers.has(address);
  }

  /** Adds a peer, or updates what it has: a complete holder has everything (`have` null). */
  setPeer(address: string, have: Bitfield | null): void {
    this.quietUntil = undefined;
    let peer = this.peers.get(address);
    if (!peer) {
      peer = { address, have: null, interesting: 0, inFlight: 0, chosenInFlight: 0, failures: 0, retryAt: 0, contradictions: 0, bad: false, missing: false, delivered: 0 };
      this.peers.set(address, peer);
      this.peerList.push(peer);
    } else if (peer.bad || peer.missing) {
      return; // not asked again in this download, whatever it now claims
    }
    this.countAvailability(peer, -1);
    peer.have = have === null ? null : have.copy();
    this.countAvailability(peer, +1);
    peer.interesting = 0;
    if (peer.have !== null) for (const index of peer.have.indices()) if (!this.have.has(index)) peer.interesting++;
  }

  /**
   * A partial peer now has one more chunk (its HAVE update). True when that can change what
   * `assign` returns: a chunk this download lacks and is not writing.
   */
  peerHas(address: string, index: number): boolean {
    const peer = this.peers.get(address);
    if (!peer || peer.have === null || peer.bad || peer.missing || peer.have.has(index)) return false;
    peer.have.set(index);
    this.availability[index]!++;
    if (this.have.has(index)) return false;
    peer.interesting++; // `stored` takes it back when a chunk being written lands
    if (this.writing.has(index)) return false;
    this.news.add(peer);
    return true;
  }

  /** Requests to make now: free slots of usable peers filled, rarest chunks first. */
  assign(): Assignment[] {
    const now = this.clock();
    let candidates = this.peerList;
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
    if (this.complete || this.requestsOut + this.writing.size >= this.limits.inFlight) return assignments;
    let partialSwarm = false;
    for (const peer of this.peerList) {
      if (peer.have !== null && isUsable(peer, now)) {
        partialSwarm = true;
        break;
      }
    }
    // In a swarm: the chunks nobody is fetching, kept current as requests go out.
    const wanted = partialSwarm ? wantedChunks(this.have, this.writing, this.inFlight.keys()) : null;
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
        if (this.requestsOut + this.writing.size >= this.limits.inFlight) return assignments;
        if (peer.inFlight >= perPeer || (peer.have !== null && peer.interesting === 0) || !isUsable(peer, now)) continue;
        if (wanted !== null && this.limits.holderChooses && peer.have === null) {
          if (wantedCount > peer.chosenInFlight) {
            peer.inFlight++;
            peer.chosenInFlight++;
            this.requestsOut++;
            assignments.push({ peer: peer.address, index: null, wanted: wanted.copy() });
            progressed = true;
            continue;
          }
        }
        const index = (wanted === null ? this.nextInOrder() : this.rarestFor(peer, wanted)) ?? this.pickEndgame(peer, endgame);
        if (index === undefined) continue;
        this.request(peer, index, now);
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
    this.inFlight.delete(index);
    this.requestedAt.delete(index);
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
    for (const peer of this.peerList) if (peer.have?.has(index)) peer.interesting--;
  }

  /** A request came back without a usable chunk (`index` null: a request that let the holder choose). */
  failed(address: string, index: number | null, failure: RequestFailure): void {
    this.quietUntil = undefined;
    const peer = index === null ? this.settleChosen(address) : this.settle(address, index);
    if (peer) {
      if (failure === "link") {
        peer.failures++;
        peer.retryAt = this.clock() + Math.min(this.limits.maxRetryMs, this.limits.retryMs * 2 ** (peer.failures - 1));
        this.pause(peer);
      } else if (failure === "busy") {
        // Give or take half: requesters told busy together must not all come back together.
        peer.retryAt = this.clock() + this.limits.busyRetryMs * (0.5 + this.random());
        this.pause(peer);
      } else if (failure === "not-yet") {
        if (index !== null && peer.have?.has(index)) {
          peer.have.clear(index);
          this.availability[index]!--;
          if (!this.have.has(index)) peer.interesting--;
          if (++peer.contradictions >= this.limits.maxContradictions) {
            this.countAvailability(peer, -1);
            peer.bad = true;
          }
        }
      } else {
        this.countAvailability(peer, -1);
        if (failure === "bad") peer.bad = true;
        else peer.missing = true;
      }
    }
    const fetching = index === null ? undefined : this.inFlight.get(index);
    if (index !== null && fetching && fetching.size === 0) {
      this.inFlight.delete(index);
      this.requestedAt.delete(index);
      const position = this.positionOf(index);
      if (position < this.sequentialFrom) this.sequentialFrom = position;
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
    if (this.pausedUntil !== null && this.pausedUntil <= now) {
      // The earliest pause ended: drop the ended ones, find the next end.
      this.pausedUntil = null;
      for (const peer of this.paused) {
        if (peer.bad || peer.missing || peer.retryAt <= now) this.paused.delete(peer);
        else if (this.pausedUntil === null || peer.retryAt < this.pausedUntil) this.pausedUntil = peer.retryAt;
      }
    }
    if (this.pausedUntil !== null) consider(this.pausedUntil);
    for (const [index, fetching] of this.inFlight) {
      if (fetching.size === 1) consider((this.requestedAt.get(index) ?? 0) + this.limits.endgameAfterMs);
    }
    return wake;
  }

  private pause(peer: PeerState): void {
    this.paused.add(peer);
    if (this.pausedUntil === null || peer.retryAt < this.pausedUntil) this.pausedUntil = peer.retryAt;
  }

  /** Whether any peer could still be asked for something, now or after its pause. */
  get hasCandidates(): boolean {
    for (const peer of this.peers.values()) if (!peer.bad && !peer.missing) return true;
    return false;
  }

  /** A copy of what this download has on disk. */
  haveBits(): Bitfield {
    return this.have.copy();
  }

  peerSummaries(): PeerSummary[] {
    const now = this.clock();
    return [...this.peers.values()].map((peer) => ({
      address: peer.address,
      complete: peer.have === null,
      delivered: peer.delivered,
      bad: peer.bad,
      usable: isUsable(peer, now),
    }));
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private request(peer: PeerState, index: number, now: number): void {
    peer.inFlight++;
    this.requestsOut++;
    let fetching = this.inFlight.get(index);
    if (!fetching) {
      this.inFlight.set(index, (fetching = new Set()));
      this.requestedAt.set(index, now);
    }
    fetching.add(peer);
  }

  private settleChosen(address: string): PeerState | undefined {
    const peer = this.peers.get(address);
    if (peer && peer.chosenInFlight > 0) {
      peer.chosenInFlight--;
      peer.inFlight--;
      this.requestsOut--;
    }
    return peer;
  }

  /** Ends one request's bookkeeping; the peer, if it is still known. */
  private settle(address: string, index: number): PeerState | undefined {
    const peer = this.peers.get(address);
    const fetching = this.inFlight.get(index);
    if (peer && fetching?.delete(peer)) {
      peer.inFlight--;
      this.requestsOut--;
    }
    return peer;
  }

  private chunkAt(position: number): number {
    return (this.firstInOrder + position) % this.chunkCount;
  }

  private positionOf(index: number): number {
    return (index - this.firstInOrder + this.chunkCount) % this.chunkCount;
  }

  private isWanted(index: number): boolean {
    return !this.have.has(index) && !this.writing.has(index) && !this.inFlight.has(index);
  }

  /** Among complete holders only, chunks go in order (from `firstInOrder`): disks on both sides stay sequential. */
  private nextInOrder(): number | undefined {
    while (this.sequentialFrom < this.chunkCount && !this.isWanted(this.chunkAt(this.sequentialFrom))) this.sequentialFrom++;
    for (let position = this.sequentialFrom; position < this.chunkCount; position++) if (this.isWanted(this.chunkAt(position))) return this.chunkAt(position);
    return undefined;
  }

  /**
   * In a swarm: of the chunks still wanted that `peer` has, the rarest among the partial peers,
   * random among equals; any at random for the first few, so that peers starting together diverge.
   */
  private rarestFor(peer: PeerState, wanted: Bitfield): number | undefined {
    const randomOnly = this.haveCount + this.writing.size < this.limits.randomFirst;
    return rarestOf(wanted, peer.have, randomOnly ? null : this.availability, this.random);
  }

  /** Chunks one peer has held for a while: once nothing new is left to ask, they are asked of another too. */
  private endgameCandidates(now: number): number[] {
    const stale = now - this.limits.endgameAfterMs;
    const candidates: number[] = [];
    for (const [index, fetching] of this.inFlight) {
      if (fetching.size === 1 && (this.requestedAt.get(index) ?? 0) <= stale) candidates.push(index);
    }
    return candidates;
  }

  /** Nothing new to ask: an endgame candidate this peer also has, not already asked twice. */
  private pickEndgame(peer: PeerState, candidates: number[]): number | undefined {
    for (const index of candidates) {
      const fetching = this.inFlight.get(index);
      if (fetching === undefined || fetching.size !== 1 || fetching.has(peer)) continue;
      if (peer.have === null || peer.have.has(index)) return index;
    }
    return undefined;
  }

  private countAvailability(peer: PeerState, sign: 1 | -1): void {
    if (peer.have === null) return;
    for (const index of peer.have.indices()) this.availability[index]! += sign;
  }
}
