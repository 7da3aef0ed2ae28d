// Fair turns for serving chunks: requesters are served round-robin, every chunk paced by --upload-limit.

import { P2PError } from "../../protocol/errors";
import { FairTurns } from "./fair-turns";
import type { RateLimiter } from "./rate-limiter";

/**
 * Chunks read and paced at once. Small on purpose: requests waiting here hold no bytes, and the
 * order in which they leave this queue is the order the uplink serves them, so a deep pipeline
 * would let whoever asked first take the whole uplink again.
 */
export const MAX_CONCURRENT_CHUNK_READS = 2;
/**
 * Requests that wait for a turn, in all. Past it a request is answered "busy" at once: in a swarm
 * the requester asks another peer instead of queueing here behind a choice that goes stale.
 */
export const MAX_WAITING_CHUNK_REQUESTS = 2;
/**
 * A request waits only while fewer than this many requests of other requesters wait; past it, it
 * is answered "busy" (or takes the place of a requester served more: FairTurns). One downloader
 * alone still pipelines its 4 requests, but in a swarm, where each downloader asks each peer for
 * one chunk at a time, a request does not sit behind others while another holder of its chunk idles.
 */
export const MAX_WAITING_BEHIND_OTHERS = 1;

export interface UploadTurn {
  /** Who asked: requests of one requester are served in order, requesters in turn. */
  requester: string;
  /** What the turn sends; a function is called when the turn comes (a chunk the holder chooses then). */
  bytes: number | (() => number);
  /** Aborted when the requester hangs up: its queued requests are dropped, not served to nobody. */
  signal?: AbortSignal;
}

/**
 * A holder with eight downloaders and a 10 MB/s uplink must not serve them first-come: with four
 * requests pipelined each, whoever connected first would be served over and over while the last
 * one starves. Each requester has its own queue; turns go round the requesters that are waiting,
 * and a full queue makes room for a requester served less than one waiting (FairTurns).
 */
export class UploadQueue {
  private readonly limiter: RateLimiter;
  private readonly maxConcurrent: number;
  private readonly maxWaiting: number;
  private readonly maxBehindOthers: number;
  private readonly turns = new FairTurns<Waiter>();
  private active = 0;

  constructor(limiter: RateLimiter, options: { maxConcurrent?: number; maxWaiting?: number; maxWaitingBehindOthers?: number } = {}) {
    this.limiter = limiter;
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? MAX_CONCURRENT_CHUNK_READS);
    this.maxWaiting = Math.max(0, options.maxWaiting ?? MAX_WAITING_CHUNK_REQUESTS);
    this.maxBehindOthers = Math.max(0, options.maxWaitingBehindOthers ?? MAX_WAITING_BEHIND_OTHERS);
  }

  /** Runs `task` (which reads the chunk) in `turn`'s requester's turn, after the rate limit allows its bytes. */
  serve<T>(turn: UploadTurn, task: () => Promise<T>): Promise<T> {
    if (turn.signal?.aborted) return Promise.reject(cancelled(turn.requester));
    if (this.active >= this.maxConcurrent && this.isFullFor(turn.requester)) {
      const evicted = this.turns.evictFor(turn.requester);
      if (!evicted) return Promise.reject(busy(this.turns.size));
      evicted.item.signal?.removeEventListener("abort", evicted.item.onAbort);
      evicted.item.reject(busy(this.turns.size + 1));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: async () => {
          try {
            await this.limiter.take(typeof turn.bytes === "number" ? turn.bytes : turn.bytes(), turn.signal);
          } catch (error) {
            throw turn.signal?.aborted ? cancelled(turn.requester) : error;
          }
          return task();
        },
        resolve: resolve as (value: unknown) => void,
        reject,
        onAbort: () => this.drop(turn.requester, waiter),
      };
      turn.signal?.addEventListener("abort", waiter.onAbort, { once: true });
      waiter.signal = turn.signal;
      this.turns.push(turn.requester, waiter);
      this.next();
    });
  }

  private isFullFor(requester: string): boolean {
    return this.turns.size >= this.maxWaiting || this.turns.size - this.turns.waitingOf(requester) >= this.maxBehindOthers;
  }

  private next(): void {
    while (this.active < this.maxConcurrent) {
      const turn = this.turns.next();
      if (!turn) return;
      const waiter = turn.item;
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      this.active++;
      waiter.start().then(waiter.resolve, waiter.reject).finally(() => {
        this.active--;
        this.next();
      });
    }
  }

  private drop(requester: string, waiter: Waiter): void {
    if (this.turns.remove(requester, waiter)) waiter.reject(cancelled(requester));
  }
}

interface Waiter {
  start: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  onAbort: () => void;
  signal?: AbortSignal;
}

function busy(waiting: number): P2PError {
  return new P2PError("UNAVAILABLE", `busy: ${waiting} chunk requests are waiting here; ask another holder or try again shortly`);
}

function cancelled(requester: string): P2PError {
  return new P2PError("CLOSED", `${requester} hung up before its chunk was served`);
}
