// The swarm simulation's vocabulary (src/node/files/swarm/simulation.ts): its options and results, its nodes, and a holder's uplink.

import { FairTurns } from "../fair-turns";
import type { Bitfield } from "../../../model/bitfield";
import type { ChunkScheduler, SchedulerLimits } from "./scheduler";

export interface SwarmSimOptions {
  downloaders: number;
  chunks: number;
  /** Nominal size of a chunk: what its transfer costs on an uplink. */
  chunkBytes: number;
  /** Every node's upload limit. */
  uplinkBytesPerSecond: number;
  /** One-way delay of every message. */
  latencyMs?: number;
  /** Each message's delay varies by up to this fraction of `latencyMs`, either way (default 0.5; 0: every delay exact). */
  jitter?: number;
  /** How often a downloader re-reads the ring's holder list (default: as a download does), finding partial holders that announced since. */
  refreshMs?: number | ((elapsedMs: number) => number);
  /** Partial holders that claim every chunk and send wrong bytes. */
  liars?: number;
  /** Downloaders that start this long after the others. */
  late?: { count: number; afterMs: number };
  seed?: number;
  limits?: Partial<SchedulerLimits>;
  /** Virtual time after which the simulation gives up. */
  maxMs?: number;
  /** Requests that wait for a holder's turn; past it, it answers "busy" at once (or makes room, as FairTurns does). */
  maxWaiting?: number;
}

export interface SwarmSimResult {
  /** Per downloader: virtual milliseconds from its own start to its last verified chunk; null if it never finished. */
  finishMs: (number | null)[];
  startMs: number[];
  /** F/X: the time the seeder needs to send the file once. */
  idealMs: number;
  /** Chunks the seeder sent (the file once is `chunks`). */
  seederChunksSent: number;
  /** Chunks that arrived with wrong bytes: rejected by verification, never stored. */
  rejectedChunks: number;
  /** Where the time went, for the benchmark. */
  profile: SwarmSimProfile;
}

export interface SwarmSimProfile {
  /** When the seeder had sent every chunk at least once (null: never). */
  seederAllSentMs: number | null;
  /** Copies the seeder sent of chunks it had already sent, while some chunk was still unsent. */
  seederEarlyDuplicates: number;
  /** Time the seeder's uplink was idle before the last download finished. */
  seederIdleMs: number;
  /** Downloaders' uplinks: busy time over (downloaders × time to the last finish). */
  downloaderUplinkUse: number;
  /** Answers "busy" (queue full) and "not yet". */
  busyAnswers: number;
  notYetAnswers: number;
  /** Simulated events. */
  events: number;
}

export interface SimNode {
  id: number;
  address: string;
  kind: "seeder" | "downloader" | "liar";
  startMs: number;
  scheduler: ChunkScheduler | null;
  have: Bitfield;
  /** Announced on the ring (first chunk stored), and when. */
  announcedAt: number | null;
  complete: boolean;
  finishedAt: number | null;
  /** Peers whose HAVE updates reach this node. */
  following: Set<number>;
  followers: Set<number>;
  uplink: Uplink;
  wakeAt: number | null;
  /** How often this node sent each chunk. */
  sent: Uint32Array;
  /** Time its uplink spent sending (a send under way at the end counts in full). */
  uplinkBusyMs: number;
}

export interface PendingRequest {
  from: number;
  /** null: the holder picks among `wanted`. */
  index: number | null;
  wanted?: Bitfield;
}

// A holder's uplink as its UploadQueue runs it: up to MAX_CONCURRENT_CHUNK_READS requests taken
// (the first on the wire, the others paced behind it) and MAX_WAITING_CHUNK_REQUESTS waiting their
// turn in FairTurns, at most MAX_WAITING_BEHIND_OTHERS behind another requester's.
export class Uplink {
  sending = false;
  readonly taken: Array<{ request: PendingRequest; index: number }> = [];
  readonly turns = new FairTurns<PendingRequest>();
}

/** The holder's choice: of the chunks wanted that it has, the one it sent least (random among equals). */
export function leastSent(holder: SimNode, wanted: Bitfield, random: () => number): number | null {
  let best: number | null = null;
  let ties = 0;
  for (const index of wanted.indices()) {
    if (!holder.have.has(index)) continue;
    if (best === null || holder.sent[index]! < holder.sent[best]!) {
      best = index;
      ties = 1;
    } else if (holder.sent[index] === holder.sent[best]) {
      ties++;
      if (random() * ties < 1) best = index;
    }
  }
  return best;
}
