// A ring member's relay for edge nodes: reservations (each a notice channel), circuits spliced between a dialler and an edge, all bounded.

import { randomBytes } from "node:crypto";
import { formatAddress, splitAddress } from "../../protocol/address";
import { connect } from "../../protocol/client";
import { ConnectBudget } from "../../protocol/connect-budget";
import { isP2PError, P2PError } from "../../protocol/errors";
import { canonicalIp, familyOf, isPrivate } from "../../protocol/ip";
import type { Reply, Request } from "../../protocol/ops";
import { edgeIdOf, formatRelayed } from "../../protocol/relayed-address";
import type { SpliceLimits } from "../../protocol/splice";
import type { ServedOp } from "../../wire/op";
import { CIRCUIT_ACCEPT_TIMEOUT_MS, encodeNotice, type Notice, RELAY } from "../../wire/relay";
import { type CircuitEnd, CircuitPair } from "./circuit-pair";

/**
 * Reservations a relay holds by default (--relay-limit). Each costs an idle connection and a keepalive every
 * 5 s; what costs is the circuits' traffic, bounded below. 16 lets a relay carry a home network's edges
 * without one relay holding many: with a few relays among the ring members every edge finds one.
 */
export const DEFAULT_RELAY_LIMIT = 16;
/** Circuits open at once to one edge: each downloader holds two or three (ring, availability, chunks), pooled for up to 60 s idle after its download. */
export const MAX_CIRCUITS_PER_EDGE = 32;
/**
 * Bridges open at once for one edge (an IPv6-only edge's links to IPv4 peers): everything it dials goes through
 * them, ring, transfers and availability to each peer it uses, pooled for up to 60 s idle, so more than circuits.
 */
export const MAX_BRIDGES_PER_EDGE = 96;
/** Circuits open at once through this relay, for all its edges. */
export const MAX_CIRCUITS = 256;
/**
 * Bytes one circuit may carry each way. A relay is the last resort for data, not only for punching (libp2p's
 * 128 KiB), so a 200 MiB download through one connection must fit: 1 GiB. P2P_RELAY_CIRCUIT_BYTES overrides it (tests).
 */
export const MAX_CIRCUIT_BYTES = bytesFromEnv("P2P_RELAY_CIRCUIT_BYTES", 1024 * 1024 * 1024);
/** How long one circuit may live, however busy: 1 GiB at 1 MB/s takes about 18 min. */
export const MAX_CIRCUIT_LIFETIME_MS = 30 * 60_000;
// A circuit's idle timeout is its connections' (IDLE_TIMEOUT_SECONDS, 60 s); a notice channel's keepalive is the server's (5 s).

/**
 * `ip`: where the edge's reservation came from, the one IP its BRIDGE requests may come from. `bridgedTo`: peers a
 * bridge of this edge reached (they answered PING): more links to them are bounded by the edge's circuits alone.
 */
/**
 * What a relay knows of its node. `localAddress`: the IP it connects from (see `ownSourceAddress`), for the far side of a
 * bridge. `listenIp`: the IP it listens on (its own requests come from there, though the world knows it by its address).
 * `networkKey`: a private network's key, which a bridge's far side needs (circuits need nothing: their two ends are this
 * node's own keyed links, and the splice carries what each decrypts).
 */
export type RelayNode = { localAddress?: string; listenIp?: string; networkKey?: Uint8Array };

type Reservation = { edgeId: string; publicKey: string; ip: string | null; circuits: number; bridges: number; bridgedTo: Set<string>; push(notice: Notice): void; end(): void };
/** Peers one reservation remembers as reached by its bridges. */
const MAX_BRIDGED_PEERS = 256;
/** A circuit waiting for its edge's CIRCUIT_ACCEPT: `accept` opens it and gives the handler for the edge's connection. */
type Waiting = { edgeId: string; accept(): (connection: CircuitEnd | null) => void; timer: ReturnType<typeof setTimeout> };

export class Relay {
  private readonly reservations = new Map<string, Reservation>();
  private readonly waiting = new Map<string, Waiting>();
  private circuits = 0;
  private readonly limits: SpliceLimits = { maxBytesPerDirection: MAX_CIRCUIT_BYTES, maxLifetimeMs: MAX_CIRCUIT_LIFETIME_MS };
  /** Pays for the connections bridges open: an edge cannot make this relay hammer one host. */
  private readonly budget = new ConnectBudget();

  constructor(
    /** This node's address (known once it joins: a mapped one may replace the one it listens on): edges are named `<address>/<edge id>`. */
    private readonly address: () => string,
    /** Reservations held at most; 0 relays nothing. */
    private readonly limit: number,
    private readonly warn: (message: string) => void,
    private readonly node: RelayNode = {},
  ) {}

  /** Edges reserved here. */
  get reserved(): number {
    return this.reservations.size;
  }

