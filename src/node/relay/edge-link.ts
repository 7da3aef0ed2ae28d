// An edge node's link to the ring: a reservation with a relaying ring member, kept and renewed, its notices answered, circuits accepted.

import { connect, type ProtocolClient } from "../../protocol/client";
import { isP2PError, P2PError } from "../../protocol/errors";
import type { OpTable } from "../../protocol/ops";
import { serveConnection } from "../../protocol/server";
import { decodeReversalNotice, dialReversal } from "../../protocol/reversal";
import { splitAddress } from "../../protocol/address";
import { canonicalIp, familyOf } from "../../protocol/ip";
import { parseRelayed } from "../../protocol/relayed-address";
import type { Peer } from "../../model/peer";
import { decodeNotice, type Notice, RELAY } from "../../wire/relay";
import type { Introducers } from "../dns-client";

/** Ring members one round tries for a reservation, in random order. */
export const MAX_RELAY_CANDIDATES = 8;
/** Rounds of asking the DNS for members and trying them before an edge node gives up starting (about ten minutes with back-off). */
export const MAX_RESERVE_ROUNDS = 80;
/** The longest wait between two rounds; the first is the node's --retry, doubling. */
export const MAX_RESERVE_RETRY_MS = 10_000;
/** How long the relay may stay silent on the notice channel (it sends a keepalive every 5 s) before the edge looks for another. */
export const NOTICE_SILENCE_TIMEOUT_MS = 20_000;
/**
 * A relay whose reservation was lost is not asked again for this long while other members are listed: one that froze
 * (a stopped process, a host gone silent) still accepts connections in its kernel and is still listed by the DNS,
 * and asking it again would cost another NOTICE_SILENCE_TIMEOUT_MS.
 */
export const LOST_RELAY_AVOID_MS = 60_000;
/** Circuits an edge serves at once; an INCOMING past it is left unanswered (the relay tells the dialler 503). */
export const MAX_ACCEPTED_CIRCUITS = 64;

/** Answers one kind of notice; `relay` is the member that pushed it. */
export type NoticeHandler = (args: string[], relay: Peer) => void | Promise<void>;

export interface EdgeLinkOptions {
  publicKey: string;
  dns: Introducers;
  /** What the edge serves on a link: its peer op table; on a circuit, `diallerIp` is where its relay saw the dialler come from. */
  ops: (circuit?: { diallerIp?: string }) => OpTable;
  retryMs: number;
  connectTimeoutMs: number;
  networkKey?: Uint8Array;
  localAddress?: string;
  warn(message: string): void;
  info(message: string): void;
  /** A reservation began (`address`: the edge's relayed address) or ended (null). */
  onRelayed(address: string | null, relay: Peer | null): void;
  signal: AbortSignal;
  /**
   * The address family this edge has no route to (an IPv6-only node beside an IPv4 ring), or undefined. Its relays
   * are then members it reaches in its own family (dual-stack ones), which name it by their address in the other.
   */
  lackingFamily?: 4 | 6;
}

export class EdgeLink {
  /** Why this node is an edge, the start of its reach line: "unreachable", or "no IPv4 route". */
  private readonly why: string;
  /** What `p2p client status` shows on its reach line. */
  line: string;
  relay: Peer | null = null;
  /** The relay's address in this edge's relayed address: its own, or, for a dual-stack relay of an edge lacking a family, its ring address in that family. */
  relayRingAddress: string | null = null;
  /** Members the DNS listed last, the relay first: where lookups start. */
  members: Peer[] = [];
  private readonly handlers = new Map<string, NoticeHandler>();
  private client: ProtocolClient | null = null;
  private accepted = 0;
  private sleeping: { timer: ReturnType<typeof setTimeout>; wake: () => void } | null = null;

  /** Every member the DNS listed last (of both families): a dual-stack relay's address in the other family must be one. */
  private listed: Peer[] = [];
  /** The relay whose reservation was lost last, and when: passed over while others are listed (LOST_RELAY_AVOID_MS). */
  private lost: { address: string; at: number } | null = null;

  constructor(private readonly options: EdgeLinkOptions) {
    this.why = options.lackingFamily ? `no IPv${options.lackingFamily} route` : "unreachable";
    this.line = `${this.why}: looking for a relay`;
    this.onNotice("RESERVED", ([address], relay) => this.reserved(address ?? "", relay));
    this.onNotice("INCOMING", ([token, diallerIp], relay) => this.acceptCircuit(token ?? "", relay, diallerIp === undefined ? undefined : (canonicalIp(diallerIp) ?? undefined)));
    this.onNotice("DIAL", (args, relay) => this.dialBack(args.join(" "), relay));
    options.signal.addEventListener("abort", () => this.stop(), { once: true });
  }

