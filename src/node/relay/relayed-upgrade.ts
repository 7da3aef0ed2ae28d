// Moves a relayed link to a direct path found later: while a transfer runs through an edge's relay, the edge is asked again for a reversal or a plain punch, and a link that opens carries the next requests.

import type { ProtocolClient } from "../../protocol/client";
import { isP2PError } from "../../protocol/errors";

/**
 * The pause between two tries for a direct path while a relayed link carries a transfer. A try that finds nothing
 * takes a few seconds itself (a reversal waits 3 s for the edge, a punch up to 5 s), so a path that opens is taken
 * about one try and this pause later.
 */
export const DIRECT_RETRY_PAUSE_MS = 1_000;
/**
 * A try that fails within this long tried nothing on the wire that could have opened a path: the punch was skipped by
 * a rule (two random-port NATs, another address family, a birthday punch not repeated) or the relay refused the
 * reversal at once. The pause after such a try doubles, up to MAX_DIRECT_RETRY_PAUSE_MS: the same answer is likely.
 */
export const QUICK_FAILURE_MS = 500;
/** The longest pause between tries, reached after about five quick failures in a row. */
export const MAX_DIRECT_RETRY_PAUSE_MS = 30_000;

/** A link to an edge that does not go through its relay, and how it was made. */
export type DirectLink = { client: ProtocolClient; path: "direct" | "reversed" | "punched" };

export interface RelayedUpgradeOptions {
  /** Tries once for a direct link to the edge at `address` (its relayed address); null when none opened. */
  tryDirect(address: string): Promise<DirectLink | null>;
  /** Puts `to` in the pool in place of `from` under `poolKey` (a link to `address`); false when the pool no longer holds `from` (closed, replaced). */
  swap(poolKey: string, address: string, from: ProtocolClient, to: DirectLink): Promise<boolean>;
  info(message: string): void;
  clock?: () => number;
}

/**
 * Which pooled links run through a relay, and when each may try for a direct path next. Keyed by the link itself,
 * so a link that is closed and dropped from the pool is forgotten with it.
 */
export class RelayedUpgrades {
  private readonly nextTryAt = new WeakMap<ProtocolClient, number>();
  /** The pause after the last try, where it grew past DIRECT_RETRY_PAUSE_MS. */
  private readonly pauseAfter = new WeakMap<ProtocolClient, number>();
  private readonly trying = new WeakSet<ProtocolClient>();
  private readonly clock: () => number;

  constructor(private readonly options: RelayedUpgradeOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** `client` runs through a relay: the open that made it has just tried the direct paths, so the next try waits a pause. */
  markRelayed(client: ProtocolClient): void {
    this.nextTryAt.set(client, this.clock() + DIRECT_RETRY_PAUSE_MS);
  }

  /**
   * A transfer's request is about to go over `client`, pooled under `poolKey`: when it is a relayed link whose pause
   * is over and no try is under way, one try starts in the background. The request itself is not held up.
   */
  consider(poolKey: string, address: string, client: ProtocolClient): void {
    const due = this.nextTryAt.get(client);
    if (due === undefined || this.trying.has(client) || this.clock() < due || client.isClosed) return;
    this.trying.add(client);
    const startedAt = this.clock();
    void this.tryOnce(poolKey, address, client).finally(() => {
      this.trying.delete(client);
      const quick = this.clock() - startedAt < QUICK_FAILURE_MS;
      const pause = quick ? Math.min(2 * (this.pauseAfter.get(client) ?? DIRECT_RETRY_PAUSE_MS / 2), MAX_DIRECT_RETRY_PAUSE_MS) : DIRECT_RETRY_PAUSE_MS;
      this.pauseAfter.set(client, pause);
      this.nextTryAt.set(client, this.clock() + pause);
    });
  }

  private async tryOnce(poolKey: string, address: string, relayed: ProtocolClient): Promise<void> {
    let found: DirectLink | null;
    try {
      found = await this.options.tryDirect(address);
    } catch (error) {
      // The relay or the circuit failed: the relayed link says so on its own next request, if it matters.
      if (!isP2PError(error)) throw error;
      return;
    }
    if (found === null) return;
    if (!(await this.options.swap(poolKey, address, relayed, found))) {
      found.client.close();
      return;
    }
    this.nextTryAt.delete(relayed);
    this.options.info(`the link to ${address} moved from its relay to a ${found.path} connection`);
    // Replies already asked for come back on the relayed link; then it closes, and its circuit with it.
    await relayed.whenIdle();
    relayed.close();
  }
}
