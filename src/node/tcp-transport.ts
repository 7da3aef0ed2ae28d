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
import { type DirectLink, RelayedUpgrades } from "./relay/relayed-upgrade";
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
   * `again`: a relayed link's later try, whatever the last one said.
   */
  connectBack: ((relayed: { relay: string; edgeId: string }, again?: boolean) => Promise<ProtocolClient | null>) | null = null;
  /**
   * Punches a hole to an edge over the circuit just opened to it (src/node/relay/punch-dial.ts); null stays on the
   * circuit. `edgeIp` is where the relay sees the edge (its CIRCUIT reply), when it says. `again`: a relayed link's
   * later try (plain punches only, whatever the last try said).
   */
  punch: ((circuit: ProtocolClient, relayed: { relay: string; edgeId: string; edgeIp?: string }, address: string, again?: boolean) => Promise<{ client: ProtocolClient; path: "direct" | "punched" } | null>) | null = null;
  /** Links to peers of an address family this node has no route to, through its relay (an IPv6-only edge, src/node/relay/bridge-dial.ts). */
  bridge: Bridge | null = null;
  /**
   * Where this node itself listens when peers know it by another address (a router's port mapping, `--advertise`):
   * a link to its own address goes straight there, not out through a router that may not loop it back.
   */
  private ownAddress: { known: string; listening: string } | null = null;
  /** How the last link to each relayed address was made (see `pathTo`); bounded by the pool's addresses. */
  private readonly paths = new Map<string, LinkPath>();
  /** Transfers through an edge's relay move to a direct path found later (src/node/relay/relayed-upgrade.ts). */
  private readonly upgrades: RelayedUpgrades;

  /**
   * `networkKey`: the private network's key; every connection then runs the handshake first.
   * `localAddress`: the IP every connection is made from (see `ownSourceAddress`).
   */
  constructor(options: { rpcTimeoutMs?: number; networkKey?: Uint8Array; localAddress?: string; info?: (message: string) => void } = {}) {
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.networkKey = options.networkKey;
    this.localAddress = options.localAddress;
    this.upgrades = new RelayedUpgrades({
      tryDirect: (address) => this.directPath(address),
      swap: (poolKey, address, from, to) => this.swap(poolKey, address, from, to),
      info: options.info ?? (() => {}),
    });
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
    // A transfer's link through a relay keeps looking for a direct path; ring upkeep's few bytes stay where they are.
    if (channel === "bulk") this.upgrades.consider(poolKey, address, client);
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
    if (!relayed) {
      const { client, bridged } = await this.connectTo(address, bodyPool);
      if (bridged) this.paths.set(address, bridged);
      return client;
    }
    const { client, bridged, edgeIp } = await this.openCircuit(relayed, bodyPool);
    // Both sides behind NAT: the circuit carries a hole punch, and the punched link replaces it when one opens.
    // Not over a bridge: the two sides are of different address families, no hole joins them.
    const punched = this.punch && !bridged ? await this.punch(client, { ...relayed, ...(edgeIp ? { edgeIp } : {}) }, address) : null;
    this.paths.set(address, punched ? punched.path : "relayed");
    if (!punched) {
      if (!bridged) this.upgrades.markRelayed(client);
      return client;
    }
    client.close();
    return punched.client;
  }

  /**
   * A connection to `address` itself (a relay's, or a peer's), over this node's relay when it has no route to that
   * family; `bridged` is then how that link runs.
   */
  private async connectTo(address: string, bodyPool: BodyPool | undefined): Promise<{ client: ProtocolClient; bridged: LinkPath | null }> {
    const { ip, port } = splitAddress(address === this.ownAddress?.known ? this.ownAddress.listening : address);
    const bridged = this.bridge !== null && this.bridge.needed(ip) ? await this.bridge.open(formatAddress(ip, port), bodyPool) : null;
    if (bridged) return { client: bridged.client, bridged: bridged.path };
    return { client: await connect({ hostname: ip, port }, { connectTimeoutMs: this.rpcTimeoutMs, bodyPool, networkKey: this.networkKey, localAddress: this.localAddress }), bridged: null };
  }

  /** A circuit to the edge `relayed` names (CIRCUIT on a connection to its relay); `edgeIp`: where the relay sees the edge, when it says. */
  private async openCircuit(relayed: { relay: string; edgeId: string }, bodyPool: BodyPool | undefined): Promise<{ client: ProtocolClient; bridged: boolean; edgeIp?: string }> {
    const { client, bridged: bridgedPath } = await this.connectTo(relayed.relay, bodyPool);
    const bridged = bridgedPath !== null;
    try {
      const request = RELAY.CIRCUIT.encodeArgs(relayed.edgeId);
      const reply = await client.request(RELAY.CIRCUIT.name, request.args, { timeoutMs: Math.max(this.rpcTimeoutMs, CIRCUIT_OPEN_TIMEOUT_MS) });
      const edgeIp = RELAY.CIRCUIT.decodeReply(reply.body, relayed.relay, relayed.edgeId);
      return { client, bridged, ...(edgeIp ? { edgeIp } : {}) };
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** One try for a link to the edge at the relayed `address` that skips its relay: a reversal, else a plain punch over a circuit of its own. */
  private async directPath(address: string): Promise<DirectLink | null> {
    const relayed = parseRelayed(address);
    if (!relayed || this.closed) return null;
    const reversed = this.connectBack ? await this.connectBack(relayed, true) : null;
    if (reversed) return { client: reversed, path: "reversed" };
    if (!this.punch) return null;
    const { client: circuit, bridged, edgeIp } = await this.openCircuit(relayed, undefined);
    try {
      return bridged ? null : await this.punch(circuit, { ...relayed, ...(edgeIp ? { edgeIp } : {}) }, address, true);
    } finally {
      circuit.close();
    }
  }

  /** Puts the direct link `to` in the pool in place of the relayed `from`, if the pool still holds it. */
  private async swap(poolKey: string, address: string, from: ProtocolClient, to: DirectLink): Promise<boolean> {
    const pending = this.pool.get(poolKey);
    if (this.closed || !pending || (await pending.catch(() => null)) !== from || this.pool.get(poolKey) !== pending) return false;
    this.pool.set(poolKey, Promise.resolve(to.client));
    this.paths.set(address, to.path);
    return true;
  }
}
