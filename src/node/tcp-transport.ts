// The ring's transport over TCP: pooled persistent connections per peer, every call bounded by a timeout.

import { BodyPool } from "../protocol/body-pool";
import { connect, type ProtocolClient } from "../protocol/client";
import { P2PError } from "../protocol/errors";
import { decodeLines } from "../protocol/frame";
import type { RingId } from "./ring/id";
import type { RecordEntry } from "./ring/records";
import type { LookupStep, Neighbours, Peer, RingTransport } from "./ring/transport";
import {
  MAX_AVOID,
  MAX_RECORDS_PER_MESSAGE,
  decodeJson,
  encodeJson,
  parsePeerLine,
  parseRecordEntries,
  peerArgs,
  splitAddress,
} from "./ring-wire";

export const DEFAULT_RPC_TIMEOUT_MS = 2_000;

/**
 * Which pooled connection to a peer carries a call. Replies on one connection come back in request
 * order, so a PING queued behind chunks that a rate-limited holder sends slowly would time out and
 * the holder would look dead: ring upkeep and bulk transfers never share a connection. A GET_HAVE
 * may wait at the holder for news, so availability has its own connection too.
 */
export type Channel = "ring" | "bulk" | "have";

/** Bulk reply bodies are read into pooled buffers of this size: a 1 MiB chunk and GET_ANY_CHUNK's 4-byte index. */
export const BULK_BODY_CAPACITY = 1024 * 1024 + 64;
/** Buffers the pool keeps: a download holds at most 16 chunks, and a few downloads may run at once. */
const MAX_POOLED_BODIES = 48;

export class TcpTransport implements RingTransport {
  private readonly pool = new Map<string, Promise<ProtocolClient>>();
  private readonly rpcTimeoutMs: number;
  /** Where chunk bodies are read into; `releaseBody` gives them back once their bytes are on disk. */
  private readonly bodies = new BodyPool(BULK_BODY_CAPACITY, MAX_POOLED_BODIES);
  private closed = false;

  constructor(options: { rpcTimeoutMs?: number } = {}) {
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  }

  /** Hands a bulk reply body back for reuse; its bytes must not be used afterwards. */
  releaseBody(bytes: Uint8Array): void {
    this.bodies.release(bytes);
  }

  async findSuccessorStep(to: Peer, key: RingId, avoid: string[]): Promise<LookupStep> {
    const args = avoid.length > 0 ? [key, avoid.slice(0, MAX_AVOID).join(",")] : [key];
    const [line] = await this.lines(to, "FIND_SUCCESSOR", args);
    if (!line) throw new P2PError("MALFORMED", `${to.address} answered FIND_SUCCESSOR with nothing`);
    const { role, peer } = parsePeerLine(line);
    return { done: role === "successor", peer };
  }

  async getNeighbours(to: Peer): Promise<Neighbours> {
    const neighbours: Neighbours = { predecessor: null, successors: [] };
    for (const line of await this.lines(to, "GET_NEIGHBOURS", [])) {
      const { role, peer } = parsePeerLine(line);
      if (role === "predecessor") neighbours.predecessor = peer;
      else neighbours.successors.push(peer);
    }
    return neighbours;
  }

  async notify(to: Peer, candidate: Peer): Promise<void> {
    await this.call(to, "UPDATE_PREDECESSOR", peerArgs(candidate));
  }

  async ping(to: Peer): Promise<void> {
    await this.call(to, "PING", []);
  }

  async putRecords(to: Peer, entries: RecordEntry[]): Promise<number> {
    let changed = 0;
    for (let at = 0; at < entries.length; at += MAX_RECORDS_PER_MESSAGE) {
      const batch = entries.slice(at, at + MAX_RECORDS_PER_MESSAGE);
      changed += Number(decodeLines(await this.call(to, "PUT_RECORDS", [], encodeJson(batch)))[0] ?? 0);
    }
    return changed;
  }

  async getRecords(to: Peer, key: RingId): Promise<RecordEntry[]> {
    return parseRecordEntries(decodeJson(await this.call(to, "GET_RECORDS", [key]), `GET_RECORDS reply from ${to.address}`));
  }

  async leaving(to: Peer, leaver: Peer, predecessor: Peer | null, successors: Peer[]): Promise<void> {
    await this.call(to, "LEAVING", peerArgs(leaver), encodeJson({ predecessor, successors }));
  }

  /** Closes every pooled connection; later calls fail with CLOSED. */
  close(): void {
    this.closed = true;
    for (const pending of this.pool.values()) pending.then((client) => client.close(), () => {});
    this.pool.clear();
  }

  private async lines(to: Peer, op: string, args: string[]): Promise<string[]> {
    return decodeLines(await this.call(to, op, args));
  }

  private call(to: Peer, op: string, args: string[], body?: Uint8Array): Promise<Uint8Array> {
    return this.request(to.address, op, args, { body });
  }

  /**
   * Any op to the node at `address` over a pooled connection (the file-sharing ops use it too).
   * `timeoutMs` bounds how long the peer may stay silent while this reply is due, not the whole call.
   */
  async request(
    address: string,
    op: string,
    args: string[],
    options: { body?: Uint8Array; timeoutMs?: number; channel?: Channel } = {},
  ): Promise<Uint8Array> {
    const channel = options.channel ?? "ring";
    const poolKey = `${channel}/${address}`;
    const client = await this.clientFor(poolKey, address, channel === "bulk" ? this.bodies : undefined);
    // A broken connection stays in the pool until the next call finds it closed and reconnects.
    const reply = await client.request(op, args, { timeoutMs: options.timeoutMs ?? this.rpcTimeoutMs, body: options.body });
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
    const { ip, port } = splitAddress(address);
    pending = connect({ hostname: ip, port }, { connectTimeoutMs: this.rpcTimeoutMs, bodyPool });
    this.pool.set(poolKey, pending);
    try {
      return await pending;
    } catch (error) {
      if (this.pool.get(poolKey) === pending) this.pool.delete(poolKey);
      throw error;
    }
  }
}
