// Peers the scheduler told to wait (link failures, busy answers), and when the earliest of their pauses ends.

import type { PeerState } from "./scheduler-types";

export class Pauses {
  private readonly peers = new Set<PeerState>();
  /** The earliest end of a pause (or earlier, if a pause was extended since): looked for again once passed. */
  private until: number | null = null;

  add(peer: PeerState): void {
    this.peers.add(peer);
    if (this.until === null || peer.retryAt < this.until) this.until = peer.retryAt;
  }

  /** When the earliest pause still running at `now` ends (null: none); ended pauses are dropped. */
  nextEnd(now: number): number | null {
    if (this.until !== null && this.until <= now) {
      this.until = null;
      for (const peer of this.peers) {
        if (peer.bad || peer.missing || peer.retryAt <= now) this.peers.delete(peer);
        else if (this.until === null || peer.retryAt < this.until) this.until = peer.retryAt;
      }
    }
    return this.until;
  }
}
