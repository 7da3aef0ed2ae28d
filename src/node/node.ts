// A p2p node as a library: `createNode()` joins the ring through the DNS and serves peers and the local client.

import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log";
import { P2PError, isP2PError } from "../protocol/errors";
import { type ProtocolServer, serve } from "../protocol/server";
import { ClockWatch } from "./clock-skew";
import { withClockNote } from "./clock-ops";
import { controlOps } from "./control-ops";
import { Introducers } from "./dns-client";
import { CatalogStore } from "./files/catalog";
import { ServedStore } from "./files/served-store";
import { fileClientOps, filePeerOps } from "./files/file-ops";
import { RateLimiter } from "./files/rate-limiter";
import { KnownPeers } from "./known-peers";
import { DEFAULT_ANNOUNCE_INTERVAL_MS, FileSharing } from "./files/sharing";
import { SqliteRecordStore } from "./record-store";
import { ChordNode } from "./ring/chord";
import { nodeId } from "../model/id";
import { MERGE_CONFIRM_MS, RingMerger } from "./ring/merge";
import type { Peer } from "../model/peer";
import { RING, ringOps } from "../wire/ring";
import { nodeTrust } from "./peer-checks";
import { ownSourceAddress, TcpTransport } from "./tcp-transport";
import { formatAddress, parsePeerIp, PEER_PORT } from "../protocol/address";
import type { NodeStatus } from "../wire/control";
import { DEFAULT_HEARTBEAT_MS, DEFAULT_REPLICAS, DEFAULT_RPC_TIMEOUT_MS, DEFAULT_STABILIZE_MS, DEFAULT_SUCCESSORS } from "./defaults";
import { MAX_KNOWN_PEERS_PER_JOIN, REANNOUNCE_AFTER_JOIN_MS, type NodeOptions } from "./defaults";
import { joinRing, uniquePeers } from "./join-ring";

export * from "./defaults";

/** Linux caps a Unix socket path at 108 bytes. */
const MAX_SOCKET_PATH = 107;

export type { NodeStatus };

export interface P2PNode {
  readonly self: Peer;
  readonly socketPath: string;
  /** Listens, registers with the DNS (retrying while it is down) and joins the ring. */
  ready(): Promise<void>;
  /** Leaves the ring gracefully (records handed to the successor, DNS told) but keeps the process's sockets open. */
  leave(): Promise<void>;
  /** `leave()`, then every socket, timer and file closed. */
  close(): Promise<void>;
  /** Resolves once the node has stopped, whoever stopped it (a signal, or `p2p client leave`). */
  readonly stopped: Promise<void>;
  status(): NodeStatus;
  readonly ring: ChordNode;
  readonly sharing: FileSharing;
}