  /** How this edge answers a kind of notice: the one place a new kind (a reversal, a punch offer) is added. */
  onNotice(kind: string, handler: NoticeHandler): void {
    this.handlers.set(kind, handler);
  }

  /** Resolves once a first reservation holds; then keeps one, re-reserving when it is lost. Rejects after MAX_RESERVE_ROUNDS failed rounds. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      void this.keep(resolve).then(
        () => reject(new P2PError("CLOSED", "the node stopped before it found a relay")),
        (error) => reject(error),
      );
    });
  }

  stop(): void {
    this.client?.close();
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
  }

  /** Rounds: ask the DNS for members, try each for a reservation; a held one that ends starts the next round at once. */
  private async keep(firstReserved: () => void): Promise<void> {
    let failedRounds = 0;
    let delay = this.options.retryMs;
    while (!this.options.signal.aborted) {
      const held = await this.round(firstReserved);
      if (this.options.signal.aborted) return;
      if (held) {
        failedRounds = 0;
        delay = this.options.retryMs;
        continue;
      }
      if (++failedRounds >= MAX_RESERVE_ROUNDS && this.relay === null) throw new P2PError("UNAVAILABLE", `no ring member gave this edge node a reservation in ${MAX_RESERVE_ROUNDS} rounds: ${this.line}`);
      await this.sleep(delay);
      delay = Math.min(delay * 2, MAX_RESERVE_RETRY_MS);
    }
  }

  /** One round; true when a reservation was held (and has ended since). */
  private async round(firstReserved: () => void): Promise<boolean> {
    let candidates: Peer[];
    try {
      this.listed = await this.options.dns.peers();
      const { lackingFamily } = this.options;
      const reachable = this.listed.filter((member) => familyOf(splitAddress(member.address).ip) !== lackingFamily);
      const avoided = this.lost !== null && Date.now() - this.lost.at < LOST_RELAY_AVOID_MS ? this.lost.address : null;
      const others = reachable.filter((member) => member.address !== avoided);
      candidates = shuffled(others.length > 0 ? others : reachable).slice(0, MAX_RELAY_CANDIDATES);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      this.line = `${this.why}: looking for a relay (the DNS did not answer: ${error.message})`;
      return false;
    }
    if (candidates.length === 0) this.line = `${this.why}: looking for a relay (the DNS lists no ring member${this.options.lackingFamily ? " this node can reach" : ""})`;
    this.members = candidates;
    for (const candidate of candidates) {
      if (this.options.signal.aborted) return false;
      const outcome = await this.reserve(candidate, firstReserved);
      if (outcome === "held") return true;
    }
    return false;
  }


  /** Holds a reservation with `relay` until it ends: "held" if the relay took it, "refused" otherwise (the reason is in `line`). */
  private async reserve(relay: Peer, firstReserved: () => void): Promise<"held" | "refused"> {
    let held = false;
    const { ip, port } = splitAddress(relay.address);
    try {
      const { networkKey, localAddress, connectTimeoutMs } = this.options;
      this.client = await connect({ hostname: ip, port }, { connectTimeoutMs, networkKey, localAddress });
      if (this.options.signal.aborted) return "refused";
      const request = RELAY.RESERVE.encodeArgs(this.options.publicKey);
      await this.client.request(RELAY.RESERVE.name, request.args, {
        timeoutMs: NOTICE_SILENCE_TIMEOUT_MS,
        onProgress: (lines) => {
          for (const line of lines) {
            const notice = this.decode(line, relay);
            if (notice?.kind === "RESERVED") {
              held = true;
              firstReserved();
            }
            if (notice) void this.answer(notice, relay);
          }
        },
      });
      if (held) this.options.info(`the reservation with relay ${relay.address} ended; looking for a relay again`);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      if (held) this.options.warn(`lost the reservation with relay ${relay.address} (${error.message}); looking for a relay again`);
      else this.line = `${this.why}: looking for a relay (${relay.address} refused: ${error.message})`;
    } finally {
      this.client?.close();
      this.client = null;
      if (held) {
        this.lost = { address: relay.address, at: Date.now() };
        this.relay = null;
        this.relayRingAddress = null;
        this.line = `${this.why}: looking for a relay`;
        this.options.onRelayed(null, null);
      }
    }
    return held ? "held" : "refused";
  }

