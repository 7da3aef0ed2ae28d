// The download scheduler's limits: depth of requests, endgame, randomness, retries, and when a peer counts as a liar.

export interface SchedulerLimits {
  /** Chunk requests in flight to one peer (pipelined on its one connection). */
  inFlightPerPeer: number;
  /**
   * The same while other downloaders share the file: then every uplink is busy serving several
   * peers, a deeper pipeline only queues requests whose choice goes stale, and spreading them
   * over more peers keeps more uplinks working.
   */
  swarmInFlightPerPeer: number;
  /** Chunks requested or waiting for the disk, in all: bounds a download's memory to this many chunks. */
  inFlight: number;
  /** A chunk held this long by one peer is also asked of another once nothing new is left to ask. */
  endgameAfterMs: number;
  /**
   * With complete holders only, reading starts at a random chunk and wraps round. Downloads that
   * start together (before they know of each other) then ask a seeder for different chunks, instead
   * of all for chunk 0 (a second copy sent before every chunk went out once delays the whole
   * swarm); each disk still reads in order but for one wrap.
   */
  randomStart: boolean;
  /** Until this many chunks are verified, a chunk is picked at random, so that peers starting together diverge. */
  randomFirst: number;
  /** In a swarm, complete holders are asked for "any chunk of these" and pick the one they sent least. */
  holderChooses: boolean;
  /** First pause before asking a peer whose link failed; doubles per failure in a row. */
  retryMs: number;
  maxRetryMs: number;
  /** Pause before asking again a holder that said it is busy, give or take half of it at random. */
  busyRetryMs: number;
  /**
   * A partial holder's availability only grows while it downloads, so "not yet" for a chunk it
   * said it has is a contradiction; after this many it is treated as a liar and not asked again.
   */
  maxContradictions: number;
}

export const DEFAULT_LIMITS: SchedulerLimits = {
  inFlightPerPeer: 4,
  swarmInFlightPerPeer: 1,
  inFlight: 16,
  endgameAfterMs: 750,
  randomStart: true,
  randomFirst: 4,
  holderChooses: true,
  retryMs: 500,
  maxRetryMs: 8_000,
  busyRetryMs: 250,
  maxContradictions: 3,
};
