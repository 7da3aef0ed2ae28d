// A ring member's relay for edge nodes: reservations (each a notice channel), circuits spliced between a dialler and an edge, all bounded.

import { randomBytes } from "node:crypto";
import type { FramedConnection } from "../../protocol/connection";
import { formatAddress } from "../../protocol/address";
import { P2PError } from "../../protocol/errors";
import { canonicalIp } from "../../protocol/ip";
import type { RequestHead } from "../../protocol/frame";
import type { Reply, Request } from "../../protocol/ops";
import { edgeIdOf, formatRelayed } from "../../protocol/relayed-address";
import { splice, type SpliceLimits } from "../../protocol/splice";
import type { ServedOp } from "../../wire/op";
import { CIRCUIT_ACCEPT_TIMEOUT_MS, encodeNotice, type Notice, RELAY } from "../../wire/relay";

/**
 * Reservations a relay holds by default (--relay-limit). Each costs an idle connection and a keepalive every
 * 5 s; what costs is the circuits' traffic, bounded below. 16 lets a relay carry a home network's edges
 * without one relay holding many: with a few relays among the ring members every edge finds one.
 */
export const DEFAULT_RELAY_LIMIT = 16;
/** Circuits open at once to one edge: each downloader holds two or three (ring, availability, chunks), pooled for up to 60 s idle after its download. */
export const MAX_CIRCUITS_PER_EDGE = 32;
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

type Reservation = { edgeId: string; publicKey: string; circuits: number; push(notice: Notice): void; end(): void };
/** A circuit waiting for its edge's CIRCUIT_ACCEPT: `accept` opens it and gives the handler for the edge's connection. */
type Waiting = { edgeId: string; accept(): (connection: FramedConnection<RequestHead> | null) => void; timer: ReturnType<typeof setTimeout> };

export class Relay {
  private readonly reservations = new Map<string, Reservation>();
  private readonly waiting = new Map<string, Waiting>();
  private circuits = 0;
  private readonly limits: SpliceLimits = { maxBytesPerDirection: MAX_CIRCUIT_BYTES, maxLifetimeMs: MAX_CIRCUIT_LIFETIME_MS };

  constructor(
    /** This node's address: edges are named `<address>/<edge id>`. */
    private readonly address: string,
    /** Reservations held at most; 0 relays nothing. */
    private readonly limit: number,
    private readonly warn: (message: string) => void,
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
      const reservation: Reservation = { edgeId, publicKey, circuits: 0, push: (notice) => request.progress([encodeNotice(notice)]), end };
      this.reservations.set(edgeId, reservation);
      request.signal.addEventListener("abort", end, { once: true });
      reservation.push({ kind: "RESERVED", args: [formatRelayed(this.address, edgeId)] });
    });
  }

  private async circuit(edgeId: string, request: Request): Promise<Reply> {
    const reservation = this.reservations.get(edgeId);
    if (!reservation) throw new P2PError("NOT_FOUND", `no edge ${edgeId} holds a reservation at this relay`);
    if (this.circuits >= MAX_CIRCUITS) throw new P2PError("UNAVAILABLE", `this relay carries ${MAX_CIRCUITS} circuits already; try again later`);
    if (reservation.circuits >= MAX_CIRCUITS_PER_EDGE) throw new P2PError("UNAVAILABLE", `edge ${edgeId} has ${MAX_CIRCUITS_PER_EDGE} circuits open already; try again later`);
    const token = randomBytes(16).toString("hex");
    this.circuits++;
    reservation.circuits++;
    const release = () => {
      this.circuits--;
      reservation.circuits--;
    };
    const pair = new CircuitPair(this.limits, release, (message) => this.warn(message));
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
        reservation.push({ kind: "INCOMING", args: [token] });
      });
    } catch (error) {
      pair.abandon();
      throw error;
    }
    return { ...RELAY.CIRCUIT.encodeReply(), handOver: (connection) => pair.join("dialler", connection) };
  }

  /** The edge is told to dial the caller at the caller's own IP, as this relay sees it: nobody can aim an edge at a third host. */
  private connectBack({ edgeId, port, token }: { edgeId: string; port: number; token: string }, request: Request): Reply {
    const ip = canonicalIp(request.remoteAddress);
    if (ip === null) throw new P2PError("MALFORMED", "a connection reversal needs a caller with an IP address");
    if (!this.notify(edgeId, { kind: "DIAL", args: [formatAddress(ip, port), token] })) throw new P2PError("NOT_FOUND", `no edge ${edgeId} holds a reservation at this relay`);
    return RELAY.CONNECT_BACK.encodeReply();
  }

  private accept(token: string): Reply {
    const waiting = this.waiting.get(token);
    if (!waiting) throw new P2PError("NOT_FOUND", "no circuit waits for that token (it timed out, or was never offered)");
    this.waiting.delete(token);
    clearTimeout(waiting.timer);
    return { ...RELAY.CIRCUIT_ACCEPT.encodeReply(), handOver: waiting.accept() };
  }
}

/**
 * The two connections of one circuit, handed over one after the other: the first is held (read paused, any
 * early bytes kept) until the second arrives, then both are spliced. One that never comes ends the other.
 */
class CircuitPair {
  private readonly ends: { dialler?: FramedConnection<RequestHead>; edge?: FramedConnection<RequestHead> } = {};
  private readonly early: { dialler: Uint8Array[]; edge: Uint8Array[] } = { dialler: [], edge: [] };
  private released = false;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly limits: SpliceLimits,
    private readonly release: () => void,
    private readonly warn: (message: string) => void,
  ) {
    this.timer = setTimeout(() => this.abandon(), CIRCUIT_ACCEPT_TIMEOUT_MS * 2);
  }

  /** `connection` null: the session could not hand it over (its peer sent more after its request): no circuit. */
  join(side: "dialler" | "edge", connection: FramedConnection<RequestHead> | null): void {
    if (connection === null) return this.abandon();
    this.ends[side] = connection;
    connection.divert({ data: (chunk) => (this.early[side].push(chunk.slice()), connection.pauseReading()), drained: () => {} });
    const { dialler, edge } = this.ends;
    if (!dialler || !edge) return;
    clearTimeout(this.timer);
    const circuit = splice(dialler, edge, this.limits);
    if (this.early.dialler.length > 0) edge.write(this.early.dialler);
    if (this.early.edge.length > 0) dialler.write(this.early.edge);
    dialler.resumeReading();
    edge.resumeReading();
    void circuit.ended.then((reason) => {
      this.free();
      if (reason?.message.includes("cap")) this.warn(`circuit cut: ${reason.message}`);
    });
  }

  /** The circuit never opened: whichever end arrived is closed, and its counts given back. */
  abandon(): void {
    clearTimeout(this.timer);
    this.ends.dialler?.destroy();
    this.ends.edge?.destroy();
    this.free();
  }

  private free(): void {
    if (this.released) return;
    this.released = true;
    this.release();
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