export function createNode(options: NodeOptions): P2PNode {
  const port = options.port ?? PEER_PORT;
  // One spelling for what it listens on, is named by and is hashed from (src/protocol/ip.ts).
  const ip = parsePeerIp(options.ip);
  const address = formatAddress(ip, port);
  const self: Peer = { id: nodeId(address), address };
  const socketPath = join(options.dataDir, "node.sock");
  const localAddress = ownSourceAddress(ip);
  const transport = new TcpTransport({ rpcTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS, networkKey: options.networkKey, localAddress });
  const dns = new Introducers(Array.isArray(options.dns) ? options.dns : [options.dns as { hostname: string; port: number }], { networkKey: options.networkKey, localAddress });
  const knownPeers = new KnownPeers(options.dataDir);
  /** Peers from known-peers.json at start; a node that had to found a ring keeps probing them for the ring it lost. */
  let rememberedPeers: Peer[] = [];
  let foundedRing = false;
  let merger: RingMerger | null = null;
  let heartbeating = false;
  /** One check for another ring at a time: the heartbeat's and a confirmation's may otherwise overlap. */
  let checkingRings = false;
  let confirmTimer: ReturnType<typeof setTimeout> | undefined;
  const startedAt = Date.now();
  let store: SqliteRecordStore | null = null;
  let catalog: CatalogStore | null = null;
  let served: ServedStore | null = null;
  let ring: ChordNode | null = null;
  let sharing: FileSharing | null = null;
  let clockWatch: ClockWatch | null = null;
  let announceTimer: ReturnType<typeof setInterval> | undefined;
  let reannounceTimer: ReturnType<typeof setTimeout> | undefined;
  let joined = false;
  let peerServer: ProtocolServer | null = null;
  let controlServer: ProtocolServer | null = null;
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  let starting: Promise<void> | null = null;
  let leaving: Promise<void> | null = null;
  let closing: Promise<void> | null = null;
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const abort = new AbortController();

  const node: P2PNode = {
    self,
    socketPath,
    stopped,
    get ring() {
      if (!ring) throw new P2PError("UNAVAILABLE", "the node is not started");
      return ring;
    },
    get sharing() {
      if (!sharing) throw new P2PError("UNAVAILABLE", "the node is not started");
      return sharing;
    },
    ready() {
      starting ??= start();
      return starting;
    },
    leave() {
      leaving ??= leaveRing();
      return leaving;
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
    status() {
      const uptimeSeconds = Math.round((Date.now() - startedAt) / 1000);
      const clock = clockWatch?.estimate();
      return { ...node.ring.status(), dns: dns.address, dataDir: options.dataDir, uptimeSeconds, privateNetwork: options.networkKey !== undefined, clockSkewMs: clock?.skewMs ?? null, clockPeers: clock?.peers ?? 0, clockToleranceMs: clock?.toleranceMs };
    },
  };

  async function start(): Promise<void> {
    if (socketPath.length > MAX_SOCKET_PATH) {
      throw new P2PError("MALFORMED", `data directory path is too long for a Unix socket (${socketPath.length} > ${MAX_SOCKET_PATH} bytes): choose a shorter --data`);
    }
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(options.dataDir, 0o700);
    rememberedPeers = knownPeers.load((message) => log.warn(message)).slice(0, MAX_KNOWN_PEERS_PER_JOIN);
    store = new SqliteRecordStore(join(options.dataDir, "records.db"));
    const trust = nodeTrust(options.dataDir, self, transport, (message) => log.warn(message), (key) => ring?.holdsKey(key) ?? false);
    ring = new ChordNode(self, trust.ringTransport, store, {
      successorListLength: options.successors ?? DEFAULT_SUCCESSORS,
      replicas: options.replicas ?? DEFAULT_REPLICAS,
      onError: (error) => log.warn(`ring maintenance: ${(error as Error).message ?? error}`),
      onWarning: (message) => log.warn(message),
      signEntry: trust.signEntry,
      learnReplicaRange: true,
    });
    const chord = ring;
    const warn = (message: string) => log.warn(message);
    clockWatch = new ClockWatch(() => chord.routingPeers(), (peer) => transport.send(peer.address, RING.PING, true), warn);
    catalog = new CatalogStore(join(options.dataDir, "catalog.db"));
    served = new ServedStore(join(options.dataDir, "catalog.db"));
    const files = new FileSharing({
      self,
      ring: chord,
      transport,
      catalog,
      served,
      uploadLimiter: new RateLimiter(options.uploadLimitBytesPerSecond ?? 0),
      announceIntervalMs: options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS,
      warn,
      holderKeys: trust.keys,
    });
    sharing = files;
    try {
      peerServer = await serve({ listen: { hostname: ip, port }, ops: { ...ringOps(chord, trust.checks), ...filePeerOps(files) }, warn, networkKey: options.networkKey });
      controlServer = await serve({ listen: { unix: socketPath }, ops: withClockNote({ ...controlOps(node), ...fileClientOps(files) }, clockWatch), warn });
      foundedRing = (await joinRing({ chord, dns, transport, self, rememberedPeers, retryMs: options.retryMs ?? 500, signal: abort.signal })).founded;
    } catch (error) {
      await releaseResources();
      throw error;
    }
    joined = true;
    merger = new RingMerger(chord);
    chord.start(options.stabilizeMs ?? DEFAULT_STABILIZE_MS);
    clockWatch.start();
    saveKnownPeers();
    heartbeatTimer = setInterval(() => void heartbeat(), options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    // Files shared before a restart are announced again now, then on every interval.
    announce();
    reannounceTimer = setTimeout(() => {
      announce();
      // The tables are full by now; the heartbeat keeps the file current from here on.
      saveKnownPeers();
    }, Math.min(REANNOUNCE_AFTER_JOIN_MS, files.interval));
    announceTimer = setInterval(announce, files.interval);
    log.info(`node ${self.id.slice(0, 8)} at ${self.address} is in the ring (control socket ${socketPath})`);
  }

  /** Re-announces every shared file (now, and whenever the node's place in the ring changed). */
  function announce(): void {
    void sharing?.refreshAll().catch((error) => log.warn(`re-announcing shared files failed: ${error.message}`));
  }

  /** Refreshes the DNS registrations, saves the peers this node knows, and looks for another ring to merge with. */
  async function heartbeat(): Promise<void> {
    if (heartbeating || !joined) return;
    heartbeating = true;
    try {
      let listed: Peer[] = [];
      try {
        const answer = await dns.join(self);
        listed = answer.peers;
        for (const failure of answer.failed) log.warn(`DNS heartbeat to ${failure.address} failed: ${failure.error.message}`);
      } catch (error) {
        if (!isP2PError(error)) throw error;
        log.warn(`DNS heartbeat failed: ${error.message}`);
      }
      saveKnownPeers();
      await checkForOtherRing(foundedRing ? uniquePeers([...listed, ...rememberedPeers]) : listed);
    } catch (error) {
      log.warn(`heartbeat: ${(error as Error).message}`);
    } finally {
      heartbeating = false;
    }
  }

  /** Merges with another ring the candidates belong to, when ours is the one that yields. */
  async function checkForOtherRing(candidates: Peer[]): Promise<void> {
    if (checkingRings) return;
    checkingRings = true;
    try {
      await mergeWithOtherRing(candidates);
    } finally {
      checkingRings = false;
    }
  }

  async function mergeWithOtherRing(candidates: Peer[]): Promise<void> {
    const chord = ring;
    if (!chord || !merger || !joined || candidates.length === 0) return;
    const foreign = await merger.check(candidates);
    if (merger.pendingConfirmation && confirmTimer === undefined && joined) {
      // Confirm soon rather than at the next heartbeat, which may be minutes away.
      confirmTimer = setTimeout(() => {
        confirmTimer = undefined;
        void checkForOtherRing(candidates).catch((error) => log.warn(`looking for another ring: ${(error as Error).message}`));
      }, MERGE_CONFIRM_MS);
    }
    if (foreign === null || !joined) return;
    const rings = `its smallest id ${foreign.theirSmallest.id.slice(0, 8)}, ours ${foreign.ourSmallest.id.slice(0, 8)}`;
    if (!foreign.weYield) {
      log.info(`found another ring through ${foreign.via.address} (${rings}); it will merge into ours`);
      return;
    }
    log.info(`found another ring through ${foreign.via.address} (${rings}); merging into it`);
    chord.stop();
    try {
      if (await chord.rejoinThrough(foreign.via)) {
        foundedRing = false;
        merger.joined();
        log.info(`merged into the ring of ${foreign.via.address}; handing ${chord.misplacedCount} keys to their primaries there`);
        announce();
      } else {
        log.warn(`could not join the other ring through ${foreign.via.address}; staying in ours`);
      }
    } finally {
      if (joined) chord.start(options.stabilizeMs ?? DEFAULT_STABILIZE_MS);
    }
  }

  /** known-peers.json: the peers in this node's tables now, nearest first. */
  function saveKnownPeers(): void {
    if (!ring) return;
    try {
      knownPeers.save(ring.routingPeers(), self);
    } catch (error) {
      log.warn(`could not save ${knownPeers.path}: ${(error as Error).message}`);
    }
  }

  async function leaveRing(): Promise<void> {
    abort.abort();
    await starting?.catch(() => {});
    clearTimers();
    if (!joined || !ring) return;
    saveKnownPeers();
    joined = false;
    // Withdraw first: a holder that is leaving must stop being offered at once.
    await sharing?.withdrawAll();
    const { handedTo } = await ring.leave();
    log.info(handedTo ? `left the ring; records handed to ${handedTo.address}` : "left the ring (no live successor to hand records to)");
    // The DNS honours a LEAVE only when nothing answers at our address any more (it connects back to check).
    await peerServer?.stop();
    peerServer = null;
    await dns.leave(self.id).catch((error) => log.warn(`could not tell the DNS we left: ${error.message}`));
  }

  async function shutdown(): Promise<void> {
    await node.leave();
    await releaseResources();
    resolveStopped();
  }

  async function releaseResources(): Promise<void> {
    joined = false;
    clearTimers();
    ring?.stop();
    clockWatch?.stop();
    transport.close();
    await peerServer?.stop();
    await controlServer?.stop();
    store?.close();
    catalog?.close();
    served?.close();
    peerServer = null;
    controlServer = null;
    store = null;
    catalog = null;
    served = null;
  }

  function clearTimers(): void {
    clearInterval(heartbeatTimer);
    clearInterval(announceTimer);
    clearTimeout(reannounceTimer);
    clearTimeout(confirmTimer);
  }

  return node;
}
