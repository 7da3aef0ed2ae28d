// Hard limits of the wire protocol: every link enforces them, and a peer that exceeds one gets 422 and is cut off.

/** Longest request or response line, terminator included. */
export const MAX_LINE_BYTES = 8 * 1024;

/** Most arguments after the op name in one request. */
export const MAX_ARGS = 16;

/** Largest body one frame may carry (a 1 MiB chunk plus headroom). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Requests a peer may have outstanding on one connection before it is cut off. */
export const MAX_PIPELINED_REQUESTS = 64;

/** Connections one server accepts at once; the next one is told 503 and closed. */
export const MAX_CONNECTIONS = 1024;

/** A connection with no traffic for this long is closed (also catches a frame that stalls half-sent). */
export const IDLE_TIMEOUT_SECONDS = 60;

/** How long a caller waits for a reply before giving up on the request and its connection. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** How long a caller waits for a TCP or Unix connection to open. */
export const CONNECT_TIMEOUT_MS = 5_000;
