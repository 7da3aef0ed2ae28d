// Fair turns for serving chunks: requesters are served round-robin, every chunk paced by --upload-limit.

import { P2PError } from "../../protocol/errors";
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

export interface UploadTurn {
  /** Who asked: requests of one requester are served in order, requesters in turn. */
  requester: string;
  bytes: number;
  /** Aborted when the requester hangs up: its queued requests are dropped, not served to nobody. */
  signal?: AbortSignal;
}

/**
 * A holder with eight downloaders and a 10 MB/s uplink must not serve them first-come: with four
 * requests pipelined each, whoever connected first would be served over and over while the last
 * one starves. Each requester has its own queue; turns go round the requesters that are waiting.
 */
export class UploadQueue {
  private readonly limiter: RateLimiter;
  private readonly maxConcurrent: number;
  private readonly maxWaiting: number;
  private waitingCount = 0;
  /** Requesters with something waiting, in the order their next turn comes. */
  private readonly rotation: string[] = [];
  private readonly waiting = new Map<string, Array<Waiter>>();
  private active = 0;

  constructor(limiter: RateLimiter, options: { maxConcurrent?: number; maxWaiting?: number } = {}) {
    this.limiter = limiter;
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? MAX_CONCURRENT_CHUNK_READS);
    this.maxWaiting = Math.max(0, options.maxWaiting ?? MAX_WAITING_CHUNK_REQUESTS);
  }

  /** Runs `task` (which reads the chunk) in `turn`'s requester's turn, after the rate limit allows its bytes. */
  serve<T>(turn: UploadTurn, task: () => Promise<T>): Promise<T> {
    if (turn.signal?.aborted) return Promise.reject(cancelled(turn.requester));
    if (this.active >= this.maxConcurrent && this.waitingCount >= this.maxWaiting) {
      return Promise.reject(new P2PError("UNAVAILABLE", `busy: ${this.waitingCount} chunk requests are waiting here; ask another holder or try again shortly`));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: async () => {
          try {
            await this.limiter.take(turn.bytes, turn.signal);
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
      let queue = this.waiting.get(turn.requester);
      if (!queue) {
        this.waiting.set(turn.requester, (queue = []));
        this.rotation.push(turn.requester);
      }
      queue.push(waiter);
      this.waitingCount++;
      this.next();
    });
  }

  private next(): void {
    while (this.active < this.maxConcurrent && this.rotation.length > 0) {
      const requester = this.rotation.shift()!;
      const queue = this.waiting.get(requester)!;
      const waiter = queue.shift()!;
      if (queue.length > 0) this.rotation.push(requester);
      else this.waiting.delete(requester);
      this.waitingCount--;
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      this.active++;
      waiter.start().then(waiter.resolve, waiter.reject).finally(() => {
        this.active--;
        this.next();
      });
    }
  }

  private drop(requester: string, waiter: Waiter): void {
    const queue = this.waiting.get(requester);
    const at = queue?.indexOf(waiter) ?? -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    this.waitingCount--;
    if (queue.length === 0) {
      this.waiting.delete(requester);
      const slot = this.rotation.indexOf(requester);
      if (slot >= 0) this.rotation.splice(slot, 1);
    }
    waiter.reject(cancelled(requester));
  }
}

interface Waiter {
  start: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  onAbort: () => void;
  signal?: AbortSignal;
}

function cancelled(requester: string): P2PError {
  return new P2PError("CLOSED", `${requester} hung up before its chunk was served`);
}
