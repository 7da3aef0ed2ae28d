// Joining the ring at start: through the peers the DNS lists, or those this node knew, retrying with backoff; a new ring only when nobody is alive.

import { log } from "../log";
import { isP2PError, P2PError } from "../protocol/errors";
import { ALL_DEAD_ROUNDS_BEFORE_FOUNDING, MAX_JOIN_ROUNDS, MAX_RETRY_DELAY_MS } from "./defaults";
import type { Introducers } from "./dns-client";
import type { ChordNode } from "./ring/chord";
import type { Peer } from "../model/peer";
import type { TcpTransport } from "./tcp-transport";

export type JoinContext = {
  chord: ChordNode;
  dns: Introducers;
  transport: TcpTransport;
  self: Peer;
  /** Peers from known-peers.json, tried when the DNS is down or knows nobody. */
  rememberedPeers: readonly Peer[];
  /** The first pause between rounds, doubled each round up to MAX_RETRY_DELAY_MS. */
  retryMs: number;
  /** Aborted when the node closes: the join stops at its next round. */
  signal: AbortSignal;
};

/**
 * Asks the DNS for peers and joins through one, or through the peers this node knew (known-peers.json)
 * when the DNS is down or knows nobody; creates a new ring only when nobody else is alive.
 */
export async function joinRing(ctx: JoinContext): Promise<{ founded: boolean }> {
  const { chord, dns, self, rememberedPeers, signal } = ctx;
  let delay = ctx.retryMs;
  let allDeadRounds = 0;
  for (let round = 1; round <= MAX_JOIN_ROUNDS; round++) {
    if (signal.aborted) throw new P2PError("CLOSED", "stopped while joining");
    // null: no DNS answered.
    let listed: Peer[] | null = null;
    try {
      const answer = await dns.join(self);
      listed = answer.peers;
      for (const failure of answer.failed) log.warn(`DNS at ${failure.address} did not answer (${failure.error.message}); using the others`);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      // Another key (or none) at the DNS does not go away by retrying: say so and stop.
      if (error.code === "REFUSED") throw error;
      const fallback = rememberedPeers.length > 0 ? `trying the ${rememberedPeers.length} peers this node knew` : `retrying in ${(delay / 1000).toFixed(1)} s`;
      log.warn(`DNS at ${dns.address} did not answer (${error.message}); ${fallback}`);
    }
    if (listed !== null && listed.length === 0 && rememberedPeers.length > 0) {
      log.info(`the DNS knows no other peer; trying the ${rememberedPeers.length} peers this node knew`);
    }
    const candidates = uniquePeers([...(listed ?? []), ...rememberedPeers]);
    if (candidates.length === 0) {
      if (listed !== null) {
        chord.create();
        log.info("no other live peer: starting a new ring");
        return { founded: true };
      }
      delay = await backOff(delay, signal);
      continue;
    }
    const result = await chord.join(candidates);
    if (result.joinedVia) {
      log.info(`joined the ring through ${result.joinedVia.address}`);
      await reportDead(ctx, result.failed);
      return { founded: false };
    }
    // Nobody let us in: if they are all dead round after round, we are alone; if some are alive but busy joining, wait.
    // One round of dead peers may be a flood of dead entries at the DNS: ask it again before founding a ring.
    const dead = await reportDead(ctx, result.failed);
    allDeadRounds = dead === candidates.length ? allDeadRounds + 1 : 0;
    if (allDeadRounds >= ALL_DEAD_ROUNDS_BEFORE_FOUNDING && listed !== null) {
      chord.create();
      log.info(rememberedPeers.length > 0 ? "no peer the DNS listed or this node knew is alive: starting a new ring" : "no peer the DNS listed is alive: starting a new ring");
      return { founded: true };
    }
    if (dead === candidates.length) {
      log.warn(listed === null ? `none of the peers this node knew answers and no DNS does; retrying in ${(delay / 1000).toFixed(1)} s` : `none of the ${candidates.length} peers listed answers; asking again in ${(delay / 1000).toFixed(1)} s`);
      delay = await backOff(delay, signal);
      continue;
    }
    log.info(`peers are still joining; retrying in ${(delay / 1000).toFixed(1)} s`);
    delay = await backOff(delay, signal);
  }
  throw new P2PError("UNAVAILABLE", `could not join the ring through the DNS at ${dns.address} after ${MAX_JOIN_ROUNDS} attempts`);
}

/** Pings each peer that failed us; the ones that do not answer are reported to the DNS. Returns how many. */
async function reportDead({ transport, dns }: JoinContext, failed: Peer[]): Promise<number> {
  let dead = 0;
  for (const peer of failed) {
    try {
      await transport.ping(peer);
    } catch {
      dead++;
      log.warn(`peer ${peer.address} does not answer; reporting it to the DNS`);
      await dns.leave(peer.id).catch(() => {});
    }
  }
  return dead;
}

/** Each peer once, first occurrence kept. */
export function uniquePeers(peers: readonly Peer[]): Peer[] {
  const byAddress = new Map<string, Peer>();
  for (const peer of peers) if (!byAddress.has(peer.address)) byAddress.set(peer.address, peer);
  return [...byAddress.values()];
}

/** Waits `delay` (cut short when `signal` aborts) and returns the next one, doubled up to MAX_RETRY_DELAY_MS. */
async function backOff(delay: number, signal: AbortSignal): Promise<number> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, delay);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
  return Math.min(delay * 2, MAX_RETRY_DELAY_MS);
}
