// A token bucket for --upload-limit: chunks leave no faster than the limit, averaged over about a second.

/** The bucket holds at most this many seconds of traffic, so an idle node cannot burst far past its limit. */
const BURST_SECONDS = 0.25;

export class RateLimiter {
  private readonly bytesPerSecond: number;
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  /** `bytesPerSecond` of 0 or less means unlimited. */
  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
    this.tokens = 0;
    this.last = performance.now();
  }

  get limited(): boolean {
    return this.bytesPerSecond > 0;
  }

  /**
   * Resolves when `bytes` may be sent; callers are served in order. Rejects with `signal`'s reason
   * if it aborts first, and gives the bytes back: a requester that hung up costs nobody else time.
   */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (!this.limited) return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
    const turn = this.queue.then(() => this.wait(bytes, signal));
    this.queue = turn.catch(() => {}); // one caller's abort does not break the line behind it
    return turn;
  }

  private async wait(bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const delayMs = (-this.tokens / this.bytesPerSecond) * 1000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, delayMs);
      const onAbort = () => {
        clearTimeout(timer);
        this.refill();
        this.tokens += bytes;
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.bytesPerSecond * BURST_SECONDS, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
