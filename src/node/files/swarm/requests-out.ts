// The scheduler's requests out to peers: which peers each chunk is asked of and since when, and the endgame's picks.

import type { PeerState } from "./scheduler-types";

export class RequestsOut {
  /** Requests out to peers (a chunk asked of two peers counts twice). */
  count = 0;
  /** chunk -> the peers asked for it. */
  private readonly byChunk = new Map<number, Set<PeerState>>();
  private readonly requestedAt = new Map<number, number>();

  /** Whether some peer was asked for the chunk and it is not settled yet. */
  has(index: number): boolean {
    return this.byChunk.has(index);
  }

  /** The chunks asked of some peer. */
  chunks(): IterableIterator<number> {
    return this.byChunk.keys();
  }

  add(peer: PeerState, index: number, now: number): void {
    peer.inFlight++;
    this.count++;
    let fetching = this.byChunk.get(index);
    if (!fetching) {
      this.byChunk.set(index, (fetching = new Set()));
      this.requestedAt.set(index, now);
    }
    fetching.add(peer);
  }

  /** A request that lets the holder choose the chunk. */
  addChosen(peer: PeerState): void {
    peer.inFlight++;
    peer.chosenInFlight++;
    this.count++;
  }

  /** Ends one request's bookkeeping (nothing when this peer was not asked for it). */
  settle(peer: PeerState, index: number): void {
    if (this.byChunk.get(index)?.delete(peer)) {
      peer.inFlight--;
      this.count--;
    }
  }

  settleChosen(peer: PeerState): void {
    if (peer.chosenInFlight > 0) {
      peer.chosenInFlight--;
      peer.inFlight--;
      this.count--;
    }
  }

  /** True when the chunk was asked for and every peer asked has settled: it is wanted again. */
  isAbandoned(index: number): boolean {
    const fetching = this.byChunk.get(index);
    return fetching !== undefined && fetching.size === 0;
  }

  /** Forgets the chunk (got, or asked of nobody any more); an answer still out will come back late. */
  forget(index: number): void {
    this.byChunk.delete(index);
    this.requestedAt.delete(index);
  }

  /** Calls `at` with when each chunk asked of one peer only was asked. */
  forEachSoleRequest(at: (requestedAt: number) => void): void {
    for (const [index, fetching] of this.byChunk) {
      if (fetching.size === 1) at(this.requestedAt.get(index) ?? 0);
    }
  }

  /** Chunks one peer has held since `stale` or before: once nothing new is left to ask, they are asked of another too. */
  endgameCandidates(stale: number): number[] {
    const candidates: number[] = [];
    for (const [index, fetching] of this.byChunk) {
      if (fetching.size === 1 && (this.requestedAt.get(index) ?? 0) <= stale) candidates.push(index);
    }
    return candidates;
  }

  /** Nothing new to ask: an endgame candidate this peer also has, not already asked twice. */
  pickEndgame(peer: PeerState, candidates: number[]): number | undefined {
    for (const index of candidates) {
      const fetching = this.byChunk.get(index);
      if (fetching === undefined || fetching.size !== 1 || fetching.has(peer)) continue;
      if (peer.have === null || peer.have.has(index)) return index;
    }
    return undefined;
  }
}