  private decode(line: string, relay: Peer): Notice | null {
    try {
      return decodeNotice(line);
    } catch (error) {
      this.options.warn(`relay ${relay.address}: ${(error as Error).message}`);
      return null;
    }
  }

  private async answer(notice: Notice, relay: Peer): Promise<void> {
    const handler = this.handlers.get(notice.kind);
    if (!handler) return this.options.warn(`relay ${relay.address} sent a notice this node does not know: ${notice.kind}`);
    try {
      await handler(notice.args, relay);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      this.options.warn(`relay ${relay.address}: ${notice.kind} failed: ${error.message}`);
    }
  }

  private reserved(address: string, relay: Peer): void {
    const relayed = parseRelayed(address, "RESERVED address");
    if (!relayed || !this.isRelayAddress(relayed.relay, relay)) throw new P2PError("MALFORMED", `relay ${relay.address} named this edge '${address.slice(0, 120)}', not an address at itself`);
    this.relay = relay;
    this.relayRingAddress = relayed.relay;
    this.members = [relay, ...this.members.filter((member) => member.address !== relay.address)];
    this.line = `${this.why}: relayed through ${relay.address}`;
    this.options.info(`reserved with relay ${relay.address}: this edge node is ${address}`);
    this.options.onRelayed(address, relay);
  }

  /**
   * Whether `address` may name `relay` in this edge's relayed address: its own, or, for an edge lacking a family, the
   * relay's ring address in that family (a dual-stack relay reserved at in the other), if the DNS lists it as a member.
   * A hostile relay can thus name only another listed member, which has no reservation for this edge: it loses its
   * edge's traffic, which it could drop anyway, and aims nobody else's at a stranger.
   */
  private isRelayAddress(address: string, relay: Peer): boolean {
    if (address === relay.address) return true;
    const family = familyOf(splitAddress(address).ip);
    return family === this.options.lackingFamily && this.listed.some((member) => member.address === address);
  }

  /** INCOMING <token> [<dialler ip>]: a fresh connection to the relay, CIRCUIT_ACCEPT, then this node's ops served on it. */
  private async acceptCircuit(token: string, relay: Peer, diallerIp: string | undefined): Promise<void> {
    if (this.accepted >= MAX_ACCEPTED_CIRCUITS) return this.options.warn(`relay ${relay.address} offered a circuit past this node's ${MAX_ACCEPTED_CIRCUITS}; left unanswered`);
    const { ip, port } = splitAddress(relay.address);
    const request = RELAY.CIRCUIT_ACCEPT.encodeArgs(token);
    this.accepted++;
    try {
      const client = await connect({ hostname: ip, port }, { connectTimeoutMs: this.options.connectTimeoutMs, networkKey: this.options.networkKey, localAddress: this.options.localAddress });
      // The relay's answer is the last thing it says: what follows is the dialler's, served like any request.
      const handed = await client.handOver(RELAY.CIRCUIT_ACCEPT.name, request.args, this.options.connectTimeoutMs);
      const connection = serveConnection(handed, { ops: this.options.ops({ diallerIp }), warn: this.options.warn });
      void connection.whenClosed.then(() => this.accepted--);
    } catch (error) {
      this.accepted--;
      throw error;
    }
  }

  /** DIAL: a reachable dialler waits for this edge at `<ip:port>` (connection reversal): connect there, present its token, serve it. */
  private async dialBack(line: string, relay: Peer): Promise<void> {
    if (this.accepted >= MAX_ACCEPTED_CIRCUITS) return this.options.warn(`relay ${relay.address} asked for a dial-back past this node's ${MAX_ACCEPTED_CIRCUITS} links; left unanswered`);
    const { address, token } = decodeReversalNotice(line);
    const { ip, port } = splitAddress(address);
    this.accepted++;
    try {
      const served = await dialReversal({ hostname: ip, port }, token, { ops: this.options.ops(), warn: this.options.warn, networkKey: this.options.networkKey, localAddress: this.options.localAddress, connectTimeoutMs: this.options.connectTimeoutMs });
      void served.whenClosed.then(() => this.accepted--);
    } catch (error) {
      this.accepted--;
      // The dialler is not reachable after all, or stopped waiting: it falls back to a circuit.
      if (!isP2PError(error)) throw error;
      this.options.info(`dial-back to ${address} failed (${error.message}); the dialler goes through the relay`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.sleeping = null;
        resolve();
      };
      this.sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