  /**
   * Pushes one notice down `edgeId`'s reservation: the integration point for anything a relay tells an edge
   * (INCOMING today; a connection reversal or a punch offer next). False when no such edge is reserved here.
   */
  notify(edgeId: string, notice: Notice): boolean {
    const reservation = this.reservations.get(edgeId);
    if (!reservation) return false;
    reservation.push(notice);
    return true;
  }

  /** Ends every reservation and refuses pending circuits: the node is leaving. */
  stop(): void {
    for (const reservation of [...this.reservations.values()]) reservation.end();
    for (const [token, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      this.waiting.delete(token);
    }
  }

  ops(): ServedOp[] {
    return [
      served(RELAY.RESERVE, (request) => this.reserve(RELAY.RESERVE.decodeArgs(request.args, request.body), request)),
      served(RELAY.CIRCUIT, (request) => this.circuit(RELAY.CIRCUIT.decodeArgs(request.args, request.body), request)),
      served(RELAY.CIRCUIT_ACCEPT, (request) => this.accept(RELAY.CIRCUIT_ACCEPT.decodeArgs(request.args, request.body))),
      served(RELAY.CONNECT_BACK, (request) => this.connectBack(RELAY.CONNECT_BACK.decodeArgs(request.args, request.body), request)),
      served(RELAY.BRIDGE, (request) => this.bridge(RELAY.BRIDGE.decodeArgs(request.args, request.body), request)),
    ];
  }

  private reserve(publicKey: string, request: Request): Promise<Reply> {
    if (this.limit === 0) throw new P2PError("UNAVAILABLE", "this node relays for nobody (--relay-limit 0); try another ring member");
    const edgeId = edgeIdOf(publicKey);
    if (this.reservations.has(edgeId)) throw new P2PError("CONFLICT", `edge ${edgeId} holds a reservation here already`);
    if (this.reservations.size >= this.limit) {
      throw new P2PError("UNAVAILABLE", `this relay's reservations are full (${this.reservations.size} of ${this.limit}, --relay-limit); try another ring member`);
    }
    return new Promise<Reply>((resolve) => {
      const end = () => {
        if (this.reservations.get(edgeId) === reservation) this.reservations.delete(edgeId);
        resolve(RELAY.RESERVE.encodeReply());
      };
      const reservation: Reservation = { edgeId, publicKey, ip: canonicalIp(request.remoteAddress), circuits: 0, bridges: 0, bridgedTo: new Set(), push: (notice) => request.progress([encodeNotice(notice)]), end };
      this.reservations.set(edgeId, reservation);
      request.signal.addEventListener("abort", end, { once: true });
      reservation.push({ kind: "RESERVED", args: [formatRelayed(this.address(), edgeId)] });
    });
  }

  private async circuit(edgeId: string, request: Request): Promise<Reply> {
    const reservation = this.reservations.get(edgeId);
    if (!reservation) throw new P2PError("NOT_FOUND", `no edge ${edgeId} holds a reservation at this relay`);
    const token = randomBytes(16).toString("hex");
    const pair = this.newCircuit(reservation);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting.delete(token);
          reject(new P2PError("UNAVAILABLE", `edge ${edgeId} did not accept the circuit within ${CIRCUIT_ACCEPT_TIMEOUT_MS} ms`));
        }, CIRCUIT_ACCEPT_TIMEOUT_MS);
        this.waiting.set(token, { edgeId, timer, accept: () => (resolve(), (connection) => pair.join("edge", connection)) });
        request.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          this.waiting.delete(token);
          reject(new P2PError("CLOSED", "the dialler hung up"));
        }, { once: true });
        // The dialler's IP as seen here: what the edge may send a hole punch's SYNs to (see PunchChannel.peerIp).
        const diallerIp = canonicalIp(request.remoteAddress);
        reservation.push({ kind: "INCOMING", args: diallerIp === null ? [token] : [token, diallerIp] });
      });
    } catch (error) {
      pair.abandon();
      throw error;
    }
    return { ...RELAY.CIRCUIT.encodeReply(reservation.ip ?? undefined), handOver: (connection) => pair.join("dialler", connection) };
  }

  /** The edge is told to dial the caller at the caller's own IP, as this relay sees it: nobody can aim an edge at a third host. */
  private connectBack({ edgeId, port, token }: { edgeId: string; port: number; token: string }, request: Request): Reply {
    const seen = canonicalIp(request.remoteAddress);
    if (seen === null) throw new P2PError("MALFORMED", "a connection reversal needs a caller with an IP address");
    const ip = this.worldIpOf(seen);
    const edgeIp = this.reservations.get(edgeId)?.ip;
    if (edgeIp && familyOf(edgeIp) !== familyOf(ip)) {
      throw new P2PError("CONFLICT", `edge ${edgeId} reached this relay over IPv${familyOf(edgeIp)} and cannot dial an IPv${familyOf(ip)} address back; open a circuit`);
    }
    if (!this.notify(edgeId, { kind: "DIAL", args: [formatAddress(ip, port), token] })) throw new P2PError("NOT_FOUND", `no edge ${edgeId} holds a reservation at this relay`);
    return RELAY.CONNECT_BACK.encodeReply();
  }

  /**
   * The IP an edge must dial to reach a caller this relay sees at `seen`. A caller inside this relay's own site (this
   * node itself, which links to itself where it listens, or a member behind the same NAT, whose connection the
   * router loops back from its LAN address) is reached by the world at this relay's public address, with the port
   * the caller names. Elsewhere: `seen`.
   */
  private worldIpOf(seen: string): string {
    const known = splitAddress(this.address()).ip;
    const { listenIp } = this.node;
    if (listenIp === undefined || known === listenIp) return seen;
    const sameSite = seen === listenIp || (isPrivate(seen) && isPrivate(listenIp) && !isPrivate(known));
    return sameSite ? known : seen;
  }

  /**
   * An edge's connection to a peer of the address family it has no route to: this relay connects there (paid from
   * its budget, and only to a p2p peer: one that answers PING) and splices the two, as a circuit.
   */
  private async bridge({ edgeId, target }: { edgeId: string; target: string }, request: Request): Promise<Reply> {
    const reservation = this.reservations.get(edgeId);
    if (!reservation) throw new P2PError("NOT_FOUND", `no edge ${edgeId} holds a reservation at this relay`);
    const from = canonicalIp(request.remoteAddress);
    if (from === null || from !== reservation.ip) throw new P2PError("CONFLICT", `only edge ${edgeId} itself, from the address it reserved from, may bridge through this relay`);
    const { ip, port } = splitAddress(target);
    if (familyOf(ip) === familyOf(from)) throw new P2PError("CONFLICT", `${target} is of this edge's own address family (IPv${familyOf(ip)}): connect to it directly`);
    const pair = this.newCircuit(reservation, "bridges");
    try {
      // The first link to a peer is paid from the budget; an edge then holds a few links to each peer it uses (ring,
      // transfers, availability), which its circuit cap bounds.
      const known = reservation.bridgedTo.has(target);
      const far = known ? await this.dialPeer(ip, port) : await this.budget.spend(ip, from, () => this.dialPeer(ip, port));
      if (!known && reservation.bridgedTo.size < MAX_BRIDGED_PEERS) reservation.bridgedTo.add(target);
      pair.join("edge", far as CircuitEnd);
    } catch (error) {
      pair.abandon();
      throw error;
    }
    return { ...RELAY.BRIDGE.encodeReply(), handOver: (connection) => pair.join("dialler", connection) };
  }

  /**
   * The far side of a bridge: a connection to a peer that answered PING. Every failure reads the same, so a bridge
   * tells an edge nothing of a port that is no p2p peer (closed, silent, or another service's banner).
   */
  private async dialPeer(ip: string, port: number): Promise<CircuitEnd> {
    try {
      const { localAddress, networkKey } = this.node;
      const client = await connect({ hostname: ip, port }, { connectTimeoutMs: CIRCUIT_ACCEPT_TIMEOUT_MS, localAddress, networkKey });
      return await client.handOver("PING", [], CIRCUIT_ACCEPT_TIMEOUT_MS);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      throw new P2PError("UNAVAILABLE", `${formatAddress(ip, port)} did not answer as a p2p peer; the relay opened no bridge`);
    }
  }

  /** A circuit (or bridge) counted against the relay's and the edge's limits until it ends; 503 past either. */
  private newCircuit(reservation: Reservation, kind: "circuits" | "bridges" = "circuits"): CircuitPair {
    const limit = kind === "circuits" ? MAX_CIRCUITS_PER_EDGE : MAX_BRIDGES_PER_EDGE;
    if (this.circuits >= MAX_CIRCUITS) throw new P2PError("UNAVAILABLE", `this relay carries ${MAX_CIRCUITS} circuits already; try again later`);
    if (reservation[kind] >= limit) throw new P2PError("UNAVAILABLE", `edge ${reservation.edgeId} has ${limit} ${kind} open already; try again later`);
    this.circuits++;
    reservation[kind]++;
    const release = () => {
      this.circuits--;
      reservation[kind]--;
    };
    return new CircuitPair(this.limits, release, (message) => this.warn(message));
  }

  private accept(token: string): Reply {
    const waiting = this.waiting.get(token);
    if (!waiting) throw new P2PError("NOT_FOUND", "no circuit waits for that token (it timed out, or was never offered)");
    this.waiting.delete(token);
    clearTimeout(waiting.timer);
    return { ...RELAY.CIRCUIT_ACCEPT.encodeReply(), handOver: waiting.accept() };
  }
}

/** One relay op served from its definition, its handler given the raw request (its reply may hand the connection over). */
function served(op: { name: string; usage: string; minArgs: number; maxArgs: number }, handle: (request: Request) => Reply | Promise<Reply>): ServedOp {
  return { name: op.name, usage: op.usage, minArgs: op.minArgs, maxArgs: op.maxArgs, handle };
}

function bytesFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}
