// The node's side of the P2P DNS: register (and heartbeat), learn peers to join through, report dead ones.
// A node may name several introducers: it registers with each one that answers and joins the union of their peers.
// Each introducer is spoken to over one kept connection: a heartbeat every half minute then costs no new TCP
// connection (nor, on a private network, a new handshake) at either end.

import { formatAddress } from "../protocol/address";
import { type ProtocolClient, connect } from "../protocol/client";
import { P2PError, isP2PError } from "../protocol/errors";
import { checkedPeer, splitAddress } from "../wire/codec";
import { DNS } from "../wire/dns";
import type { OpDef } from "../wire/op";
import { type DialBackResult, type Observed, REACH } from "../wire/reach";
import { DEFAULT_DNS_TIMEOUT_MS } from "./defaults";
import type { Peer } from "../model/peer";

/** Most introducers one node may be given (--dns a,b,...). */
export const MAX_INTRODUCERS = 8;

/**
 * `localAddress`: the IP to connect from, so the DNS sees a JOIN come from the address it names. `also`: a
 * dual-stack node's peer in its other family (`--also`), registered beside it at every JOIN.
 */
export type DnsClientOptions = { timeoutMs?: number; networkKey?: Uint8Array; localAddress?: string; also?: Peer };

/** Every introducer a node was given, asked together. */
export class Introducers {
  readonly clients: DnsClient[];
  /** "host:port,host:port", as given. */
  readonly address: string;

  /** A dual-stack node's address in its other family, registered at each JOIN so that nodes of only that family find it as a relay. */
  readonly also: Peer | undefined;

  constructor(targets: readonly { hostname: string; port: number }[], options: DnsClientOptions = {}) {
    this.also = options.also;
    if (targets.length === 0 || targets.length > MAX_INTRODUCERS) {
      throw new P2PError("MALFORMED", `a node takes 1 to ${MAX_INTRODUCERS} DNS addresses, not ${targets.length}`);
    }
    this.clients = targets.map((target) => new DnsClient(target, options));
    this.address = this.clients.map((client) => client.address).join(",");
  }

  /**
   * JOIN at every introducer at once. Resolves with the union of the peers the ones that answered
   * returned (each peer once) and the failures; rejects with the first failure when none answered.
   */
  async join(self: Peer): Promise<{ peers: Peer[]; failed: { address: string; error: P2PError }[] }> {
    const also = this.also;
    // The other family's address, beside this one: its sample is not used.
    const [results, alsoResults] = await Promise.all([
      Promise.allSettled(this.clients.map((client) => client.join(self))),
      also ? Promise.allSettled(this.clients.map((client) => client.join(also, true))) : [],
    ]);
    // A failed `also` row is retried at the next heartbeat; only a bug (not a P2PError) is news here.
    for (const result of alsoResults) if (result.status === "rejected" && !isP2PError(result.reason)) throw result.reason;
    const peers = new Map<string, Peer>();
    const failed: { address: string; error: P2PError }[] = [];
    results.forEach((result, index) => {
      if (result.status === "fulfilled") {
        for (const peer of result.value.peers) peers.set(peer.address, peer);
        return;
      }
      if (!isP2PError(result.reason)) throw result.reason;
      failed.push({ address: this.clients[index]!.address, error: result.reason });
    });
    if (failed.length === this.clients.length) {
      const reasons = failed.map((failure) => `${failure.address}: ${failure.error.message}`).join("; ");
      throw new P2PError(failed[0]!.error.code, this.clients.length === 1 ? failed[0]!.error.message : `no DNS answered (${reasons})`);
    }
    return { peers: [...peers.values()], failed };
  }

