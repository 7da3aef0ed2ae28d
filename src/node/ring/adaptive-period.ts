// A period that backs off exponentially while nothing changes and snaps back to its fast value at any sign of change (adaptive stabilization).

/** Each calm round multiplies the period by this much, up to its maximum. */
export const BACKOFF_FACTOR = 2;
/**
 * Calm rounds in a row before the period first grows: a ring that is forming or repairing has lulls of a
 * round or two between changes, and backing off in them would slow what follows.
 */
export const CALM_ROUNDS_BEFORE_BACKOFF = 4;

export type AdaptivePeriodOptions = {
  /** The period while things change, and the one it snaps back to. */
  fastMs: number;
  /** The longest it grows to while nothing changes (raised to `fastMs` if below it). */
  maxMs: number;
  clock: () => number;
};

/**
 * Pure bookkeeping, no timers: whoever runs the periodic work asks `current()` for the next wait,
 * reports a round that saw no change with `calm()`, and any change with `disturbed(reason)`.
 * Listeners hear every disturbance, so a waiting timer can be cut short.
 */
export class AdaptivePeriod {
  private fastMs: number;
  private maxMs: number;
  private readonly clock: () => number;
  private periodMs: number;
  private disturbances = 0;
  private calmStreak = 0;
  private last: { reason: string; at: number } | null = null;
  private readonly listeners: ((reason: string) => void)[] = [];

  constructor(options: AdaptivePeriodOptions) {
    this.fastMs = positive(options.fastMs);
    this.maxMs = Math.max(this.fastMs, options.maxMs);
    this.clock = options.clock;
    this.periodMs = this.fastMs;
  }

  /** The wait before the next round. */
  current(): number {
    return this.periodMs;
  }

  get fast(): number {
    return this.fastMs;
  }

  get max(): number {
    return this.maxMs;
  }

  /** Whether the period has grown to its maximum. */
  get atMax(): boolean {
    return this.periodMs >= this.maxMs;
  }

  /** Counts disturbances: a round that starts and ends on the same count saw none. */
  get generation(): number {
    return this.disturbances;
  }

  /** The last disturbance and when (the injected clock) it happened. */
  get lastDisturbance(): { reason: string; at: number } | null {
    return this.last;
  }

  /** What STATUS shows of the last disturbance: its reason and how long before `now` it was. */
  lastChange(now: number): { reason: string; agoMs: number } | null {
    return this.last && { reason: this.last.reason, agoMs: Math.max(0, now - this.last.at) };
  }

  /** A round saw no change: after CALM_ROUNDS_BEFORE_BACKOFF in a row, each makes the next wait longer, up to the maximum. Returns it. */
  calm(): number {
    this.calmStreak++;
    if (this.calmStreak >= CALM_ROUNDS_BEFORE_BACKOFF) this.periodMs = Math.min(this.maxMs, this.periodMs * BACKOFF_FACTOR);
    return this.periodMs;
  }

  /** Something changed: back to the fast period, and every listener hears why. */
  disturbed(reason: string): void {
    this.disturbances++;
    this.last = { reason, at: this.clock() };
    this.calmStreak = 0;
    const wasSlow = this.periodMs > this.fastMs;
    this.periodMs = this.fastMs;
    if (wasSlow) for (const listener of this.listeners) listener(reason);
  }

  /** `listener` hears each disturbance that cut a grown period back to the fast one. */
  onSnapBack(listener: (reason: string) => void): void {
    this.listeners.push(listener);
  }

  /** New bounds (a node's --stabilize and maximum); the period starts again from the fast one. */
  setBounds(fastMs: number, maxMs: number): void {
    this.fastMs = positive(fastMs);
    this.maxMs = Math.max(this.fastMs, maxMs);
    this.periodMs = this.fastMs;
    this.calmStreak = 0;
  }
}

function positive(ms: number): number {
  if (!(Number.isFinite(ms) && ms > 0)) throw new RangeError(`a period must be a positive number of milliseconds, got ${ms}`);
  return ms;
}
