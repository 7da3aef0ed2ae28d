// The P2P DNS: the introducer a new peer asks for a few live peers to join the ring through.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DNS_PORT, formatAddress } from "../protocol/address";
import { canonicalIp } from "../protocol/ip";
import { P2PError } from "../protocol/errors";
import { type OpTable, type ProtocolServer, serve } from "../protocol/server";
import type { Request } from "../protocol/ops";
import { DNS, type DnsJoinArgs, type DnsPeerRows } from "../wire/dns";
import { opTable, serveOp } from "../wire/op";
import { isListening, MAX_LIVENESS_PROBES } from "./liveness";
import { type PeerEntry, PeerStore } from "./peer-store";

/** How many peers a JOIN hands back, as in the original design. */
export const JOIN_SAMPLE_SIZE = 5;
export const DEFAULT_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 7 * 24 * 3600;

export interface IntroducerOptions {
  hostname?: string;
  port?: number;
  /** SQLite file; created with its schema on first start. */
  dbPath: string;
  /** A peer not heard from for this long is no longer handed out, then pruned. */
  ttlSeconds?: number;
  warn?: (message: string) => void;
  clock?: () => number;
  /** Private network: every connection must hold this key (src/protocol/secure-link.ts). */
  networkKey?: Uint8Array;
  /** Whether something listens at a peer's address (tests replace the connect-back). */
  probe?: (ip: string, port: number) => Promise<boolean>;
}

export interface Introducer {
  /** Resolves once listening; rejects with a P2PError (address in use, bad database path). */
  ready(): Promise<void>;
  /** `ip:port` it listens on (port 0 becomes the real one after ready()). */
  readonly address: string;
  close(): Promise<void>;
}

export function createIntroducer(options: IntroducerOptions): Introducer {
  const hostname = options.hostname ?? "0.0.0.0";
  const port = options.port ?? DNS_PORT;
  const ttlMs = (options.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
  const clock = options.clock ?? Date.now;
  let store: PeerStore | null = null;
  let server: ProtocolServer | null = null;
  let pruneTimer: ReturnType<typeof setInterval> | undefined;
  let starting: Promise<void> | null = null;

  const liveSince = () => clock() - ttlMs;

  async function start(): Promise<void> {
    store = openStore(options.dbPath);
    const peers = store;
    try {
      server = await serve({ listen: { hostname, port }, ops: introducerOps(peers, liveSince, clock, options.probe ?? isListening), warn: options.warn, networkKey: options.networkKey });
    } catch (error) {
      peers.close();
      store = null;
      throw error;
    }
    // Queries already ignore expired peers; pruning only keeps the file small.
    pruneTimer = setInterval(() => peers.prune(liveSince()), Math.max(1000, ttlMs / 2));
  }

  return {
    ready() {
      starting ??= start();
      return starting;
    },
    get address() {
      return server?.address ?? `${hostname}:${port}`;
    },
    async close() {
      clearInterval(pruneTimer);
      await server?.stop();
      store?.close();
      server = null;
      store = null;
    },
  };
}

/**
 * The introducer's ops: one handler each, over the DNS link's definitions (src/wire/dns.ts).
 *
 * Nobody may evict or impersonate a live peer: LEAVE/DELETE of a peer is honoured when it comes from the
 * peer's own IP address, or when the DNS connects back to the peer's address and nothing answers; a JOIN
 * that would move a live id to another address, or give a live peer's address to another id, is refused.
 */
function introducerOps(peers: PeerStore, liveSince: () => number, clock: () => number, probe: (ip: string, port: number) => Promise<boolean>): OpTable {
  let probing = 0;
  /** Whether the peer still answers at its address; bounded in number so a flood of LEAVEs cannot pile up sockets. */
  const stillAnswers = async (peer: PeerEntry): Promise<boolean> => {
    if (probing >= MAX_LIVENESS_PROBES) throw new P2PError("UNAVAILABLE", "too many liveness checks under way; try again shortly");
    probing++;
    try {
      return await probe(peer.ip, peer.port);
    } finally {
      probing--;
    }
  };
  const isLive = (peer: PeerEntry) => peer.lastSeen >= liveSince();

  const leave = async (peerId: string, request: Request): Promise<string> => {
    const peer = peers.byId(peerId);
    if (!peer) throw new P2PError("NOT_FOUND", `peer ${peerId} is not registered`);
    if (!sentFrom(request, peer.ip) && (await stillAnswers(peer))) {
      throw new P2PError("CONFLICT", `peer ${peerId} still answers at ${formatAddress(peer.ip, peer.port)}: only the peer itself, from its own address, may remove it`);
    }
    peers.remove(peerId);
    return peerId;
  };

  const join = async ({ peerId, ip, port }: DnsJoinArgs): Promise<DnsPeerRows> => {
    const registered = peers.byId(peerId);
    if (registered && (registered.ip !== ip || registered.port !== port) && isLive(registered) && (await stillAnswers(registered))) {
      throw new P2PError("CONFLICT", `peer id ${peerId} is registered by a live peer at ${formatAddress(registered.ip, registered.port)}`);
    }
    for (const holder of peers.atAddress(ip, port)) {
      if (holder.peerId !== peerId && isLive(holder) && (await stillAnswers(holder))) {
        throw new P2PError("CONFLICT", `${formatAddress(ip, port)} is held by live peer ${holder.peerId}; one address is one peer`);
      }
    }
    peers.register({ peerId, ip, port, lastSeen: clock() });
    return { rows: peers.sampleOthers(peerId, liveSince(), JOIN_SAMPLE_SIZE), skipped: [] };
  };

  return opTable(
    serveOp(DNS.JOIN, join),
    serveOp(DNS.LEAVE, leave),
    serveOp(DNS.DELETE, leave),
    serveOp(DNS.PEERS, () => ({ rows: peers.live(liveSince()), skipped: [] })),
    serveOp(DNS.PING, () => undefined),
  );
}

/** Whether the request came from `ip`, canonical as rows are (an IPv4 peer shows as `::ffff:a.b.c.d` on a dual-stack listener). */
function sentFrom(request: Request, ip: string): boolean {
  return canonicalIp(request.remoteAddress) === ip;
}

function openStore(path: string): PeerStore {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return new PeerStore(path);
  } catch (error) {
    throw new P2PError("ERROR", `cannot open the DNS database ${path}: ${(error as Error).message}`, { cause: error });
  }
}
