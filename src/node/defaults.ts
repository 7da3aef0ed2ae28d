// A node's defaults and options in one place: ports (from src/protocol/address.ts), timeouts, intervals and table sizes.

export { DNS_PORT, PEER_PORT } from "../protocol/address";

export const DEFAULT_SUCCESSORS = 4;
export const DEFAULT_REPLICAS = 3;
export const DEFAULT_STABILIZE_MS = 500;
/** The longest wait between ring maintenance rounds while nothing changes (--stabilize-max); the fast one is --stabilize. */
export const DEFAULT_STABILIZE_MAX_MS = 30_000;
export const DEFAULT_HEARTBEAT_MS = 20_000;
/**
 * DNS heartbeats back off too, to this many times --heartbeat and never past MAX_CALM_HEARTBEAT_MS: a node
 * must stay listed under the DNS's default 60 s TTL (a --heartbeat above 40 s therefore does not back off).
 */
export const HEARTBEAT_BACKOFF_LIMIT = 2;
export const MAX_CALM_HEARTBEAT_MS = 40_000;

/** The longest wait between heartbeats while nothing changes, for a fast period of `heartbeatMs`. */
export function calmHeartbeatMs(heartbeatMs: number): number {
  return Math.max(heartbeatMs, Math.min(HEARTBEAT_BACKOFF_LIMIT * heartbeatMs, MAX_CALM_HEARTBEAT_MS));
}
/** How long a peer may stay silent while a ring call's reply is due. */
export const DEFAULT_RPC_TIMEOUT_MS = 2_000;
/** How long a DNS may take to answer JOIN or LEAVE. */
export const DEFAULT_DNS_TIMEOUT_MS = 3_000;
/** First wait before asking the DNS again or retrying a join; it doubles each round. */
export const DEFAULT_RETRY_MS = 500;
/** Longest wait between two attempts to reach the DNS or join the ring. */
export const MAX_RETRY_DELAY_MS = 10_000;
/** The node gives up joining after this many rounds of asking the DNS (about ten minutes with backoff). */
export const MAX_JOIN_ROUNDS = 80;
/**
 * A node announces its files as soon as it joins, while the ring may still route by tables that
 * predate it; it announces once more after this long, when its neighbours have caught up.
 */
export const REANNOUNCE_AFTER_JOIN_MS = 5_000;
/** known-peers.json is saved on joining, and again this long after, when the tables have filled; then at every heartbeat. */
export const RESAVE_KNOWN_PEERS_AFTER_JOIN_MS = 5_000;
/**
 * Join rounds in a row in which every peer listed (and known) was dead before a node founds a ring of
 * its own: a DNS flooded with dead entries must not cut a newcomer off (it hands out confirmed peers first).
 */
export const ALL_DEAD_ROUNDS_BEFORE_FOUNDING = 3;
/** Known peers tried per join round, nearest first: each dead one can cost an RPC timeout. */
export const MAX_KNOWN_PEERS_PER_JOIN = 8;

export interface NodeOptions {
  ip: string;
  port?: number;
  /**
   * `--also`: this host's address in the other family (IPv6 beside IPv4, or the reverse). The node listens there
   * too and registers it with the DNS, so that nodes of only that family find it as a relay; its ring address stays `ip`.
   */
  also?: string;
  /** `--advertise`: the address the world reaches this node at (a manual port forward); the dial-back checks it. Default: ip and port. */
  advertise?: { ip: string; port: number };
  /** The introducer, or several: the node registers with every one that answers and joins the union of their peers. */
  dns: { hostname: string; port: number } | readonly { hostname: string; port: number }[];
  /** Holds node.sock, records.db, catalog.db, identity.pem and known-peers.json; created with mode 0700. */
  dataDir: string;
  successors?: number;
  replicas?: number;
  /** Ring maintenance while the ring changes (--stabilize). */
  stabilizeMs?: number;
  /** The longest wait between maintenance rounds while nothing changes (--stabilize-max). */
  stabilizeMaxMs?: number;
  heartbeatMs?: number;
  rpcTimeoutMs?: number;
  /** First retry delay when the DNS is down or no peer lets us in; doubles up to MAX_RETRY_DELAY_MS. */
  retryMs?: number;
  /** Cap on the bytes per second this node serves to peers; 0 or absent: no cap. */
  uploadLimitBytesPerSecond?: number;
  /** Cap on the bytes per second this node fetches, all downloads together; 0 or absent: no cap. */
  downloadLimitBytesPerSecond?: number;
  /** Downloads at once; the rest wait queued. 0 or absent: no limit. */
  maxActiveDownloads?: number;
  /** How often shared files are re-announced (their entries expire after twice this). */
  announceIntervalMs?: number;
  /** Private network (--key): every TCP link, to peers and to the DNS, runs the Noise handshake with this key. */
  networkKey?: Uint8Array;
  /** `--edge`: join as an edge node, reached through a relay; no peer port is listened on. */
  edge?: boolean;
  /** `--relay-limit`: reservations this node holds for edge nodes as a ring member; 0 relays nothing. Default DEFAULT_RELAY_LIMIT. */
  relayLimit?: number;
}
