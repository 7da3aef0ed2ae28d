// The P2P DNS: the introducer a new peer asks for a few live peers to join the ring through.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { log } from "../log";
import { DNS_PORT, formatAddress, splitAddress } from "../protocol/address";
import { canonicalIp } from "../protocol/ip";
import { isP2PError, P2PError } from "../protocol/errors";
import { type OpTable, type ProtocolServer, serve } from "../protocol/server";
import type { Request } from "../protocol/ops";
import { DNS, type DnsJoinArgs, type DnsPeerRows } from "../wire/dns";
import { opTable, serveOp } from "../wire/op";
import { CachedChecks, ConnectBudget } from "../protocol/connect-budget";
import { reachOps } from "./dial-back";
import { answersPing } from "./liveness";
import { type PeerEntry, PeerStore } from "./peer-store";

/** How many peers a JOIN hands back, as in the original design. */
export const JOIN_SAMPLE_SIZE = 5;
export const DEFAULT_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 7 * 24 * 3600;
/** A peer proven to be at its address within this long is handed out before the others. */
export const CONFIRMATION_VALID_MS = 5 * 60_000;
/** A peer registered from another address is checked again (a connect-back) once its proof is older than this. */
export const RECONFIRM_AFTER_MS = 60_000;
/** Peers at one IP that JOINs sent from that IP confirm without a connect-back (a node of this project has at most 8 ids per IP). */
export const MAX_SELF_CONFIRMED_PER_IP = 8;

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
  /** Whether a p2p peer answers PING at an address (tests replace the connect-back). */
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
      const probe = options.probe ?? ((ip: string, port: number) => answersPing(ip, port, { networkKey: options.networkKey }));
      server = await serve({ listen: { hostname, port }, ops: dnsOps(peers, liveSince, clock, probe, options), warn: options.warn, networkKey: options.networkKey });
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
      return server?.address ?? formatAddress(hostname, port);
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

/** Every op of the DNS link; one connection budget pays for connect-backs and dial-backs alike. */
function dnsOps(peers: PeerStore, liveSince: () => number, clock: () => number, probe: (ip: string, port: number) => Promise<boolean>, options: IntroducerOptions): OpTable {
  const budget = new ConnectBudget(clock);
  const warn = options.warn ?? ((message: string) => log.warn(message));
  return { ...introducerOps(peers, liveSince, clock, probe, warn, budget), ...opTable(...reachOps(budget, sourceOf, options.networkKey)) };
}

/**
 * The introducer's ops: one handler each, over the DNS link's definitions (src/wire/dns.ts).
 *
 * Nobody may evict or impersonate a live peer: LEAVE/DELETE of a peer is honoured when it comes from the
 * peer's own IP address, when the peer was never confirmed, or when the DNS connects back and the peer
 * does not answer PING; a JOIN that would move a confirmed live id to another address, or give its address
 * to another id, is refused. Every connect-back is paid from one `ConnectBudget` and its answer cached, so
 * no request, however repeated, makes the DNS flood or scan an address (docs/SECURITY.md).
 */
