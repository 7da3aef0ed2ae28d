// When each peer last proved itself alive to this node (an answer, or a call of its own): traffic already exchanged is liveness, so upkeep need not ping it again.

/** Peers remembered; past it the oldest half is forgotten (a forgotten peer is simply pinged again). */
const MAX_REMEMBERED_PEERS = 1024;

export class RecentlyHeard {
  /** address -> when it was last heard from; Map order is insertion order, refreshed on every note. */
  private readonly heard = new Map<string, number>();

  constructor(private readonly clock: () => number) {}

  /** `address` answered a call, or called this node. */
  note(address: string): void {
    this.heard.delete(address);
    this.heard.set(address, this.clock());
    if (this.heard.size > MAX_REMEMBERED_PEERS) {
      let drop = this.heard.size / 2;
      for (const key of this.heard.keys()) {
        if (drop-- <= 0) break;
        this.heard.delete(key);
      }
    }
  }

  /** Whether `address` was heard from less than `ms` ago. */
  within(address: string, ms: number): boolean {
    const at = this.heard.get(address);
    return at !== undefined && this.clock() - at < ms;
  }

  /** It failed to answer: whatever was heard from it before no longer counts. */
  forget(address: string): void {
    this.heard.delete(address);
  }
}
