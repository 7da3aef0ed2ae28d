// Runs a ring node's upkeep on its adaptive period: the next round after `current()`, cut short when a change snaps the period back.

import type { AdaptivePeriod } from "./adaptive-period";

/** The one timer the loop needs; injected so a test can move time by hand. */
export type LoopTimers = { after(ms: number, task: () => void): () => void };

export const realLoopTimers: LoopTimers = {
  after(ms, task) {
    const timer = setTimeout(task, ms);
    return () => clearTimeout(timer);
  },
};

/**
 * A round that starts this much later than it was due means the process was stopped (SIGSTOP, a laptop's
 * sleep, a VM paused) rather than busy: the ring may have moved on meanwhile, so the period snaps back
 * instead of waiting up to its maximum to find out.
 */
export const LATE_ROUND_MS = 5_000;

export type LoopOptions = {
  period: AdaptivePeriod;
  /** One round of upkeep (it reports calm or change to the period itself). */
  round: () => Promise<void>;
  timers: LoopTimers;
  clock: () => number;
  /** Spreads each wait by ±10 %, so nodes started together do not call each other in step. */
  random: () => number;
  onError: (error: unknown) => void;
};

export class MaintenanceLoop {
  private cancel: (() => void) | null = null;
  private active = false;
  private running = false;
  /** When the pending round is due (the injected clock). */
  private dueAt = 0;

  constructor(private readonly options: LoopOptions) {
    // A change while waiting out a long period: the next round comes within the fast period, not at the old time.
    options.period.onSnapBack(() => this.soon());
  }

  /**
   * The next round within the fast period, the period itself unchanged: for a hint that may be nothing
   * (a link closed, perhaps only idle). The round decides; a real change then snaps the period back.
   */
  soon(): void {
    if (!this.active || this.running || this.cancel === null) return;
    if (this.dueAt - this.options.clock() > this.options.period.fast) this.schedule(this.options.period.fast);
  }

  /** Starts the rounds, the first one fast period from now; `fastMs` is --stabilize, `maxMs` the longest wait. */
  start(fastMs: number, maxMs: number): void {
    if (this.active) return;
    this.active = true;
    this.options.period.setBounds(fastMs, maxMs);
    this.schedule();
  }

  stop(): void {
    this.active = false;
    this.cancel?.();
    this.cancel = null;
  }

  get isActive(): boolean {
    return this.active;
  }

  private schedule(periodMs = this.options.period.current()): void {
    this.cancel?.();
    const { random, timers, clock } = this.options;
    const delay = periodMs * (0.9 + 0.2 * random());
    this.dueAt = clock() + delay;
    this.cancel = timers.after(delay, () => void this.run());
  }

  private async run(): Promise<void> {
    this.cancel = null;
    this.running = true;
    const lateMs = this.options.clock() - this.dueAt;
    if (lateMs >= LATE_ROUND_MS) this.options.period.disturbed(`its round came ${Math.round(lateMs / 1000)} s late (the process was stopped or asleep)`);
    try {
      await this.options.round();
    } catch (error) {
      this.options.onError(error);
    } finally {
      this.running = false;
    }
    // stop() during the round: do not schedule again.
    if (this.active) this.schedule();
  }
}

/**
 * Tells the period whether a round (or a call received between rounds) changed the ring as this node
 * sees it: its predecessor, successor list or fingers. `shape` renders them as one comparable string.
 */
export class ChangeWatch {
  private last: string;

  constructor(
    private readonly period: AdaptivePeriod,
    private readonly shape: () => string,
  ) {
    this.last = shape();
  }

  /** Snaps the period back when the tables changed since last looked at. */
  check(reason: string): void {
    const now = this.shape();
    if (now === this.last) return;
    this.last = now;
    this.period.disturbed(reason);
  }

  /** A round ended: calm when nothing changed and nothing disturbed the period since `generation` was read at its start. */
  roundDone(generation: number): void {
    this.check("its tables changed");
    if (this.period.generation === generation) this.period.calm();
  }
}
