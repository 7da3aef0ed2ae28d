// A p2p node as a library: `createNode()` → `ready()` listens and joins the ring, `close()` leaves and releases everything.
//
// This file only wires the parts together and runs their lifecycle: the parts are built in node-parts.ts,
// joining, heartbeats and merging live in `RingPresence` (ring-presence.ts), the ring in ring/, files in files/.

import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log";
import { P2PError } from "../protocol/errors";
import { type OpTable, type ProtocolServer, serve } from "../protocol/server";
import { formatAddress, parsePeerIp, PEER_PORT, splitAddress } from "../protocol/address";
import type { NodeStatus } from "../wire/control";
import { opTable } from "../wire/op";
import { ringOps } from "../wire/ring";
import { Reachability } from "./reachability";
import { Reversals } from "../protocol/reversal";
import { connectBackVia } from "./relay/connect-back";
import { withClockNote } from "./clock-ops";
import { controlOps } from "./control-ops";
import { DEFAULT_RPC_TIMEOUT_MS, type NodeOptions } from "./defaults";
import { Introducers } from "./dns-client";
import { fileClientOps, filePeerOps } from "./files/file-ops";
import type { FileSharing } from "./files/sharing";
import { type NodeBase, type NodeParts, openParts } from "./node-parts";
import type { ChordNode } from "./ring/chord";
import { nodeId } from "../model/id";
import type { Peer } from "../model/peer";
import { ownSourceAddress, TcpTransport } from "./tcp-transport";
import { alsoPeer, checkedAlso } from "./address-family";
import { joiningRole } from "./joining-role";
import type { PortMapping } from "./port-mapping";
import { DEFAULT_RELAY_LIMIT, Relay } from "./relay/relay";

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
  /** The control socket's op table, for other front ends in this process (the web page): one op, two front ends. */
  readonly controlOps: OpTable;
}

export function createNode(options: NodeOptions): P2PNode {
  return new NodeLifecycle(options);
}

class NodeLifecycle implements P2PNode {
  readonly self: Peer;
  readonly socketPath: string;
  readonly stopped: Promise<void>;
  private readonly base: NodeBase;
  /** The peers' address and port, spelt once (src/protocol/address.ts). */
  private readonly listen: { hostname: string; port: number };
  private readonly startedAt = Date.now();
  /** Aborted by `leave()`: joining, heartbeats and merging stop (RingPresence listens to it). */
  private readonly stopping = new AbortController();
  private parts: NodeParts | null = null;
  private peerServer: ProtocolServer | null = null;
  /** The router's port mapping this node joined under (NAT-PMP or UPnP IGD), removed when it stops. */
  private mapping: PortMapping | null = null;
  /** The same ops on the node's address in its other family (`--also`). */
  private alsoServer: ProtocolServer | null = null;
  private controlServer: ProtocolServer | null = null;
  private clientOps: OpTable | null = null;
  private starting: Promise<void> | null = null;
  private leaving: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private resolveStopped: () => void = () => {};
  private readonly reach: Reachability;
  /** Reservations and circuits for edge nodes, served on the peer port of a ring member. */
  private readonly relay: Relay;
  /** Links edge nodes dial back to this one (connection reversal): waited for by `TcpTransport.connectBack`. */
  private readonly reversals = new Reversals();

