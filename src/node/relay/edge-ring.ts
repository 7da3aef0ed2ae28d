// The ring as an edge node uses it: it owns no range, so every lookup, record read and write goes to ring members over outbound connections.

import { isP2PError, P2PError } from "../../protocol/errors";
import type { RingId } from "../../model/id";
import type { Peer } from "../../model/peer";
import type { RecordEntry } from "../../model/record";
import type { ChordStatus } from "../../model/reports";
import type { RingTransport } from "../../model/ring-transport";
import type { FileRing } from "../files/ports";
import { MAX_RECORD_LIFETIME_MS } from "../ring/admission";
import type { RecordCursor } from "../ring/records";
import { KEY_CHECK_DEFERRED } from "../signed-records";

/** Hops one edge lookup may take (a ring of a million nodes needs about 20). */
export const MAX_EDGE_LOOKUP_HOPS = 32;
/** Members an edge starts a lookup from before it gives up: its relay first, then others the DNS listed. */
export const MAX_EDGE_LOOKUP_STARTS = 4;
/**
 * Primaries tried for one read or write: a member may name as a key's successor a node this edge cannot reach
 * (one of another address family, or one behind the edge's own NAT); the lookup is then asked again around it.
 */
export const MAX_PRIMARY_ATTEMPTS = 4;
/**
 * The pause before asking a primary again after a refusal that a moment may end (`worthWaiting`). It grows by this
 * much with each such refusal: 0.5, 1, 1.5 s.
 */
export const PRIMARY_RETRY_PAUSE_MS = 500;
/** How long a removal is remembered (as the ring's own, `tombstoneTtlMs`). */
const TOMBSTONE_TTL_MS = 24 * 60 * 60 * 1000;

export type LookupResult = { peer: Peer; hops: number };

/**
 * Where a lookup starts: members not avoided first (the relay leads), then avoided ones. A member avoided as a
 * key's primary (its PUT or GET failed) still routes lookups, and an edge whose relay was the failed primary must
 * not be left with no start at all (issue 18: c2's upload failed "no relay reserved" while it held a reservation).
 */
export function lookupStarts(members: Peer[], avoid: ReadonlySet<string>): Peer[] {
  if (members.length === 0) throw new P2PError("UNAVAILABLE", "this edge node knows no ring member yet: it holds no reservation with a relay and the DNS listed no member");
  const fresh = members.filter((member) => !avoid.has(member.address));
  const avoided = members.filter((member) => avoid.has(member.address));
  return [...fresh, ...avoided].slice(0, MAX_EDGE_LOOKUP_STARTS);
}

/**
 * A primary's refusal that a moment may end, so the same primary is asked again rather than avoided: the key is not
 * its own yet (409: the ring is settling after a join, its tables or the lookup's answer behind), or it had no
 * budget to fetch a holder's key now (several edges behind one relay writing at once: their keys are all fetched
 * through the relay's IP, 4 at once and then one a second).
 */
export function worthWaiting(error: P2PError): boolean {
  return error.code === "CONFLICT" || (error.code === "MALFORMED" && error.message.endsWith(KEY_CHECK_DEFERRED));
}

export class EdgeRing implements FileRing {
  private lastStamp = 0;
  /** The member after this edge's id on the circle: with the relay, the two children that make LIST_ALL_FILES cover the ring. */
  private after: Peer | null = null;

  constructor(
    private readonly self: { id: RingId; address: string },
    /** GET_RECORDS answers checked against their holders' signatures (`checkingReads`). */
    private readonly transport: RingTransport,
    private readonly signEntry: (entry: RecordEntry) => RecordEntry,
    /** Ring members to start from, the relay first. */
    private readonly members: () => Peer[],
    /** Waits before a primary is asked again (`PRIMARY_RETRY_PAUSE_MS`); tests pass one that records instead. */
    private readonly pause: (ms: number) => Promise<void> = (ms) => Bun.sleep(ms),
  ) {}