function introducerOps(
  peers: PeerStore,
  liveSince: () => number,
  clock: () => number,
  probe: (ip: string, port: number) => Promise<boolean>,
  warn: (message: string) => void,
  budget: ConnectBudget,
): OpTable {
  const checks = new CachedChecks(budget, (address) => { const { ip, port } = splitAddress(address); return probe(ip, port); }, clock);
  /** Whether the peer still answers PING at its address (throws UNAVAILABLE, a 503, when the budget is spent). */
  const stillAnswers = (peer: PeerEntry, request: Request) => checks.ask(`${formatAddress(peer.ip, peer.port)}`, sourceOf(request));
  const isLive = (peer: PeerEntry) => peer.lastSeen >= liveSince();
  const confirmedSince = () => clock() - CONFIRMATION_VALID_MS;
  const isConfirmed = (peer: PeerEntry) => peer.confirmedAt >= confirmedSince();

  /**
   * Proof that the peer JOIN named is at its address: the JOIN came from its IP (for a few peers per
   * IP), or, in the background so the reply neither waits for it nor tells anything of it, it answered a
   * connect-back's PING. A peer without proof is handed out only after the confirmed ones.
   */
  const confirm = (entry: DnsJoinArgs, request: Request, registered: PeerEntry | null) => {
    // A heartbeat of a peer proven at this address a moment ago: nothing to prove again (and nothing to write).
    if (registered !== null && registered.ip === entry.ip && registered.port === entry.port && registered.confirmedAt >= clock() - RECONFIRM_AFTER_MS) return;
    if (sentFrom(request, entry.ip) && peers.confirmedAtIp(entry.ip, liveSince(), confirmedSince(), entry.peerId) < MAX_SELF_CONFIRMED_PER_IP) {
      peers.confirm(entry, clock());
      return;
    }
    const current = peers.byId(entry.peerId);
    if (!current || current.confirmedAt >= clock() - RECONFIRM_AFTER_MS) return;
    checks.ask(`${formatAddress(entry.ip, entry.port)}`, sourceOf(request)).then(
      (answers) => {
        if (answers) peers.confirm(entry, clock());
      },
      (error) => {
        // Over budget (a P2PError): the peer stays unconfirmed until a later heartbeat finds room.
        if (!isP2PError(error)) warn(`confirming ${formatAddress(entry.ip, entry.port)} failed: ${(error as Error).message}`);
      },
    );
  };

  const leave = async (peerId: string, request: Request): Promise<string> => {
    const peer = peers.byId(peerId);
    if (!peer) throw new P2PError("NOT_FOUND", `peer ${peerId} is not registered`);
    if (sentFrom(request, peer.ip) || !isConfirmed(peer) || !(await stillAnswers(peer, request))) {
      peers.remove(peerId);
      return peerId;
    }
    throw new P2PError("CONFLICT", `peer ${peerId} still answers at ${formatAddress(peer.ip, peer.port)}: only the peer itself, from its own address, may remove it`);
  };

  const join = async (args: DnsJoinArgs, request: Request): Promise<DnsPeerRows> => {
    const { peerId, ip, port } = args;
    const registered = peers.byId(peerId);
    const moved = registered !== null && (registered.ip !== ip || registered.port !== port);
    if (registered && moved && isLive(registered) && isConfirmed(registered) && (await stillAnswers(registered, request))) {
      throw new P2PError("CONFLICT", `peer id ${peerId} is registered by a live peer at ${formatAddress(registered.ip, registered.port)}`);
    }
    if (registered !== null && !moved) {
      // The heartbeat: the same peer at the same address, so no other can hold it.
      peers.refresh(peerId, clock());
    } else {
      for (const holder of peers.atAddress(ip, port)) {
        if (holder.peerId !== peerId && isLive(holder) && isConfirmed(holder) && (await stillAnswers(holder, request))) {
          throw new P2PError("CONFLICT", `${formatAddress(ip, port)} is held by live peer ${holder.peerId}; one address is one peer`);
        }
      }
      peers.register({ peerId, ip, port, lastSeen: clock(), also: args.also });
    }
    confirm(args, request, registered);
    return { rows: peers.sampleOthers(peerId, liveSince(), confirmedSince(), JOIN_SAMPLE_SIZE), skipped: [] };
  };

  return opTable(
    serveOp(DNS.JOIN, join),
    serveOp(DNS.LEAVE, leave),
    serveOp(DNS.DELETE, leave),
    serveOp(DNS.PEERS, () => ({ rows: peers.live(liveSince()), skipped: [] })),
    serveOp(DNS.PING, () => undefined),
  );
}

/** The IP a request came from, canonical as rows are (an IPv4 peer shows as `::ffff:a.b.c.d` on a dual-stack listener). */
function sourceOf(request: Request): string {
  return canonicalIp(request.remoteAddress) ?? request.remoteAddress;
}

/** Whether the request came from `ip`. */
function sentFrom(request: Request, ip: string): boolean {
  return sourceOf(request) === ip;
}

function openStore(path: string): PeerStore {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return new PeerStore(path);
  } catch (error) {
    throw new P2PError("ERROR", `cannot open the DNS database ${path}: ${(error as Error).message}`, { cause: error });
  }
}
