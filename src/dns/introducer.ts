// The P2P DNS: the introducer a new peer asks for a few live peers to join the ring through.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DNS_PORT } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { type OpTable, type ProtocolServer, serve } from "../protocol/server";
import { DNS } from "../wire/dns";
import { opTable, serveOp } from "../wire/op";
import { PeerStore } from "./peer-store";

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
      server = await serve({ listen: { hostname, port }, ops: introducerOps(peers, liveSince, clock), warn: options.warn });
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

/** The introducer's ops: one handler each, over the DNS link's definitions (src/wire/dns.ts). */
function introducerOps(peers: PeerStore, liveSince: () => number, clock: () => number): OpTable {
  const leave = (peerId: string): string => {
    if (!peers.remove(peerId)) throw new P2PError("NOT_FOUND", `peer ${peerId} is not registered`);
    return peerId;
  };
  return opTable(
    serveOp(DNS.JOIN, ({ peerId, ip, port }) => {
      peers.register({ peerId, ip, port, lastSeen: clock() });
      return { rows: peers.sampleOthers(peerId, liveSince(), JOIN_SAMPLE_SIZE), skipped: [] };
    }),
    serveOp(DNS.LEAVE, leave),
    serveOp(DNS.DELETE, leave),
    serveOp(DNS.PEERS, () => ({ rows: peers.live(liveSince()), skipped: [] })),
    serveOp(DNS.PING, () => undefined),
  );
}

function openStore(path: string): PeerStore {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return new PeerStore(path);
  } catch (error) {
    throw new P2PError("ERROR", `cannot open the DNS database ${path}: ${(error as Error).message}`, { cause: error });
  }
}