  /** PEERS of the first introducer that answers (every live peer it lists, both families); rejects with the last failure when none did. */
  async peers(): Promise<Peer[]> {
    let lastError: unknown = new P2PError("UNAVAILABLE", "no DNS");
    for (const client of this.clients) {
      try {
        return await client.peers();
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /** LEAVE at every introducer; rejects only when none of them took it. */
  async leave(peerId: string): Promise<void> {
    const results = await Promise.allSettled(this.clients.map((client) => client.leave(peerId)));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failure && results.every((result) => result.status === "rejected")) throw failure.reason;
  }

  /** Closes every kept connection; a later request opens a new one. */
  close(): void {
    for (const client of this.clients) client.close();
  }
}

export class DnsClient {
  readonly address: string;
  private readonly target: { hostname: string; port: number };
  private readonly timeoutMs: number;
  private readonly networkKey: Uint8Array | undefined;
  private readonly localAddress: string | undefined;
  /** The kept connection (opening, or open until it breaks or `close`); null until the first request. */
  private link: Promise<ProtocolClient> | null = null;

  constructor(target: { hostname: string; port: number }, options: DnsClientOptions = {}) {
    this.target = target;
    this.address = formatAddress(target.hostname, target.port);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
    this.networkKey = options.networkKey;
    this.localAddress = options.localAddress;
  }

  /**
   * JOIN: registers `self` (or refreshes it: the heartbeat) and returns up to five other live peers. `also`:
   * `self` is this node's address in its other family (`--also`), no ring contact.
   * Entries that are not ring nodes of this project (the original's integer ids) are skipped.
   */
  async join(self: Peer, also = false): Promise<{ peers: Peer[]; skipped: string[] }> {
    const { ip, port } = splitAddress(self.address);
    const { rows, skipped } = await this.send(DNS.JOIN, { peerId: self.id, ip, port, also });
    const peers: Peer[] = [];
    for (const row of rows) {
      try {
        const peer = checkedPeer(row.peerId, row.ip, row.port);
        if (peer.address !== self.address) peers.push(peer);
      } catch {
        skipped.push(`${row.peerId},${row.ip},${row.port}`);
      }
    }
    return { peers, skipped };
  }

  /** LEAVE: for this node when it leaves, or for a peer found dead. A peer already gone is fine. */
  async leave(peerId: string): Promise<void> {
    try {
      await this.send(DNS.LEAVE, peerId);
    } catch (error) {
      if (!(error instanceof P2PError && error.code === "NOT_FOUND")) throw error;
    }
  }

  /**
   * PEERS: the live peers this DNS lists, without registering (an edge node, which must never be handed out as a
   * ring contact, finds its relays so). Rows whose id is not bound to their address are left out.
   */
  async peers(): Promise<Peer[]> {
    const { rows } = await this.send(DNS.PEERS, undefined);
    const peers: Peer[] = [];
    for (const row of rows) {
      try {
        peers.push(checkedPeer(row.peerId, row.ip, row.port));
      } catch (error) {
        if (!isP2PError(error)) throw error;
      }
    }
    return peers;
  }

  /** OBSERVED: the address this DNS sees this node's connections come from. */
  observed(): Promise<Observed> {
    return this.send(REACH.OBSERVED, undefined);
  }

  /** DIALBACK: asks this DNS to connect back to the IP it sees us at, on `port`, and show it knows `nonce`. */
  dialBack(port: number, nonce: string): Promise<DialBackResult> {
    return this.send(REACH.DIALBACK, { port, nonce });
  }

  /** Closes the kept connection, if any. */
  close(): void {
    const link = this.link;
    this.link = null;
    link?.then((client) => client.close(), () => {});
  }

  /**
   * One request over the kept connection. A connection that rested may have been closed by the DNS meanwhile (its
   * quiet timeout, a restart, eviction when full), which shows only as CLOSED on the first request sent on it:
   * that request is sent once more on a new connection. Every op here may be repeated (a JOIN is a heartbeat).
   */
  private async send<Args, Result>(op: OpDef<Args, Result>, args: Args): Promise<Result> {
    const request = op.encodeArgs(args);
    const ask = async (client: ProtocolClient) =>
      op.decodeReply((await client.request(op.name, request.args, { timeoutMs: this.timeoutMs, body: request.body })).body, this.address, args);
    const { client, fresh } = await this.openLink();
    try {
      return await ask(client);
    } catch (error) {
      if (fresh || !isP2PError(error) || error.code !== "CLOSED") throw error;
      return ask((await this.openLink()).client);
    }
  }

  /** The kept connection, opened when there is none or it broke; `fresh` when this call opened it. */
  private async openLink(): Promise<{ client: ProtocolClient; fresh: boolean }> {
    const pending = this.link;
    const kept = pending && (await pending.catch(() => null));
    if (kept && !kept.isClosed) return { client: kept, fresh: false };
    // Another request found the same link broken and is opening the next one meanwhile: share it.
    if (this.link !== null && this.link !== pending) return this.openLink();
    const opening = connect(this.target, { connectTimeoutMs: this.timeoutMs, networkKey: this.networkKey, localAddress: this.localAddress });
    this.link = opening;
    opening.catch(() => {
      if (this.link === opening) this.link = null;
    });
    return { client: await opening, fresh: true };
  }
}
