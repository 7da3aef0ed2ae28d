// A relay's circuit: two connections spliced into one byte pipe, both directions, backpressure kept, each direction capped.

import type { FramedConnection } from "./connection";
import { P2PError } from "./errors";

/** Bytes one end may have queued for its socket before the other end stops being read (TCP backpressure across the relay). */
export const SPLICE_HIGH_WATER_BYTES = 1024 * 1024;

export interface SpliceLimits {
  /** Bytes each direction may carry; the circuit is cut when one goes past it. */
  maxBytesPerDirection: number;
  /** How long the circuit may live, however busy. */
  maxLifetimeMs: number;
}

export interface Splice {
  /** Bytes carried so far, a to b and b to a. */
  readonly carried: { aToB: number; bToA: number };
  /** Resolves once both ends are closed, with why the circuit ended (null: one side hung up). */
  readonly ended: Promise<P2PError | null>;
}

export type SpliceEnd = Pick<FramedConnection<unknown>, "divert" | "write" | "pendingBytes" | "pauseReading" | "resumeReading" | "end" | "destroy" | "whenClosed" | "isClosed">;

/**
 * Joins `a` and `b`: what either reads is written to the other as it is. A reader is paused while its
 * partner has more than SPLICE_HIGH_WATER_BYTES queued, and resumed when that drains. Either side closing
 * ends the other once its queue is sent; a cap or the lifetime cuts both at once.
 */
export function splice(a: SpliceEnd, b: SpliceEnd, limits: SpliceLimits): Splice {
  const carried = { aToB: 0, bToA: 0 };
  let reason: P2PError | null = null;
  const cut = (why: P2PError) => {
    reason ??= why;
    a.destroy(why);
    b.destroy(why);
  };
  const pipe = (from: SpliceEnd, to: SpliceEnd, direction: "aToB" | "bToA") => {
    from.divert({
      data: (chunk) => {
        carried[direction] += chunk.length;
        if (carried[direction] > limits.maxBytesPerDirection) {
          cut(new P2PError("UNAVAILABLE", `the circuit carried more than ${limits.maxBytesPerDirection} bytes one way (the relay's cap)`));
          return;
        }
        // The sink's chunk may be reused by the socket after this call.
        to.write([chunk.slice()]);
        if (to.pendingBytes > SPLICE_HIGH_WATER_BYTES) from.pauseReading();
      },
      drained: () => {
        // `from`'s socket drained: its partner may read again.
        if (from.pendingBytes <= SPLICE_HIGH_WATER_BYTES) to.resumeReading();
      },
    });
  };
  pipe(a, b, "aToB");
  pipe(b, a, "bToA");
  const lifetime = setTimeout(() => cut(new P2PError("TIMEOUT", `the circuit reached its lifetime of ${limits.maxLifetimeMs} ms (the relay's cap)`)), limits.maxLifetimeMs);
  lifetime.unref?.();
  void a.whenClosed.then(() => b.end());
  void b.whenClosed.then(() => a.end());
  const ended = Promise.all([a.whenClosed, b.whenClosed]).then(() => {
    clearTimeout(lifetime);
    return reason;
  });
  return { carried, ended };
}
