// What a node opens when it starts, wired together: its stores, the ring, file sharing, the clock watch, its presence in the network.

import { join } from "node:path";
import { log } from "../log";
import { punchVia } from "./relay/punch-dial";
import { bridgeVia } from "./relay/bridge-dial";
import { observeThrough } from "./relay/punch-observe";
import { ClockWatch } from "./clock-skew";
import {
  calmHeartbeatMs,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_REPLICAS,
  DEFAULT_RETRY_MS,
  DEFAULT_RPC_TIMEOUT_MS,
  DEFAULT_STABILIZE_MAX_MS,
  DEFAULT_STABILIZE_MS,
  DEFAULT_SUCCESSORS,
  type NodeOptions,
} from "./defaults";
import type { Introducers } from "./dns-client";
import { AnnounceSchedule } from "./announce-schedule";
import { CatalogStore } from "./files/catalog";
import { RateLimiter } from "./files/rate-limiter";
import { partFilesIn } from "./files/part-file";
import { ServedStore } from "./files/served-store";
import { QueueStore } from "./files/queue-store";
import { tcpFileLinks } from "./files/tcp-file-peers";
import { DEFAULT_ANNOUNCE_INTERVAL_MS, FileSharing } from "./files/sharing";
import { KnownPeers } from "./known-peers";
import { nodeTrust } from "./peer-checks";
import { SqliteRecordStore } from "./record-store";
import { holdsEntry } from "./ring/admission";
import type { RingId } from "../model/id";
import { RingPresence } from "./ring-presence";
import { ChordNode } from "./ring/chord";
import { RING } from "../wire/ring";
import type { Peer } from "../model/peer";
import { ownSourceAddress, type TcpTransport } from "./tcp-transport";
import { type EdgeParts, openEdge } from "./relay/edge-parts";
import { filePeerOps } from "./files/file-ops";
import type { OpTable } from "../protocol/ops";
import { splitAddress } from "../protocol/address";
import { parseRelayed } from "../protocol/relayed-address";
import { realTimers } from "./timers";

/** What `createNode` gives every part: made once, before the node starts. */
export type NodeBase = {
  options: NodeOptions;
  self: Peer;
  transport: TcpTransport;
  dns: Introducers;
  /** Aborted when the node stops. */
  signal: AbortSignal;
  /** Set before the parts are opened when this node has no route to the ring's address family (src/node/address-family.ts): it is then an edge that reaches that family through its relay. */
  lackingFamily?: 4 | 6;
};

export type NodeParts = {
  ring: ChordNode;
  /** An edge node's link to its relay and its view of the ring (`--edge`); null for a ring member. */
  edge: EdgeParts | null;
  sharing: FileSharing;
  clockWatch: ClockWatch;
  presence: RingPresence;
  announcements: AnnounceSchedule;
  /** For the peer server's ring ops: the checks of what peers claim. */
  trust: ReturnType<typeof nodeTrust>;
  /** Closes the databases; every part that uses them has stopped. */
  closeStores(): void;
};

