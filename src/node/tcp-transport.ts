// The ring's transport over TCP: pooled persistent connections per peer, every call bounded by a timeout.

import { BodyPool } from "../protocol/body-pool";
import { connect, type ProtocolClient } from "../protocol/client";
import { P2PError } from "../protocol/errors";
import { splitAddress } from "../wire/codec";
import type { OpDef } from "../wire/op";
import { ringCalls } from "../wire/ring";
import { CIRCUIT_OPEN_TIMEOUT_MS, RELAY } from "../wire/relay";
import { parseRelayed } from "../protocol/relayed-address";
import { formatAddress } from "../protocol/address";
import type { Bridge } from "./relay/bridge-dial";
import { DEFAULT_RPC_TIMEOUT_MS } from "./defaults";
import type { RingTransport } from "../model/ring-transport";

export { DEFAULT_RPC_TIMEOUT_MS };

/**
 * Which pooled connection to a peer carries a call. Replies on one connection come back in request
 * order, so a PING queued behind chunks that a rate-limited holder sends slowly would time out and
 * the holder would look dead: ring upkeep and bulk transfers never share a connection. A GET_HAVE
 * may wait at the holder for news, so availability has its own connection too.
 */
export type Channel = "ring" | "bulk" | "have";

/** How a link to a peer runs: straight to it, dialled back by an edge node (reversed), through a punched hole, or through an edge's relay. */
export type LinkPath = "direct" | "reversed" | "punched" | "relayed";

/** Bulk reply bodies are read into pooled buffers of this size: a 1 MiB chunk and GET_ANY_CHUNK's 4-byte index. */
export const BULK_BODY_CAPACITY = 1024 * 1024 + 64;
/** Buffers the pool keeps: a download holds at most 16 chunks, and a few downloads may run at once. */
const MAX_POOLED_BODIES = 48;

/**
 * The IP a node at `ip` connects from: its own when it is a loopback address, where Linux would
 * otherwise send every connection from 127.0.0.1, so peers and the DNS see each node of a local testnet
 * as itself (the DNS then takes a JOIN as coming from the node it names). Elsewhere the system chooses,
 * which on a host that listens on its own address is that address.
 */
export function ownSourceAddress(ip: string): string | undefined {
  return ip.startsWith("127.") || ip === "::1" ? ip : undefined;
}

export class TcpTransport implements RingTransport {
  private readonly pool = new Map<string, Promise<ProtocolClient>>();
  private readonly rpcTimeoutMs: number;
  /** Where chunk bodies are read into; `releaseBody` gives them back once their bytes are on disk. */
  private readonly bodies = new BodyPool(BULK_BODY_CAPACITY, MAX_POOLED_BODIES);
  private closed = false;
  private readonly networkKey: Uint8Array | undefined;
  private readonly localAddress: string | undefined;
  /**
   * Hears a ring connection to `address` closed by the peer's side (code CLOSED): a crashed neighbour
   * shows at once, rather than at the next maintenance round, which may be seconds away.
   */
  onRingLinkLost: (address: string) => void = () => {};
  /**
   * Asks an edge, through its relay, to dial this node back and resolves with that link, or null when this node
   * cannot be reached or the edge did not come (src/node/relay/connect-back.ts); unset, edges are reached by circuit.
   */
  connectBack: ((relayed: { relay: string; edgeId: string }) => Promise<ProtocolClient | null>) | null = null;
  /**
   * Punches a hole to an edge over the circuit just opened to it (src/node/relay/punch-dial.ts); null stays on the
   * circuit. `edgeIp` is where the relay sees the edge (its CIRCUIT reply), when it says.
   */
  punch: ((circuit: ProtocolClient, relayed: { relay: string; edgeId: string; edgeIp?: string }, address: string) => Promise<{ client: ProtocolClient; path: "direct" | "punched" } | null>) | null = null;
  /** Links to peers of an address family this node has no route to, through its relay (an IPv6-only edge, src/node/relay/bridge-dial.ts). */
  bridge: Bridge | null = null;
  /**
   * Where this node itself listens when peers know it by another address (a router's port mapping, `--advertise`):
   * a link to its own address goes straight there, not out through a router that may not loop it back.
   */
  private ownAddress: { known: string; listening: string } | null = null;
  /** How the last link to each relayed address was made (see `pathTo`); bounded by the pool's addresses. */
  private readonly paths = new Map<string, LinkPath>();

  /**
   * `networkKey`: the private network's key; every connection then runs the handshake first.
   * `localAddress`: the IP every connection is made from (see `ownSourceAddress`).
   */
  constructor(options: { rpcTimeoutMs?: number; networkKey?: Uint8Array; localAddress?: string } = {}) {
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.networkKey = options.networkKey;
    this.localAddress = options.localAddress;
  }

  /** This node is known as `known` but listens at `listening` (see `ownAddress`). */
  knownAs(known: string, listening: string): void {
    this.ownAddress = known === listening ? null : { known, listening };
  }

  /** Hands a bulk reply body back for reuse; its bytes must not be used afterwards. */
  releaseBody(bytes: Uint8Array): void {
    this.bodies.release(bytes);
  }

  /** The ring's calls, encoded and checked by the ring link's op definitions (src/wire/ring.ts). */
  private readonly ring = ringCalls((to, op, args) => this.send(to.address, op, args));
  readonly findSuccessorStep = this.ring.findSuccessorStep;
  readonly getNeighbours = this.ring.getNeighbours;
  readonly notify = this.ring.notify;
  readonly ping = this.ring.ping;
  readonly putRecords = this.ring.putRecords;
  readonly getRecords = this.ring.getRecords;
  readonly leaving = this.ring.leaving;

