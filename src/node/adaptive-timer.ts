// Runs a periodic task on an AdaptivePeriod with the node's timers: longer waits while each run reports calm, the fast period again after a change.

import type { AdaptivePeriod } from "./ring/adaptive-period";
import type { Cancel, TimerSet } from "./timers";

export class AdaptiveTimer {
  private cancel: Cancel | null = null;
  private dueAt = 0;

  /** `task` resolves with the reason the run saw a change, or null when it saw none. */
  constructor(
    private readonly timers: TimerSet,
    private readonly clock: () => number,
    readonly period: AdaptivePeriod,
    private readonly task: () => Promise<string | null>,
  ) {
    period.onSnapBack(() => this.soon());
  }

  /** The first run one period from now. */
  start(): void {
    this.schedule(this.period.current());
  }

  /** A change seen elsewhere: back to the fast period, and a run due later than that comes sooner. */
  disturbed(reason: string): void {
    this.period.disturbed(reason);
  }

  private soon(): void {
    if (this.cancel !== null && this.dueAt - this.clock() > this.period.fast) this.schedule(this.period.fast);
  }

  private schedule(delayMs: number): void {
    this.cancel?.();
    this.dueAt = this.clock() + delayMs;
    this.cancel = this.timers.after(delayMs, () => {
      this.cancel = null;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    const change = await this.task();
    if (change === null) this.period.calm();
    else this.period.disturbed(change);
    if (!this.timers.isStopped && this.cancel === null) this.schedule(this.period.current());
  }
}
