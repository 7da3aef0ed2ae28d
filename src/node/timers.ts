// The timers a node's long-running parts run on, passed in so a test can drive them by hand.

/** Stops a timer; calling it again, or after a one-shot timer fired, does nothing. */
export type Cancel = () => void;

export interface Timers {
  /** Runs `task` once, `ms` from now. */
  after(ms: number, task: () => void): Cancel;
  /** Runs `task` every `ms` until cancelled. */
  every(ms: number, task: () => void): Cancel;
}

/** The process's own timers. */
export const realTimers: Timers = {
  after(ms, task) {
    const timer = setTimeout(task, ms);
    return () => clearTimeout(timer);
  },
  every(ms, task) {
    const timer = setInterval(task, ms);
    return () => clearInterval(timer);
  },
};

/**
 * The timers one part started and has not seen end: `stop()` cancels every one of them, so a part
 * clears its timers in exactly one place, and no timer starts after it.
 */
export class TimerSet {
  private readonly live = new Set<Cancel>();
  private stopped = false;

  constructor(private readonly timers: Timers) {}

  /** Runs `task` once, `ms` from now; the cancel it returns also forgets the timer. */
  after(ms: number, task: () => void): Cancel {
    if (this.stopped) return () => {};
    const cancel = this.timers.after(ms, () => {
      this.live.delete(cancel);
      task();
    });
    this.live.add(cancel);
    return () => {
      cancel();
      this.live.delete(cancel);
    };
  }

  every(ms: number, task: () => void): void {
    if (this.stopped) return;
    this.live.add(this.timers.every(ms, task));
  }

  /** Whether `stop()` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const cancel of this.live) cancel();
    this.live.clear();
  }
}
