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

  /** Resolves when `bytes` may be sent; callers are served in order. */
  take(bytes: number): Promise<void> {
    if (!this.limited) return Promise.resolve();
    const turn = this.queue.then(() => this.wait(bytes));
    this.queue = turn;
    return turn;
  }

  private async wait(bytes: number): Promise<void> {
    this.refill();
    this.tokens -= bytes;
    if (this.tokens < 0) await Bun.sleep((-this.tokens / this.bytesPerSecond) * 1000);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.bytesPerSecond * BURST_SECONDS, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