  /**
   * The successor of `key`, found by asking members step by step (FIND_SUCCESSOR_STEP). A hop that does not
   * answer joins `avoid` and the hop before it is asked again (as the ring's own lookups route around the dead).
   */
  async lookup(key: RingId, avoid = new Set<string>()): Promise<LookupResult> {
    /** Members that did not answer during this lookup: `avoid` also holds primaries a call failed on, still fine to start from. */
    const unanswered = new Set<string>();
    const starts = lookupStarts(this.members(), avoid);
    let lastError: Error = new P2PError("UNAVAILABLE", `no successor of ${key} within ${MAX_EDGE_LOOKUP_HOPS} hops`);
    for (const start of starts) {
      if (unanswered.has(start.address)) continue;
      const path = [start];
      for (let hops = 1; hops <= MAX_EDGE_LOOKUP_HOPS && path.length > 0; hops++) {
        const peer = path[path.length - 1]!;
        try {
          const step = await this.transport.findSuccessorStep(peer, key, [...avoid]);
          // A member may still name a primary this edge already failed to use: that answer is no answer.
          if (step.done && !avoid.has(step.peer.address)) return { peer: step.peer, hops };
          if (step.done) break;
          if (avoid.has(step.peer.address) || path.some((hop) => hop.address === step.peer.address)) break;
          path.push(step.peer);
        } catch (error) {
          if (!isP2PError(error)) throw error;
          avoid.add(peer.address);
          unanswered.add(peer.address);
          lastError = error;
          path.pop();
        }
      }
    }
    throw new P2PError("UNAVAILABLE", `no ring member answered a lookup of ${key} (started from ${starts.map((start) => start.address).join(", ")}; avoided ${avoid.size}): ${lastError.message}`);
  }

  async put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer> {
    const updatedAt = this.stamp();
    const expiresAt = updatedAt + Math.min(ttlMs ?? MAX_RECORD_LIFETIME_MS, MAX_RECORD_LIFETIME_MS);
    return this.send(key, this.signEntry({ key, member, value, updatedAt, expiresAt, deleted: false }));
  }

  async remove(key: RingId, member: string): Promise<Peer> {
    const updatedAt = this.stamp();
    return this.send(key, this.signEntry({ key, member, value: "", updatedAt, expiresAt: updatedAt + TOMBSTONE_TTL_MS, deleted: true }));
  }

  async get(key: RingId): Promise<RecordEntry[]> {
    return (await this.atPrimary(key, (peer) => this.transport.getRecords(peer, key))).result;
  }

  /** Finds the member after this edge's id again (after a new reservation; the ring changes under it). */
  async refresh(): Promise<void> {
    this.after = (await this.lookup(this.self.id)).peer;
  }

  routingPeers(): Peer[] {
    const peers = new Map<string, Peer>();
    for (const peer of [this.after, this.members()[0]]) if (peer) peers.set(peer.address, peer);
    return [...peers.values()];
  }

  localRecordsAfter(_after: RecordCursor | null, _limit: number): RecordEntry[] {
    return [];
  }

  holdsKey(_key: RingId): boolean {
    return false;
  }

  /** An edge has no place on the ring: no predecessor, successors, fingers or records of its own. */
  status(): ChordStatus {
    return { id: this.self.id, address: this.self.address, predecessor: null, successors: [], fingers: [], records: { primary: 0, replica: 0 } };
  }

  /** The primary takes the entry and replicates it (PUT_RECORDS, as a member's put). */
  private async send(key: RingId, entry: RecordEntry): Promise<Peer> {
    return (await this.atPrimary(key, (peer) => this.transport.putRecords(peer, [entry]))).peer;
  }

  /**
   * `call` on the key's primary; one this edge cannot reach is avoided and the next live node asked (a replica, which
   * passes it on); one whose refusal a moment may end (`worthWaiting`) is asked again after a pause.
   */
  private async atPrimary<T>(key: RingId, call: (peer: Peer) => Promise<T>): Promise<{ peer: Peer; result: T }> {
    const avoid = new Set<string>();
    let lastError: Error | null = null;
    let refusals = 0;
    for (let attempt = 0; attempt < MAX_PRIMARY_ATTEMPTS; attempt++) {
      const { peer } = await this.lookup(key, avoid);
      try {
        return { peer, result: await call(peer) };
      } catch (error) {
        if (!isP2PError(error)) throw error;
        lastError = error;
        if (attempt + 1 === MAX_PRIMARY_ATTEMPTS) break;
        if (worthWaiting(error)) await this.pause(PRIMARY_RETRY_PAUSE_MS * ++refusals);
        else avoid.add(peer.address);
      }
    }
    throw new P2PError("UNAVAILABLE", `no ring member holding key ${key} answered (${lastError?.message})`);
  }

  /** A strictly increasing write time, so a quick put-then-remove never ties. */
  private stamp(): number {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return this.lastStamp;
  }
}
