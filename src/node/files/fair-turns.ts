// Whose request a holder serves next: requesters in turn, and at a full queue the requester served least keeps its place. Pure: the UploadQueue and the swarm simulation share it.

/** Requesters whose served count is remembered; the least recently served are forgotten. */
export const MAX_REMEMBERED_REQUESTERS = 1_024;

/**
 * Waiting requests, one queue per requester, taken in turn. A requester who was just served asks
 * again within a round trip, while those answered "busy" wait before asking again: first come,
 * first served would let the same few requesters take every freed place. So when the queue is
 * full, a newcomer that was served fewer chunks than a waiting requester takes that requester's
 * (last) place: over time every requester gets its share, and a seeder's new chunks go to many
 * downloaders, each of which can then pass them on, instead of a few whose uplinks they saturate.
 */
export class FairTurns<T> {
  private readonly rotation: string[] = [];
  private readonly waiting = new Map<string, T[]>();
  /** Chunks served per requester, in order of their last turn (oldest first). */
  private readonly served = new Map<string, number>();
  private count = 0;

  /** Requests waiting, in all. */
  get size(): number {
    return this.count;
  }

  /** Requests of `requester` waiting. */
  waitingOf(requester: string): number {
    return this.waiting.get(requester)?.length ?? 0;
  }

  push(requester: string, item: T): void {
    let queue = this.waiting.get(requester);
    if (!queue) {
      this.waiting.set(requester, (queue = []));
      this.rotation.push(requester);
    }
    queue.push(item);
    this.count++;
  }

  /** The next request in turn; it counts as served for its requester. */
  next(): { requester: string; item: T } | undefined {
    const requester = this.rotation.shift();
    if (requester === undefined) return undefined;
    const queue = this.waiting.get(requester)!;
    const item = queue.shift()!;
    this.count--;
    if (queue.length > 0) this.rotation.push(requester);
    else this.waiting.delete(requester);
    const served = (this.served.get(requester) ?? 0) + 1;
    this.served.delete(requester); // re-inserted: the map's order is recency
    this.served.set(requester, served);
    if (this.served.size > MAX_REMEMBERED_REQUESTERS) this.served.delete(this.served.keys().next().value!);
    return { requester, item };
  }

  /** Takes a waiting request out (its requester hung up). */
  remove(requester: string, item: T): boolean {
    const queue = this.waiting.get(requester);
    const at = queue?.indexOf(item) ?? -1;
    if (!queue || at < 0) return false;
    queue.splice(at, 1);
    this.count--;
    if (queue.length === 0) {
      this.waiting.delete(requester);
      this.rotation.splice(this.rotation.indexOf(requester), 1);
    }
    return true;
  }

  /**
   * The queue is full and `newcomer` asks: the last waiting request of the requester served most,
   * taken out to make room, if that requester was served more than the newcomer; otherwise
   * undefined, and the newcomer is the one to turn away.
   */
  evictFor(newcomer: string): { requester: string; item: T } | undefined {
    const newcomerServed = this.served.get(newcomer) ?? 0;
    let victim: string | undefined;
    let victimServed = newcomerServed;
    for (const requester of this.rotation) {
      const served = this.served.get(requester) ?? 0;
      if (served > victimServed) {
        victim = requester;
        victimServed = served;
      }
    }
    if (victim === undefined) return undefined;
    const item = this.waiting.get(victim)!.at(-1)!;
    this.remove(victim, item);
    return { requester: victim, item };
  }
}
