// Client reads and writes of records: a put or removal sent to the key's primary and its replicas, a read merged from both.

import { isP2PError, P2PError } from "../../protocol/errors";
import { MAX_RECORD_LIFETIME_MS } from "./admission";
import { ringDistance, type RingId } from "../../model/id";
import type { Lookup } from "./lookup";
import type { RecordIntake } from "./record-intake";
import type { RecordPusher } from "./record-pusher";
import type { RecordEntry } from "../../model/record";
import type { RecordStore } from "./records";
import type { RoutingTable } from "./routing-table";
import type { Neighbours, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

export type RecordClientOptions = {
  table: RoutingTable;
  transport: RingTransport;
  lookup: Lookup;
  store: RecordStore;
  /** Where this node's own share of a write lands, as if a peer had sent it. */
  intake: RecordIntake;
  pusher: RecordPusher;
  /** Copies of each record: on its primary and on the next `replicas - 1` successors. */
  replicas: number;
  /** How long a removal is remembered, so a late replica cannot bring the member back. */
  tombstoneTtlMs: number;
  clock: () => number;
  signEntry: (entry: RecordEntry) => RecordEntry;
};

export class RecordClient {
  private readonly options: RecordClientOptions;
  private lastStamp = 0;

  constructor(options: RecordClientOptions) {
    this.options = options;
  }

  /**
   * Stores `value` for `member` under `key` on its primary (checked by the caller), which replicates it.
   * It lives `ttlMs`, at most (and by default) MAX_RECORD_LIFETIME_MS: peers store nothing that lives longer.
   */
  put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer> {
    const updatedAt = this.stamp();
    const expiresAt = updatedAt + Math.min(ttlMs ?? MAX_RECORD_LIFETIME_MS, MAX_RECORD_LIFETIME_MS);
    return this.sendToPrimary(key, [this.options.signEntry({ key, member, value, updatedAt, expiresAt, deleted: false })]);
  }

  /** Removes `member` from `key` by storing a tombstone. */
  remove(key: RingId, member: string): Promise<Peer> {
    const updatedAt = this.stamp();
    const expiresAt = updatedAt + this.options.tombstoneTtlMs;
    return this.sendToPrimary(key, [this.options.signEntry({ key, member, value: "", updatedAt, expiresAt, deleted: true })]);
  }

  /**
   * Sends entries for `key` to its primary (this node included), routing around nodes that do not
   * answer, and to the key's replicas as this node sees them: a primary that swallows what it is
   * sent cannot keep it from the nodes after it.
   */
  async sendToPrimary(key: RingId, entries: RecordEntry[]): Promise<Peer> {
    const { table, lookup, transport } = this.options;
    const avoid = new Set<string>();
    let refusal: string | null = null;
    for (let attempt = 0; attempt <= table.successorListLength; attempt++) {
      const { peer, neighbours } = await lookup.route(null, key, avoid, { confirm: true });
      if (peer.address === table.self.address) {
        this.options.intake.accept(entries);
        return table.self;
      }
      try {
        await transport.putRecords(peer, entries);
      } catch (error) {
        table.noteFailure(error, peer);
        if (isP2PError(error)) refusal = `${peer.address} answered: ${error.message}`;
        avoid.add(peer.address);
        continue;
      }
      await this.pushToReplicas(peer, this.replicasAfter(peer, await this.successorsOf(peer, neighbours), avoid), entries);
      return peer;
    }
    // The last answer says why (a quota, a clock): "no live node" alone would hide it.
    throw new P2PError("UNAVAILABLE", `no live node accepts records for key ${key}${refusal === null ? "" : ` (${refusal})`}`);
  }

  /** The live members of `key`, read from its primary (or the next live replica) and merged with what its replicas hold. */
  async readFromPrimary(key: RingId): Promise<RecordEntry[]> {
    const { table, lookup } = this.options;
    const avoid = new Set<string>();
    for (let attempt = 0; attempt <= table.successorListLength; attempt++) {
      const { peer, neighbours } = await lookup.route(null, key, avoid, { confirm: true });
      try {
        const primary = await this.readFrom(peer, key);
        return mergeReads(key, primary, await this.readReplicas(peer, key, neighbours, avoid));
      } catch (error) {
        table.noteFailure(error, peer);
        avoid.add(peer.address);
      }
    }
    throw new P2PError("UNAVAILABLE", `no live node holds key ${key}`);
  }

  /**
   * The `replicas - 1` nodes nearest after `primary` among those it names as its successors and
   * those this node knows of (itself included): a primary that names nobody, or strangers far
   * away, cannot steer reads and writes away from the nodes that really follow it.
   */
  replicasAfter(primary: Peer, named: readonly Peer[], avoid: ReadonlySet<string>): Peer[] {
    const table = this.options.table;
    const candidates = new Map<string, Peer>();
    for (const peer of [...named, table.self, ...table.nearestKnownPeers(avoid)]) {
      if (peer.address === primary.address || avoid.has(peer.address) || table.isDead(peer.address)) continue;
      candidates.set(peer.address, peer);
    }
    return [...candidates.values()]
      .sort((a, b) => {
        const [da, db] = [ringDistance(primary.id, a.id), ringDistance(primary.id, b.id)];
        return da < db ? -1 : da > db ? 1 : 0;
      })
      .slice(0, this.options.replicas - 1);
  }

  /**
   * What the primary's replicas hold of `key`: one lying or lagging primary cannot hide entries they have.
   * Best effort: a replica that does not answer adds nothing.
   */
  private async readReplicas(primary: Peer, key: RingId, known: Neighbours | undefined, avoid: ReadonlySet<string>): Promise<RecordEntry[][]> {
    if (this.options.replicas <= 1) return [];
    const replicas = this.replicasAfter(primary, await this.successorsOf(primary, known), avoid);
    const reads = await Promise.allSettled(replicas.map((peer) => this.readFrom(peer, key)));
    return reads.flatMap((read) => (read.status === "fulfilled" ? [read.value] : []));
  }

  /**
   * The successors `primary` names: from the lookup's check when it asked (`known`), from this
   * node's own list when the primary is this node, else one GET_NEIGHBOURS (none when it does not answer).
   */
  private async successorsOf(primary: Peer, known: Neighbours | undefined): Promise<readonly Peer[]> {
    if (this.options.replicas <= 1) return [];
    if (primary.address === this.options.table.self.address) return this.options.table.successors;
    if (known !== undefined) return known.successors;
    try {
      return (await this.options.transport.getNeighbours(primary)).successors;
    } catch (error) {
      if (!isP2PError(error)) throw error;
      return [];
    }
  }

  private readFrom(peer: Peer, key: RingId): Promise<RecordEntry[]> {
    if (peer.address === this.options.table.self.address) return Promise.resolve(this.options.store.get(key, this.options.clock()));
    return this.options.transport.getRecords(peer, key);
  }

  /**
   * Pushes `entries` to the primary's replicas (this node: stored here) and on to those this node's view missed
   * (RecordPusher.pushToReplicaSet): the write is acknowledged once they hold it. A target that does not answer adds nothing.
   */
  private async pushToReplicas(primary: Peer, targets: readonly Peer[], entries: RecordEntry[]): Promise<void> {
    const self = this.options.table.self.address;
    if (targets.some((target) => target.address === self)) this.options.intake.accept(entries);
    await this.options.pusher.pushToReplicaSet(primary, targets.filter((target) => target.address !== self), entries);
  }

  /** A strictly increasing write time, so a quick put-then-remove never ties. */
  private stamp(): number {
    this.lastStamp = Math.max(this.options.clock(), this.lastStamp + 1);
    return this.lastStamp;
  }
}

/** The primary's entries with what replicas hold that it does not, newest write of each member kept, in member order. */
function mergeReads(key: RingId, primary: RecordEntry[], replicas: RecordEntry[][]): RecordEntry[] {
  if (replicas.every((read) => read.length === 0)) return primary;
  const byMember = new Map(primary.map((entry) => [entry.member, entry]));
  for (const entry of replicas.flat()) {
    if (entry.key !== key) continue;
    const known = byMember.get(entry.member);
    if (!known || entry.updatedAt > known.updatedAt) byMember.set(entry.member, entry);
  }
  return [...byMember.values()].sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}
