// The peers of one download as the scheduler sees them: what each has, and how many partial peers have each chunk.

import type { Bitfield } from "../../../model/bitfield";
import { type PeerState, type PeerSummary, isUsable } from "./scheduler-types";

export class SwarmPeers {
  private readonly byAddress = new Map<string, PeerState>();
  /** The same peers in an array: walked on every call of `assign`, which must stay cheap in large swarms. */
  readonly list: PeerState[] = [];
  /** How many partial peers have each chunk (complete holders add the same to every chunk, so they do not change the order). */
  readonly availability: Uint16Array;

  constructor(chunkCount: number) {
    this.availability = new Uint16Array(chunkCount);
  }

  get(address: string): PeerState | undefined {
    return this.byAddress.get(address);
  }

  /** Adds a peer, or updates what it has (`have` null: a complete holder); `mine` is what this download has on disk. */
  set(address: string, have: Bitfield | null, mine: Bitfield): void {
    let peer = this.byAddress.get(address);
    if (!peer) {
      peer = { address, have: null, interesting: 0, inFlight: 0, chosenInFlight: 0, failures: 0, retryAt: 0, contradictions: 0, bad: false, missing: false, delivered: 0 };
      this.byAddress.set(address, peer);
      this.list.push(peer);
    } else if (peer.bad || peer.missing) {
      return; // not asked again in this download, whatever it now claims
    }
    this.countAvailability(peer, -1);
    peer.have = have === null ? null : have.copy();
    this.countAvailability(peer, +1);
    peer.interesting = 0;
    if (peer.have !== null) for (const index of peer.have.indices()) if (!mine.has(index)) peer.interesting++;
  }

  /** A partial peer said it has one more chunk; false when that is no news (unknown, complete, dropped, or known). */
  gained(peer: PeerState | undefined, index: number): peer is PeerState {
    if (!peer || peer.have === null || peer.bad || peer.missing || peer.have.has(index)) return false;
    peer.have.set(index);
    this.availability[index]!++;
    return true;
  }

  /** The peer said "not yet" for a chunk it had said it has: our view was stale; too many such answers and it is dropped. */
  contradicted(peer: PeerState, index: number, mine: Bitfield, maxContradictions: number): void {
    if (!peer.have?.has(index)) return;
    peer.have.clear(index);
    this.availability[index]!--;
    if (!mine.has(index)) peer.interesting--;
    if (++peer.contradictions >= maxContradictions) this.drop(peer, "bad");
  }

  /** Not asked again in this download. */
  drop(peer: PeerState, why: "bad" | "missing"): void {
    this.countAvailability(peer, -1);
    if (why === "bad") peer.bad = true;
    else peer.missing = true;
  }

  /** This download now has the chunk: peers holding it have one chunk less to offer. */
  stored(index: number): void {
    for (const peer of this.list) if (peer.have?.has(index)) peer.interesting--;
  }

  /** Whether any peer could still be asked for something, now or after its pause. */
  get hasCandidates(): boolean {
    for (const peer of this.byAddress.values()) if (!peer.bad && !peer.missing) return true;
    return false;
  }

  summaries(now: number): PeerSummary[] {
    return [...this.byAddress.values()].map((peer) => ({
      address: peer.address,
      complete: peer.have === null,
      delivered: peer.delivered,
      bad: peer.bad,
      usable: isUsable(peer, now),
    }));
  }

  private countAvailability(peer: PeerState, sign: 1 | -1): void {
    if (peer.have === null) return;
    for (const index of peer.have.indices()) this.availability[index]! += sign;
  }
}
