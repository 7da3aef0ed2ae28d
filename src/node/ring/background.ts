// Work a ring node starts without waiting for it (pushes, hand-overs), tracked so `idle()` can wait for it.

import { isP2PError } from "../../protocol/errors";

/** Bound on waiting for background work that keeps spawning more. */
const MAX_IDLE_WAITS = 1000;

export class BackgroundWork {
  private readonly pending = new Set<Promise<void>>();
  private readonly onError: (error: unknown) => void;

  /** `onError` sees failures other than a peer's P2PError (those are expected on a ring). */
  constructor(onError: (error: unknown) => void) {
    this.onError = onError;
  }

  /** Starts `task` now; it runs on its own. */
  start(task: () => Promise<unknown>): void {
    const running: Promise<void> = task().then(
      () => undefined,
      (error: unknown) => {
        if (!isP2PError(error)) this.onError(error);
      },
    );
    this.pending.add(running);
    void running.finally(() => this.pending.delete(running));
  }

  /** For failures of work the node runs on its own timer (maintenance rounds). */
  reportError(error: unknown): void {
    this.onError(error);
  }

  /** Resolves when every task (and the tasks they started) has finished. */
  async idle(): Promise<void> {
    for (let wait = 0; wait < MAX_IDLE_WAITS && this.pending.size > 0; wait++) {
      await Promise.all(this.pending);
    }
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }
}
