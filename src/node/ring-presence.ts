// A node's presence in the network: finding the ring (through the DNS, else the peers it knew, with backoff), staying registered, merging with another ring it hears of.
//
// Not to be confused with the ring's `Membership` (src/node/ring/membership.ts), which creates, joins and
// leaves one ring through peers it is given: this class decides which peers to give it, when, and when to go again.

import { log } from "../log";
import { isP2PError, P2PError } from "../protocol/errors";
import { ALL_DEAD_ROUNDS_BEFORE_FOUNDING, MAX_JOIN_ROUNDS, MAX_KNOWN_PEERS_PER_JOIN, MAX_RETRY_DELAY_MS, RESAVE_KNOWN_PEERS_AFTER_JOIN_MS } from "./defaults";
import type { Introducers } from "./dns-client";
import type { KnownPeers } from "./known-peers";
import type { ChordNode } from "./ring/chord";
import { MERGE_CONFIRM_MS, RingMerger } from "./ring/merge";
import type { Peer } from "../model/peer";
import type { RingTransport } from "../model/ring-transport";
import { TimerSet, type Timers } from "./timers";
import { AdaptiveTimer } from "./adaptive-timer";
import { AdaptivePeriod } from "./ring/adaptive-period";

export type PresenceOptions = {
  ring: ChordNode;
  /** Starts and stops the ring's periodic maintenance: it runs from the join on, and pauses while re-joining another ring. */
  maintenance: { start(): void; stop(): void };
  dns: Pick<Introducers, "join" | "leave" | "address">;
  /** Pings a peer that failed to let this node in, before it is reported dead to the DNS. */
  transport: Pick<RingTransport, "ping">;
  knownPeers: Pick<KnownPeers, "load" | "save" | "path">;
  heartbeatMs: number;
  /** The longest wait between heartbeats while nothing changes (default `heartbeatMs`: no back-off); keep it below the DNS's TTL. */
  heartbeatMaxMs?: number;
  /** The first pause between join rounds, doubled each round up to MAX_RETRY_DELAY_MS. */
  retryMs: number;
  clock: () => number;
  timers: Timers;
  /** Aborted when the node stops: joining ends at its next round, and every timer here is cancelled. */
  signal: AbortSignal;
  /** This node merged into another ring: its place in the ring changed (its files are announced again). */
  onMerged: () => void;
};

export class RingPresence {
  private readonly ring: ChordNode;
  private readonly timers: TimerSet;
  /** Peers from known-peers.json at start; a node that had to found a ring keeps probing them for the ring it lost. */
  private rememberedPeers: Peer[] = [];
  private foundedRing = false;
  private hasJoined = false;
  private merger: RingMerger | null = null;
  private heartbeating = false;
  /** One check for another ring at a time: the heartbeat's and a confirmation's may otherwise overlap. */
  private checkingRings = false;
  private confirmPending = false;

  constructor(private readonly options: PresenceOptions) {
    this.ring = options.ring;
    this.timers = new TimerSet(options.timers);
    if (options.signal.aborted) this.stop();
    else options.signal.addEventListener("abort", () => this.stop(), { once: true });
  }

  /** Whether this node joined (or founded) a ring; it stays true after the node stops, which then leaves. */
  get joined(): boolean {
    return this.hasJoined;
  }

  /** Whether this node founded the ring it is in (it found nobody alive) rather than joining another node's. */
  get founded(): boolean {
    return this.foundedRing;
  }

  /**
   * Joins the ring (see `join`), then runs the ring's maintenance and a heartbeat every `heartbeatMs`.
   * Rejects with CLOSED when the node stops first, with REFUSED when a DNS refuses this node's key.
   */
  async start(): Promise<void> {
    this.rememberedPeers = this.options.knownPeers.load((message) => log.warn(message)).slice(0, MAX_KNOWN_PEERS_PER_JOIN);
    this.foundedRing = (await this.join()).founded;
    this.hasJoined = true;
    const { heartbeatMs, heartbeatMaxMs, clock } = this.options;
    const period = new AdaptivePeriod({ fastMs: heartbeatMs, maxMs: heartbeatMaxMs ?? heartbeatMs, clock });
    this.merger = new RingMerger(this.ring, { clock, calm: () => period.atMax });
    // Stopped while the last join round ran: the node is in, and leaves at once; nothing more starts.
    if (this.timers.isStopped) return;
    this.options.maintenance.start();
    this.saveKnownPeers();
    const heartbeats = new AdaptiveTimer(this.timers, clock, period, () => this.heartbeat());
    // A ring that changes may be meeting another one: heartbeats (and merge checks) go fast again too.
    this.ring.onSnapBack((reason) => heartbeats.disturbed(reason));
    heartbeats.start();
    // The tables are full by now; the heartbeat keeps the file current from here on.
    this.timers.after(RESAVE_KNOWN_PEERS_AFTER_JOIN_MS, () => this.saveKnownPeers());
  }

