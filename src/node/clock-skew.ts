// How far this node's clock is from its peers': measured from the time each peer puts in its PING reply, the median over peers, and what to tell the user.

import type { Peer } from "../model/peer";
import { MAX_CLOCK_SKEW_MS } from "./signed-records";

/** A peer's sample counts this long; older ones are forgotten. */
const MAX_SAMPLE_AGE_MS = 10 * 60_000;
/** Samples whose round trip took longer than this say too little about the peer's clock to count. */
const MAX_SAMPLE_ROUND_TRIP_MS = 5_000;
/** Peers whose latest sample is kept; past it the oldest is dropped. */
const MAX_CLOCK_PEERS = 64;
/**
 * Peers asked for their time in one probe, and how often a probe runs. Clocks drift by seconds a day at
 * most, so one probe in five minutes keeps about ten samples fresh (MAX_SAMPLE_AGE_MS) at 5 PINGs per node
 * per five minutes: a probe every 30 s was a sixth of an idle ring's messages.
 */
const PEERS_PER_PROBE = 5;
export const CLOCK_PROBE_INTERVAL_MS = 5 * 60_000;
/** Until this many peers (or every known one) have told their time, probes come every CLOCK_TICK_MS. */
const MIN_CLOCK_PEERS = 3;
const CLOCK_TICK_MS = 2_000;
/** A probe waits at most this long for its answers (each PING has the transport's own timeout too). */
const PROBE_TIMEOUT_MS = 3_000;

/** This node's clock minus the median of its peers' (positive: ahead), over how many peers; null skew until one answered. */
export type ClockEstimate = { skewMs: number | null; peers: number; toleranceMs: number };

/**
 * The latest clock sample of each peer: its time, less the middle of the round trip that fetched it.
 * The median over peers is robust: a minority of peers with wrong clocks (or lying ones) moves it little.
 */
export class PeerClocks {
  private readonly samples = new Map<string, { offsetMs: number; at: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** A peer at `address` said its time was `peerTime` in a reply to a call sent at `sent` and answered at `received` (this node's clock). */
  sample(address: string, peerTime: number, sent: number, received: number): void {
    if (!Number.isFinite(peerTime) || received - sent > MAX_SAMPLE_ROUND_TRIP_MS || received < sent) return;
    this.samples.delete(address);
    this.samples.set(address, { offsetMs: peerTime - (sent + received) / 2, at: received });
    if (this.samples.size > MAX_CLOCK_PEERS) this.samples.delete(this.samples.keys().next().value!);
  }

  estimate(): ClockEstimate {
    const now = this.clock();
    const offsets: number[] = [];
    for (const [address, sample] of this.samples) {
      if (now - sample.at > MAX_SAMPLE_AGE_MS || sample.at > now + MAX_SAMPLE_AGE_MS) this.samples.delete(address);
      else offsets.push(sample.offsetMs);
    }
    if (offsets.length === 0) return { skewMs: null, peers: 0, toleranceMs: MAX_CLOCK_SKEW_MS };
    offsets.sort((a, b) => a - b);
    const middle = offsets.length >> 1;
    const median = offsets.length % 2 === 1 ? offsets[middle]! : (offsets[middle - 1]! + offsets[middle]!) / 2;
    return { skewMs: 0 - Math.round(median), peers: offsets.length, toleranceMs: MAX_CLOCK_SKEW_MS };
  }
}

/** What to tell the user when this node's clock is further from its peers' than the network tolerates, else null. */
export function clockNote(estimate: ClockEstimate): string | null {
  if (estimate.skewMs === null || Math.abs(estimate.skewMs) <= estimate.toleranceMs) return null;
  const direction = estimate.skewMs > 0 ? "ahead of" : "behind";
  const peers = estimate.peers === 1 ? "its one peer that answered" : `its peers (median of ${estimate.peers})`;
  return `this node's clock is ${formatSkew(estimate.skewMs)} ${direction} ${peers}; fix the clock (NTP): the network tolerates ${formatSkew(estimate.toleranceMs)}`;
}

/** `2 min`, `45 s`, `0.3 s`: a skew as a person reads it. */
export function formatSkew(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 90_000) return `${Math.round(abs / 60_000)} min`;
  if (abs >= 10_000) return `${Math.round(abs / 1000)} s`;
  return `${(abs / 1000).toFixed(1)} s`;
}

/** A repeated clock warning in the node's log: at most this often. */
const CLOCK_WARNING_INTERVAL_MS = 10 * 60_000;

/**
 * Keeps the estimate fresh: every CLOCK_PROBE_INTERVAL_MS it asks a few peers of the routing tables for
 * their time (`PING time`), and on demand when a command failed and no sample is fresh. It warns in the
 * log when the clock is further off than the network tolerates.
 */
export class ClockWatch {
  readonly clocks: PeerClocks;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private next = 0;
  private warnedAt = -Infinity;
  private probedAt = -Infinity;
  private probing = false;

  constructor(
    private readonly peers: () => Peer[],
    /** The peer's clock, from its `PING time` reply (null: it gave none). */
    private readonly timeOf: (peer: Peer) => Promise<number | null>,
    private readonly warn: (message: string) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.clocks = new PeerClocks(clock);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.probe();
    this.schedule();
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One timer, set for the next due probe: an idle node is not woken to find nothing due. */
  private schedule(): void {
    // Soon after a join the tables fill: ask again quickly until a few peers have told their time.
    const short = this.estimate().peers < Math.min(MIN_CLOCK_PEERS, this.peers().length);
    const delay = short ? CLOCK_TICK_MS : Math.max(CLOCK_TICK_MS, CLOCK_PROBE_INTERVAL_MS - (this.clock() - this.probedAt));
    this.timer = setTimeout(() => {
      if (!this.started) return;
      const due = short || this.clock() - this.probedAt >= CLOCK_PROBE_INTERVAL_MS;
      if (due && !this.probing) void this.probe();
      this.schedule();
    }, delay);
  }

  estimate(): ClockEstimate {
    return this.clocks.estimate();
  }

  /** Asks the next few known peers in turn, waiting at most PROBE_TIMEOUT_MS; peers that fail add nothing. */
  async probe(): Promise<void> {
    const known = this.peers();
    if (known.length === 0) return;
    this.probedAt = this.clock();
    this.probing = true;
    try {
      await this.ask(known);
    } finally {
      this.probing = false;
    }
    const note = clockNote(this.estimate());
    if (note !== null && this.clock() - this.warnedAt >= CLOCK_WARNING_INTERVAL_MS) {
      this.warnedAt = this.clock();
      this.warn(`${note}; until then its announcements are refused or expire early, and it cannot see others' new ones`);
    }
  }

  private async ask(known: Peer[]): Promise<void> {
    const picked = Array.from({ length: Math.min(PEERS_PER_PROBE, known.length) }, (_, index) => known[(this.next + index) % known.length]!);
    this.next = (this.next + picked.length) % known.length;
    const ask = async (peer: Peer) => {
      const sent = this.clock();
      const time = await this.timeOf(peer);
      if (time !== null) this.clocks.sample(peer.address, time, sent, this.clock());
    };
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timeout = setTimeout(resolve, PROBE_TIMEOUT_MS)));
    await Promise.race([Promise.allSettled(picked.map(ask)), deadline]);
    clearTimeout(timeout);
  }

  /** The note for a failed command, or null when the clock is in step: probes first when no peer's time is known yet. */
  async note(): Promise<string | null> {
    if (this.estimate().peers === 0) await this.probe();
    return clockNote(this.estimate());
  }
}