/** Opens the node's databases and builds its parts on them; nothing runs yet. On failure, what was opened is closed again. */
export function openParts(base: NodeBase): NodeParts {
  const { options, self, transport } = base;
  const warn = (message: string) => log.warn(message);
  const stores: { close(): void }[] = [];
  const opening = <Store extends { close(): void }>(store: Store): Store => (stores.push(store), store);
  const closeStores = () => stores.splice(0).forEach((store) => store.close());
  try {
    const store = opening(new SqliteRecordStore(join(options.dataDir, "records.db")));
    const catalog = opening(new CatalogStore(join(options.dataDir, "catalog.db")));
    const served = opening(new ServedStore(join(options.dataDir, "catalog.db")));
    // Asked only when a peer's records arrive, by then the ring below exists.
    const storesLive = (key: RingId, member: string) => store.get(key, Date.now()).some((entry) => entry.member === member);
    const trust = nodeTrust(options.dataDir, self, transport, warn, (entry) => holdsEntry(entry, (key) => ring.holdsKey(key), storesLive));
    const ring = new ChordNode(self, trust.ringTransport, store, {
      successorListLength: options.successors ?? DEFAULT_SUCCESSORS,
      replicas: options.replicas ?? DEFAULT_REPLICAS,
      onError: (error) => log.warn(`ring maintenance: ${(error as Error).message ?? error}`),
      onWarning: warn,
      onDebug: (message) => log.debug(message),
      maxMaintenanceMs: options.stabilizeMaxMs ?? DEFAULT_STABILIZE_MAX_MS,
      signEntry: trust.signEntry,
      learnReplicaRange: true,
    });
    ring.onSnapBack((reason) => log.debug(`ring maintenance is fast again: ${reason}`));
    // A neighbour that crashed shows as its link closing: maintenance looks at once, not at the end of a long wait.
    transport.onRingLinkLost = (address) => {
      const { predecessor, successors } = ring.neighbours();
      if (predecessor?.address === address || successors.some((peer) => peer.address === address)) ring.checkSoon();
    };
    // A new relay: announced under the new address first, so the files stay findable, then withdrawn under the old one.
    const moved = (previous: string) => {
      announcements.announce();
      if (parseRelayed(previous) !== null) void sharing.withdrawFormerAddress(previous);
    };
    const edge: EdgeParts | null = options.edge ? openEdgeOf(base, trust, (): OpTable => filePeerOps(sharing), moved) : null;
    const sharing: FileSharing = new FileSharing({
      self,
      ring: edge?.ring ?? ring,
      links: tcpFileLinks(transport),
      catalog,
      parts: partFilesIn(catalog),
      served,
      uploadLimiter: new RateLimiter(options.uploadLimitBytesPerSecond ?? 0),
      downloadLimiter: new RateLimiter(options.downloadLimitBytesPerSecond ?? 0),
      maxActive: options.maxActiveDownloads ?? 0,
      queue: opening(new QueueStore(join(options.dataDir, "catalog.db"))),
      dns: () => base.dns.address.split(","),
      announceIntervalMs: options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS,
      warn,
      holderKeys: trust.keys,
    });
    const announcements = new AnnounceSchedule(sharing, realTimers);
    const presence = openPresence(base, ring, () => announcements.announce());
    const clockWatch = new ClockWatch(() => (edge?.ring ?? ring).routingPeers(), (peer) => transport.send(peer.address, RING.PING, true), warn);
    return { ring, edge, sharing, clockWatch, presence, announcements, trust, closeStores };
  } catch (error) {
    closeStores();
    throw error;
  }
}

function openEdgeOf(base: NodeBase, trust: ReturnType<typeof nodeTrust>, fileOps: () => OpTable, onAddress: (previous: string) => void): EdgeParts {
  const { options, self, dns, signal } = base;
  const ip = splitAddress(self.address).ip;
  const localAddress = ownSourceAddress(ip);
  // Two edges: the dialler punches a hole over the circuit before it settles for the relay.
  const punching = { localAddress, networkKey: options.networkKey, timeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS };
  const observe = (relay: string) => observeThrough(relay, punching);
  // Its own IP, announced in punches: a peer behind the same NAT connects to it there (a wildcard names no host).
  const lanIp = ip === "0.0.0.0" || ip === "::" ? undefined : ip;
  base.transport.punch = punchVia({ observe, networkKey: options.networkKey, localAddress, lanIp, info: (message) => log.info(message) });
  const edge = openEdge({
    self,
    lackingFamily: base.lackingFamily,
    publicKey: trust.identity.publicKey,
    transport: trust.ringTransport,
    signEntry: trust.signEntry,
    dns,
    retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
    connectTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
    networkKey: options.networkKey,
    localAddress,
    signal,
    fileOps,
    onAddress,
    observedBy: observe,
    lanIp,
  });
  if (base.lackingFamily) {
    const connectTimeoutMs = options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    base.transport.bridge = bridgeVia({ lacking: base.lackingFamily, relay: () => edge.link.relay, relayRingAddress: () => edge.link.relayRingAddress, edgeId: () => self.id, connectTimeoutMs, localAddress });
  }
  return edge;
}

function openPresence({ options, dns, transport, signal }: NodeBase, ring: ChordNode, onMerged: () => void): RingPresence {
  const stabilizeMs = options.stabilizeMs ?? DEFAULT_STABILIZE_MS;
  return new RingPresence({
    ring,
    maintenance: { start: () => ring.start(stabilizeMs), stop: () => ring.stop() },
    dns,
    transport,
    knownPeers: new KnownPeers(options.dataDir),
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    heartbeatMaxMs: calmHeartbeatMs(options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS),
    retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
    clock: Date.now,
    timers: realTimers,
    signal,
    onMerged,
  });
}