  /**
   * Refreshes the DNS registrations, saves the peers this node knows, and looks for another ring to merge
   * with. Resolves with what changed (a DNS that failed, another ring in sight), or null when nothing did.
   */
  async heartbeat(): Promise<string | null> {
    if (this.heartbeating || !this.hasJoined || this.timers.isStopped) return null;
    this.heartbeating = true;
    let change: string | null = null;
    try {
      let listed: Peer[] = [];
      try {
        const answer = await this.options.dns.join(this.ring.self);
        listed = answer.peers;
        for (const failure of answer.failed) log.warn(`DNS heartbeat to ${failure.address} failed: ${failure.error.message}`);
        if (answer.failed.length > 0) change = "a DNS heartbeat failed";
      } catch (error) {
        if (!isP2PError(error)) throw error;
        log.warn(`DNS heartbeat failed: ${error.message}`);
        change = "the DNS heartbeat failed";
      }
      this.saveKnownPeers();
      await this.checkForOtherRing(this.foundedRing ? uniquePeers([...listed, ...this.rememberedPeers]) : listed);
      if (this.merger?.pendingConfirmation) change = "another ring may be in sight";
    } catch (error) {
      log.warn(`heartbeat: ${(error as Error).message}`);
      change = "the heartbeat failed";
    } finally {
      this.heartbeating = false;
    }
    return change;
  }

  /** known-peers.json: the peers in this node's tables now, nearest first. */
  saveKnownPeers(): void {
    const { knownPeers } = this.options;
    try {
      knownPeers.save(this.ring.routingPeers(), this.ring.self);
    } catch (error) {
      log.warn(`could not save ${knownPeers.path}: ${(error as Error).message}`);
    }
  }

  /** Cancels joining, heartbeats, a pending merge confirmation and the ring's maintenance. */
  private stop(): void {
    this.timers.stop();
    this.options.maintenance.stop();
  }

  // ---- joining ------------------------------------------------------------------------------

  /**
   * Asks the DNS for peers and joins through one, or through the peers this node knew (known-peers.json)
   * when the DNS is down or knows nobody; creates a new ring only when nobody else is alive.
   */
  private async join(): Promise<{ founded: boolean }> {
    const { dns } = this.options;
    const remembered = this.rememberedPeers;
    let delay = this.options.retryMs;
    let allDeadRounds = 0;
    for (let round = 1; round <= MAX_JOIN_ROUNDS; round++) {
      if (this.timers.isStopped) throw new P2PError("CLOSED", "stopped while joining");
      // null: no DNS answered.
      const listed = await this.askDns(delay);
      const candidates = uniquePeers([...(listed ?? []), ...remembered]);
      if (candidates.length === 0) {
        if (listed !== null) return this.found("no other live peer: starting a new ring");
        delay = await this.backOff(delay);
        continue;
      }
      const result = await this.ring.join(candidates);
      if (result.joinedVia) {
        log.info(`joined the ring through ${result.joinedVia.address}`);
        await this.reportDead(result.failed);
        return { founded: false };
      }
      // Nobody let us in: if they are all dead round after round, we are alone; if some are alive but busy joining, wait.
      // One round of dead peers may be a flood of dead entries at the DNS: ask it again before founding a ring.
      const dead = await this.reportDead(result.failed);
      allDeadRounds = dead === candidates.length ? allDeadRounds + 1 : 0;
      if (allDeadRounds >= ALL_DEAD_ROUNDS_BEFORE_FOUNDING && listed !== null) {
        return this.found(remembered.length > 0 ? "no peer the DNS listed or this node knew is alive: starting a new ring" : "no peer the DNS listed is alive: starting a new ring");
      }
      const wait = `${(delay / 1000).toFixed(1)} s`;
      if (dead !== candidates.length) log.info(`peers are still joining; retrying in ${wait}`);
      else if (listed === null) log.warn(`none of the peers this node knew answers and no DNS does; retrying in ${wait}`);
      else log.warn(`none of the ${candidates.length} peers listed answers; asking again in ${wait}`);
      delay = await this.backOff(delay);
    }
    throw new P2PError("UNAVAILABLE", `could not join the ring through the DNS at ${dns.address} after ${MAX_JOIN_ROUNDS} attempts`);
  }

