// When a node announces its shared files: on joining, once more when the ring's tables have caught up with it, then every interval.

import { log } from "../log";
import { REANNOUNCE_AFTER_JOIN_MS } from "./defaults";
import type { FileSharing } from "./files/sharing";
import { TimerSet, type Timers } from "./timers";

export class AnnounceSchedule {
  private readonly timers: TimerSet;

  constructor(
    private readonly sharing: Pick<FileSharing, "refreshAll" | "interval">,
    timers: Timers,
  ) {
    this.timers = new TimerSet(timers);
  }

  /** Files shared before a restart are announced again now, then on every interval. */
  start(): void {
    this.announce();
    this.timers.after(Math.min(REANNOUNCE_AFTER_JOIN_MS, this.sharing.interval), () => this.announce());
    this.timers.every(this.sharing.interval, () => this.announce());
  }

  /** Re-announces every shared file (now, and whenever the node's place in the ring changed). */
  announce(): void {
    if (this.timers.isStopped) return;
    void this.sharing.refreshAll().catch((error) => log.warn(`re-announcing shared files failed: ${error.message}`));
  }

  stop(): void {
    this.timers.stop();
  }
}
