// The allowance of outbound connections that other parties' requests may make this process open: per target host, per requester, in all, with results cached.

import { splitAddress } from "./address";
import { P2PError } from "./errors";
import { hostOf } from "./ip";

/** A target host (IP) may be sent this many connections at once, then one per TARGET_HOST_INTERVAL_MS. */
export const TARGET_HOST_BURST = 4;
export const TARGET_HOST_INTERVAL_MS = 1_000;
/** Connections one requester's requests may cause: a burst, then one per REQUESTER_INTERVAL_MS. */
export const REQUESTER_BURST = 16;
export const REQUESTER_INTERVAL_MS = 250;
/** Connections all requests together may cause: a burst, then one per GLOBAL_INTERVAL_MS. */
export const GLOBAL_BURST = 64;
export const GLOBAL_INTERVAL_MS = 20;
/** Checks under way at once, whoever asked. */
export const MAX_CHECKS_IN_FLIGHT = 32;
/** How long the answer of one check of an `ip:port` is reused instead of connecting again. */
export const CHECK_CACHE_MS = 10_000;
/** Hosts, requesters and cached answers remembered; past it the oldest are forgotten. */
export const MAX_TRACKED = 10_000;

/**
 * Decides whether a connection that a request from someone else asks for may be opened now. Only
 * connections made on a third party's behalf go through it (a DNS's connect-back, a node's KEY fetch
 * or check of a peer named in a message), so no request, however often repeated or however many
 * addresses it names, makes this process a tool for flooding or scanning a target.
 */
export class ConnectBudget {
  private readonly hosts = new Buckets(TARGET_HOST_BURST, TARGET_HOST_INTERVAL_MS);
  private readonly requesters = new Buckets(REQUESTER_BURST, REQUESTER_INTERVAL_MS);
  private readonly global = new Buckets(GLOBAL_BURST, GLOBAL_INTERVAL_MS);
  private inFlight = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * Runs `connectTo` (which opens at most one connection to `host`) if the host's, the requester's (null:
   * not known, e.g. an entry relayed by several nodes) and the global allowances all have room; otherwise
   * throws UNAVAILABLE and runs nothing.
   */
  async spend<T>(host: string, requester: string | null, connectTo: () => Promise<T>): Promise<T> {
    const now = this.clock();
    if (this.inFlight >= MAX_CHECKS_IN_FLIGHT) throw overBudget(`${MAX_CHECKS_IN_FLIGHT} checks of other peers are under way`);
    if (!this.hosts.has(host, now)) throw overBudget(`${host} was checked ${TARGET_HOST_BURST} times in the last moments`);
    if (requester !== null && !this.requesters.has(requester, now)) throw overBudget(`requests from ${requester} asked for too many checks of other peers`);
    if (!this.global.has("*", now)) throw overBudget("too many checks of other peers in the last moments");
    this.hosts.take(host, now);
    if (requester !== null) this.requesters.take(requester, now);
    this.global.take("*", now);
    this.inFlight++;
    try {
      return await connectTo();
    } finally {
      this.inFlight--;
    }
  }
}

/**
 * One kind of check (does `ip:port` answer PING, ...) whose answers are cached per address for
 * CHECK_CACHE_MS and shared by concurrent askers, every real check paid from a `ConnectBudget`.
 */
export class CachedChecks<T> {
  private readonly answers = new Map<string, { value: T; at: number }>();
  private readonly pending = new Map<string, Promise<T>>();

  constructor(
    private readonly budget: ConnectBudget,
    private readonly check: (address: string) => Promise<T>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The answer for `address` (`ip:port`); throws UNAVAILABLE when a fresh one is needed and the budget is spent. */
  async ask(address: string, requester: string): Promise<T> {
    const cached = this.answers.get(address);
    if (cached && this.clock() - cached.at < CHECK_CACHE_MS) return cached.value;
    let asking = this.pending.get(address);
    if (!asking) {
      asking = this.budget.spend(hostOfAddress(address), requester, () => this.check(address)).then((value) => {
        if (this.answers.size >= MAX_TRACKED) this.answers.delete(this.answers.keys().next().value!);
        this.answers.delete(address);
        this.answers.set(address, { value, at: this.clock() });
        return value;
      });
      const settled = asking.finally(() => this.pending.delete(address));
      settled.catch(() => {});
      this.pending.set(address, asking);
    }
    return asking;
  }
}

/** The host part of `ip:port` (an IPv6 address keeps its colons). */
/** The host an `ip:port` this program wrote belongs to, as budgets count it: an IPv4 address, an IPv6 /64. */
export function hostOfAddress(address: string): string {
  return hostOf(splitAddress(address).ip);
}

function overBudget(why: string): P2PError {
  return new P2PError("UNAVAILABLE", `not checking now: ${why}; try again shortly`);
}

/** Token buckets by name: `burst` tokens, one back every `intervalMs`. */
class Buckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly intervalMs: number,
  ) {}

  has(name: string, now: number): boolean {
    return this.level(name, now) >= 1;
  }

  take(name: string, now: number): void {
    const tokens = this.level(name, now) - 1;
    this.buckets.delete(name);
    if (this.buckets.size >= MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(name, { tokens, at: now });
  }

  private level(name: string, now: number): number {
    const bucket = this.buckets.get(name);
    if (!bucket) return this.burst;
    return Math.min(this.burst, bucket.tokens + (now - bucket.at) / this.intervalMs);
  }
}