  /** JOIN at the DNS: the peers it lists (this node's registration is its side effect), or null when no DNS answered. */
  private async askDns(delay: number): Promise<Peer[] | null> {
    const { dns } = this.options;
    const remembered = this.rememberedPeers.length;
    let listed: Peer[];
    try {
      const answer = await dns.join(this.ring.self);
      listed = answer.peers;
      for (const failure of answer.failed) log.warn(`DNS at ${failure.address} did not answer (${failure.error.message}); using the others`);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      // Another key (or none) at the DNS does not go away by retrying: say so and stop.
      if (error.code === "REFUSED") throw error;
      const fallback = remembered > 0 ? `trying the ${remembered} peers this node knew` : `retrying in ${(delay / 1000).toFixed(1)} s`;
      log.warn(`DNS at ${dns.address} did not answer (${error.message}); ${fallback}`);
      return null;
    }
    if (listed.length === 0 && remembered > 0) log.info(`the DNS knows no other peer; trying the ${remembered} peers this node knew`);
    return listed;
  }

  private found(message: string): { founded: boolean } {
    this.ring.create();
    log.info(message);
    return { founded: true };
  }

  /** Pings each peer that failed us; the ones that do not answer are reported to the DNS. Returns how many. */
  private async reportDead(failed: readonly Peer[]): Promise<number> {
    let dead = 0;
    for (const peer of failed) {
      try {
        await this.options.transport.ping(peer);
      } catch {
        dead++;
        log.warn(`peer ${peer.address} does not answer; reporting it to the DNS`);
        await this.options.dns.leave(peer.id).catch(() => {});
      }
    }
    return dead;
  }

  /** Waits `delay` (cut short when the node stops) and returns the next one, doubled up to MAX_RETRY_DELAY_MS. */
  private async backOff(delay: number): Promise<number> {
    const { signal } = this.options;
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const wake = (): void => resolve();
      signal.addEventListener("abort", wake, { once: true });
      this.timers.after(delay, () => {
        signal.removeEventListener("abort", wake);
        resolve();
      });
    });
    return Math.min(delay * 2, MAX_RETRY_DELAY_MS);
  }

  // ---- merging with another ring ------------------------------------------------------------

  /** Merges with another ring the candidates belong to, when ours is the one that yields. */
  private async checkForOtherRing(candidates: Peer[]): Promise<void> {
    if (this.checkingRings) return;
    this.checkingRings = true;
    try {
      await this.mergeWithOtherRing(candidates);
    } finally {
      this.checkingRings = false;
    }
  }

  private async mergeWithOtherRing(candidates: Peer[]): Promise<void> {
    const merger = this.merger;
    if (!merger || this.timers.isStopped || candidates.length === 0) return;
    const foreign = await merger.check(candidates);
    if (merger.pendingConfirmation && !this.confirmPending) {
      // Confirm soon rather than at the next heartbeat, which may be minutes away.
      this.confirmPending = true;
      this.timers.after(MERGE_CONFIRM_MS, () => {
        this.confirmPending = false;
        void this.checkForOtherRing(candidates).catch((error) => log.warn(`looking for another ring: ${(error as Error).message}`));
      });
    }
    if (foreign === null || this.timers.isStopped) return;
    const rings = `its smallest id ${foreign.theirSmallest.id.slice(0, 8)}, ours ${foreign.ourSmallest.id.slice(0, 8)}`;
    if (!foreign.weYield) {
      log.info(`found another ring through ${foreign.via.address} (${rings}); it will merge into ours`);
      return;
    }
    log.info(`found another ring through ${foreign.via.address} (${rings}); merging into it`);
    await this.rejoinThrough(foreign.via, merger);
  }

  /** Leaves this ring for the one `via` is in, maintenance paused meanwhile; stays when `via` cannot take this node in. */
  private async rejoinThrough(via: Peer, merger: RingMerger): Promise<void> {
    this.options.maintenance.stop();
    try {
      if (await this.ring.rejoinThrough(via)) {
        this.foundedRing = false;
        merger.joined();
        log.info(`merged into the ring of ${via.address}; handing ${this.ring.misplacedCount} keys to their primaries there`);
        this.options.onMerged();
      } else {
        log.warn(`could not join the other ring through ${via.address}; staying in ours`);
      }
    } finally {
      if (!this.timers.isStopped) this.options.maintenance.start();
    }
  }
}

/** Each peer once, first occurrence kept. */
function uniquePeers(peers: readonly Peer[]): Peer[] {
  const byAddress = new Map<string, Peer>();
  for (const peer of peers) if (!byAddress.has(peer.address)) byAddress.set(peer.address, peer);
  return [...byAddress.values()];
}