  constructor(given: NodeOptions) {
    const ip = parsePeerIp(given.ip);
    const options = { ...given, also: checkedAlso(given.also, ip) };
    const port = options.port ?? PEER_PORT;
    const address = formatAddress(ip, port);
    this.listen = { hostname: ip, port };
    this.self = { id: nodeId(address), address };
    this.reach = new Reachability(options.advertise ?? { ip, port });
    this.socketPath = join(options.dataDir, "node.sock");
    const localAddress = ownSourceAddress(ip);
    const transport = new TcpTransport({ rpcTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS, networkKey: options.networkKey, localAddress, info: (message) => log.info(message) });
    const targets = Array.isArray(options.dns) ? options.dns : [options.dns as { hostname: string; port: number }];
    const dns = new Introducers(targets, { networkKey: options.networkKey, localAddress, also: alsoPeer(options.also, port) });
    this.base = { options, self: this.self, transport, dns, signal: this.stopping.signal };
    this.relay = new Relay(() => this.self.address, options.relayLimit ?? DEFAULT_RELAY_LIMIT, (message) => log.warn(message), { localAddress, listenIp: ip, networkKey: options.networkKey });
    this.stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));
  }

  get ring(): ChordNode {
    return this.started().ring;
  }

  get controlOps(): OpTable {
    if (!this.clientOps) throw new P2PError("UNAVAILABLE", "the node is not started");
    return this.clientOps;
  }

  get sharing(): FileSharing {
    return this.started().sharing;
  }

  ready(): Promise<void> {
    this.starting ??= this.start();
    return this.starting;
  }

  leave(): Promise<void> {
    this.leaving ??= this.leaveRing();
    return this.leaving;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  status(): NodeStatus {
    const { ring, clockWatch } = this.started();
    const { options, dns } = this.base;
    const uptimeSeconds = Math.round((Date.now() - this.startedAt) / 1000);
    const clock = clockWatch.estimate();
    const edge = this.started().edge;
    return { ...(edge ? edge.ring.status() : ring.status()), dns: dns.address, dataDir: options.dataDir, uptimeSeconds, privateNetwork: options.networkKey !== undefined, clockSkewMs: clock.skewMs, clockPeers: clock.peers, clockToleranceMs: clock.toleranceMs, reachability: edge ? edge.link.line : this.reach.line };
  }

  private started(): NodeParts {
    if (!this.parts) throw new P2PError("UNAVAILABLE", "the node is not started");
    return this.parts;
  }

  private async start(): Promise<void> {
    const { options } = this.base;
    if (this.socketPath.length > MAX_SOCKET_PATH) {
      throw new P2PError("MALFORMED", `data directory path is too long for a Unix socket (${this.socketPath.length} > ${MAX_SOCKET_PATH} bytes): choose a shorter --data`);
    }
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(options.dataDir, 0o700);
    let parts: NodeParts;
    try {
      await this.takeRole();
      parts = this.parts = openParts(this.base);
      await this.listenAll(parts);
      await (parts.edge ? parts.edge.link.start() : parts.presence.start());
    } catch (error) {
      await this.releaseResources();
      throw error;
    }
    parts.clockWatch.start();
    parts.announcements.start();
    // In the ring: downloads a stop (or crash) left unfinished can find their holders again.
    parts.sharing.resumeQueued();
    if (parts.edge) {
      log.info(`edge node ${this.self.id.slice(0, 8)} at ${this.self.address} is reached through its relay (control socket ${this.socketPath})`);
      return;
    }
    log.info(`node ${this.self.id.slice(0, 8)} at ${this.self.address} is in the ring (control socket ${this.socketPath})`);
  }

  /** Decides how the node takes part (src/node/joining-role.ts) and takes on the address the ring will know it by. */
  private async takeRole(): Promise<void> {
    const { options } = this.base;
    const role = await joiningRole({ options, listen: this.listen, reach: this.reach, dns: this.base.dns, rpcTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS });
    this.mapping = role.mapping;
    this.base.lackingFamily = role.lackingFamily;
    this.base.options = { ...options, edge: role.edge };
    if (role.address === null || role.edge) return;
    // Its id is bound to the address peers reach it at, as every member's is.
    log.info(`joining as ${role.address}, where peers reach this node (it listens on ${this.self.address})`);
    this.base.transport.knownAs(role.address, this.self.address);
    this.self.address = role.address;
    this.self.id = nodeId(role.address);
  }

  /** The peers' TCP server (not on an edge node: nobody could reach it) and the local client's Unix socket. */
  private async listenAll({ ring, edge, sharing, trust, clockWatch }: NodeParts): Promise<void> {
    const { networkKey } = this.base.options;
    const warn = (message: string) => log.warn(message);
    if (!edge) {
      const ops = { ...ringOps(ring, trust.checks), ...filePeerOps(sharing), ...opTable(...this.reach.ops(), ...this.relay.ops()), ...this.reversals.ops() };
      this.peerServer = await serve({ listen: this.listen, ops, warn, networkKey });
      const { also } = this.base.options;
      if (also) this.alsoServer = await serve({ listen: { hostname: also, port: this.listen.port }, ops, warn, networkKey });
      const reachable = () => this.reach.isReachable();
      // The port the world reaches this node at: its own, or the one its router mapped to it.
      this.base.transport.connectBack = connectBackVia(this.base.transport, this.reversals, splitAddress(this.self.address).port, reachable);
    }
    const controlled = { status: () => this.status(), leave: () => this.leave(), close: () => this.close(), ring: edge?.ring ?? ring };
    const clientOps = (this.clientOps = withClockNote({ ...controlOps(controlled), ...fileClientOps(sharing) }, clockWatch));
    this.controlServer = await serve({ listen: { unix: this.socketPath }, ops: clientOps, warn });
  }

  private async leaveRing(): Promise<void> {
    this.stopping.abort();
    await this.starting?.catch(() => {});
    // No parts: never started, or `start` failed and released them.
    const parts = this.parts;
    if (!parts) return;
    // The presence stopped with `stopping`; these are the node's only other timers.
    parts.announcements.stop();
    parts.clockWatch.stop();
    // Before the stores close: background downloads end and stay queued for the next start.
    await parts.sharing.stopDownloads();
    this.relay.stop();
    this.reversals.close();
    if (parts.edge) return this.leaveAsEdge(parts);
    if (!parts.presence.joined) return;
    parts.presence.saveKnownPeers();
    // Withdraw first: a holder that is leaving must stop being offered at once.
    await parts.sharing.withdrawAll();
    const { handedTo } = await parts.ring.leave();
    log.info(handedTo ? `left the ring; records handed to ${handedTo.address}` : "left the ring (no live successor to hand records to)");
    // The DNS honours a LEAVE only when nothing answers at our address any more (it connects back to check).
    await this.peerServer?.stop();
    await this.alsoServer?.stop();
    this.peerServer = this.alsoServer = null;
    await this.base.dns.leave(this.self.id).catch((error) => log.warn(`could not tell the DNS we left: ${error.message}`));
    const { also } = this.base.dns;
    if (also) await this.base.dns.leave(also.id).catch((error) => log.debug(`could not tell the DNS that ${also.address} left: ${error.message}`));
  }

  /** An edge holds no records: it withdraws its announcements and drops its reservation. */
  private async leaveAsEdge(parts: NodeParts): Promise<void> {
    await parts.sharing.withdrawAll().catch((error) => log.warn(`could not withdraw this edge's announcements: ${(error as Error).message}`));
    parts.edge?.link.stop();
    log.info("left the network (edge node)");
  }

  private async shutdown(): Promise<void> {
    await this.leave();
    await this.releaseResources();
    this.resolveStopped();
  }

  /** Sockets and databases; every timer has stopped before (in `leaveRing`, or none started when `start` failed). */
  private async releaseResources(): Promise<void> {
    this.base.transport.close();
    this.base.dns.close();
    await this.peerServer?.stop();
    await this.alsoServer?.stop();
    await this.controlServer?.stop();
    await this.mapping?.close();
    this.mapping = null;
    this.parts?.closeStores();
    this.parts = null;
    this.peerServer = this.alsoServer = null;
    this.controlServer = null;
  }
}
