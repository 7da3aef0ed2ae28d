// What a framed connection tells its owner, and the timeouts it enforces: the contract between it and a client or server session.

import type { P2PError } from "./errors";
import type { Frame } from "./frame";

export interface ConnectionEvents<Head> {
  /** Called once per complete frame, in arrival order. */
  frame(frame: Frame<Head>): void;
  /** The stream broke a protocol rule; the connection should answer 422 and close. */
  malformed(error: P2PError): void;
  /** Called once when the connection is gone, whatever the reason. */
  closed(reason: P2PError | null): void;
  /** Called when bytes arrive, before they are decoded (a reply trickling in is progress). */
  received?(): void;
  /** Called when the kernel took queued bytes after a `drain`. */
  drained?(): void;
}

export interface ConnectionTimeouts {
  /** Closed when nothing moves either way (no byte read, no byte taken by the kernel) for this long. */
  idleTimeoutMs: number;
  /** Closed when no complete frame has arrived this long after opening (a server's slowloris guard). */
  firstFrameTimeoutMs?: number;
  /**
   * Replaces `idleTimeoutMs` while the connection is quiet: its owner has nothing under way (`busy` says false),
   * no frame is half-read and nothing waits to be sent. A link kept for reuse. Absent: `idleTimeoutMs` always.
   */
  quietTimeoutMs?: number;
  busy?: () => boolean;
}

/** How long `timeouts` let a connection stay silent now: the quiet timeout while nothing is under way on it. */
export function silenceLimitMs(timeouts: ConnectionTimeouts, nothingQueuedOrHalfRead: boolean): number {
  const quiet = timeouts.quietTimeoutMs !== undefined && nothingQueuedOrHalfRead && !(timeouts.busy?.() ?? false);
  return quiet ? Math.max(timeouts.idleTimeoutMs, timeouts.quietTimeoutMs!) : timeouts.idleTimeoutMs;
}
