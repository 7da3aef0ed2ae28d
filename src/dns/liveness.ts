// Whether something still listens at a peer's address: the introducer's connect-back before it believes a peer is gone.

/** How long a connect-back waits for the peer's address to accept a connection. */
export const LIVENESS_PROBE_TIMEOUT_MS = 2_000;
/** Most connect-backs in flight at once; past it a LEAVE or contested JOIN is answered 503 (retry later). */
export const MAX_LIVENESS_PROBES = 32;

/**
 * Connects to `ip:port` and resolves true if the connection opens, false if it is refused, fails or does
 * not open within `timeoutMs`. Nothing is sent: an open port is what a live node looks like from outside.
 */
export function isListening(ip: string, port: number, timeoutMs = LIVENESS_PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (alive: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(alive);
    };
    const timer = setTimeout(() => settle(false), timeoutMs);
    Bun.connect({
      hostname: ip,
      port,
      socket: {
        open(socket) {
          settle(true);
          socket.end();
        },
        data() {},
        connectError() {
          settle(false);
        },
        error() {
          settle(false);
        },
      },
    }).then(
      (socket) => {
        // A connection that opened after the timeout is closed at once.
        if (settled) socket.end();
      },
      () => settle(false),
    );
  });
}
