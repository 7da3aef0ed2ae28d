// Hard limits of the wire protocol: every link enforces them, and a peer that exceeds one gets 422 and is cut off.

/** Longest request or response line, terminator included. */
export const MAX_LINE_BYTES = 8 * 1024;

/** Most arguments after the op name in one request. */
export const MAX_ARGS = 16;

/** Largest body one frame may carry (a 1 MiB chunk plus headroom). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Requests a peer may have outstanding on one connection before it is cut off. */
export const MAX_PIPELINED_REQUESTS = 64;

/**
 * Reply bytes a server holds for one connection that the peer has not read yet (queued for the socket, or
 * finished but waiting for an earlier reply). Past it the server starts no more of that connection's requests
 * and stops reading from it, so a peer that pipelines and never reads costs a bounded amount of memory.
 */
export const MAX_QUEUED_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * Request bodies one connection may have waiting for a handler (beyond the one being read); past it the
 * server stops reading from it until they start, so pipelined big bodies cost a bounded amount too.
 */
export const MAX_QUEUED_REQUEST_BYTES = 4 * 1024 * 1024;

/** Handlers one connection may have running at once; its further requests wait their turn. */
export const MAX_CONCURRENT_REQUESTS_PER_CONNECTION = 2;

/** Connections one server holds at once; past it a new connection evicts the least useful one. */
export const MAX_CONNECTIONS = 1024;

/**
 * Connections one remote address may hold on one server; the next one is told 503 and closed.
 * Unix-socket clients and 127.0.0.1 (the source of every loopback connection a machine makes to itself,
 * so a local testnet's nodes all share it) are exempt.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;

/** A new connection must deliver its first complete request within this long, or it is closed. */
export const FIRST_REQUEST_TIMEOUT_MS = 10_000;

/**
 * A connection with no traffic either way for this long is closed (also catches a frame that stalls half-sent).
 * The environment variable P2P_IDLE_TIMEOUT_SECONDS overrides it, so tests can watch a long op outlive a short one.
 */
export const IDLE_TIMEOUT_SECONDS = secondsFromEnv("P2P_IDLE_TIMEOUT_SECONDS", 60);

/**
 * A connection with nothing under way (no request waiting for its reply or being answered, no frame half-read,
 * nothing queued) is kept this long after its last byte, and only then closed as idle: ring members reuse their
 * links for the next lookup or check instead of opening new ones (a node at rest: about 15 connections a minute
 * with 60 s, 4 with 300 s; BENCHMARKS, *Ring at rest*). Anything under way still times out after
 * IDLE_TIMEOUT_SECONDS. Never shorter than that; P2P_QUIET_LINK_SECONDS overrides it.
 */
export const QUIET_LINK_TIMEOUT_SECONDS = Math.max(IDLE_TIMEOUT_SECONDS, secondsFromEnv("P2P_QUIET_LINK_SECONDS", 300));

/** The quiet-link timeout for a connection with idle timeout `idleTimeoutMs`: a caller that chose an idle timeout of its own gets exactly that. */
export function quietTimeoutFor(idleTimeoutMs: number): number | undefined {
  return idleTimeoutMs === IDLE_TIMEOUT_SECONDS * 1000 ? QUIET_LINK_TIMEOUT_SECONDS * 1000 : undefined;
}

/**
 * While a request's handler runs and its reply is next on the connection, the server sends an interim
 * `202 IN PROGRESS 0` this often (or a third of the idle timeout, if that is shorter), so the caller knows
 * the request is waiting, not lost.
 */
export const KEEPALIVE_INTERVAL_MS = 5_000;

/**
 * How long a caller waits, with nothing at all arriving, for the reply it is next in line for.
 * Any byte of that reply or an interim 202 restarts the wait.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** How long a caller waits for a TCP or Unix connection to open. */
export const CONNECT_TIMEOUT_MS = 5_000;

function secondsFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 && value <= 86_400 ? value : fallback;
}

/**
 * Private network (--key): a new TCP connection must finish the Noise handshake within this long, or it is
 * closed. Three small messages and one confirmation record; on loopback they take well under a millisecond.
 */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/** Private network: the largest record on the wire, tag included (Noise's own message limit). */
export const MAX_RECORD_BYTES = 65_535;