  /** One op of any link to the node at `address`, over the pooled connection of `channel`. */
  async send<Args, Result>(
    address: string,
    op: OpDef<Args, Result>,
    args: Args,
    options: { timeoutMs?: number; deadlineMs?: number; channel?: Channel; stream?: string } = {},
  ): Promise<Result> {
    const request = op.encodeArgs(args);
    return op.decodeReply(await this.request(address, op.name, request.args, { ...options, body: request.body }), address, args);
  }

  /**
   * Closes the connections of one stream (see `request`). The peers drop what they still had queued
   * for them: a cancelled download stops costing its holders upload at once.
   */
  closeStream(stream: string): void {
    const marker = `+${stream}/`;
    for (const [poolKey, pending] of this.pool) {
      if (!poolKey.includes(marker)) continue;
      this.pool.delete(poolKey);
      pending.then((client) => client.close(), () => {});
    }
  }

  /** Closes every pooled connection; later calls fail with CLOSED. */
  close(): void {
    this.closed = true;
    this.bodies.close();
    for (const pending of this.pool.values()) pending.then((client) => client.close(), () => {});
    this.pool.clear();
  }

  /**
   * Any op to the node at `address` over a pooled connection (the file-sharing ops use it too).
   * `timeoutMs` bounds how long the peer may stay silent while this reply is due, not the whole call.
   * A `stream` (one download's) gets connections of its own, which `closeStream` closes together.
   */
  async request(
    address: string,
    op: string,
    args: string[],
    options: { body?: Uint8Array; timeoutMs?: number; deadlineMs?: number; channel?: Channel; stream?: string } = {},
  ): Promise<Uint8Array> {
    const channel = options.channel ?? "ring";
    const poolKey = options.stream === undefined ? `${channel}/${address}` : `${channel}+${options.stream}/${address}`;
    const client = await this.clientFor(poolKey, address, channel === "bulk" ? this.bodies : undefined);
    // A broken connection stays in the pool until the next call finds it closed and reconnects.
    const reply = await client.request(op, args, { timeoutMs: options.timeoutMs ?? this.rpcTimeoutMs, deadlineMs: options.deadlineMs, body: options.body });
    return reply.body;
  }

  private async clientFor(poolKey: string, address: string, bodyPool?: BodyPool): Promise<ProtocolClient> {
    if (this.closed) throw new P2PError("CLOSED", "this node is shutting down");
    let pending = this.pool.get(poolKey);
    if (pending) {
      const client = await pending.catch(() => null);
      if (client && !client.isClosed) return client;
      if (this.pool.get(poolKey) === pending) this.pool.delete(poolKey);
    }
    pending = this.open(address, bodyPool);
    this.pool.set(poolKey, pending);
    try {
      const client = await pending;
      if (poolKey === `ring/${address}`) {
        client.onLost = (error) => {
          if (error.code === "CLOSED" && !this.closed) this.onRingLinkLost(address);
        };
      }
      return client;
    } catch (error) {
      if (this.pool.get(poolKey) === pending) this.pool.delete(poolKey);
      throw error;
    }
  }

  /** How the last link to `address` was made: itself, a reversal by the edge it names, or a circuit through its relay. */
  pathTo(address: string): LinkPath {
    return this.paths.get(address) ?? (parseRelayed(address) ? "relayed" : "direct");
  }

  /**
   * A connection to `address`; to an edge's relayed address (`ip:port/<edge id>`), a connection to its relay
   * turned into a circuit to the edge (CIRCUIT), over which the caller speaks to the edge as to anyone.
   */
  private async open(address: string, bodyPool: BodyPool | undefined): Promise<ProtocolClient> {
    const relayed = parseRelayed(address);
    // A direct path first: the edge dials this node back (connection reversal), if this node can be reached.
    const reversed = relayed && this.connectBack ? await this.connectBack(relayed) : null;
    if (reversed) {
      this.paths.set(address, "reversed");
      return reversed;
    }
    const target = relayed ? relayed.relay : address;
    const { ip, port } = splitAddress(target === this.ownAddress?.known ? this.ownAddress.listening : target);
    const bridged = this.bridge !== null && this.bridge.needed(ip) ? await this.bridge.open(formatAddress(ip, port), bodyPool) : null;
    const client = bridged
      ? bridged.client
      : await connect({ hostname: ip, port }, { connectTimeoutMs: this.rpcTimeoutMs, bodyPool, networkKey: this.networkKey, localAddress: this.localAddress });
    if (bridged) this.paths.set(address, bridged.path);
    if (!relayed) return client;
    let edgeIp: string | undefined;
    try {
      const request = RELAY.CIRCUIT.encodeArgs(relayed.edgeId);
      const reply = await client.request(RELAY.CIRCUIT.name, request.args, { timeoutMs: Math.max(this.rpcTimeoutMs, CIRCUIT_OPEN_TIMEOUT_MS) });
      edgeIp = RELAY.CIRCUIT.decodeReply(reply.body, relayed.relay, relayed.edgeId);
    } catch (error) {
      client.close();
      throw error;
    }
    // Both sides behind NAT: the circuit carries a hole punch, and the punched link replaces it when one opens.
    // Not over a bridge: the two sides are of different address families, no hole joins them.
    const punched = this.punch && bridged === null ? await this.punch(client, { ...relayed, ...(edgeIp ? { edgeIp } : {}) }, address) : null;
    this.paths.set(address, punched ? punched.path : "relayed");
    if (!punched) return client;
    client.close();
    return punched.client;
  }
}
