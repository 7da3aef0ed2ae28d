// Finding another ring and merging with it: two rings that learn of each other become one.
//
// A ring is named by its smallest id (the successor of key 0, one lookup). When a peer this node
// hears of (from the DNS, or its known-peers file) is in a ring whose smallest id differs from
// ours, and neither ring routes the other's node to itself, the two are separate rings. The ring
// with the larger smallest id yields: its node re-joins through the peer, and its old neighbours
// follow by ordinary stabilization (their successor now answers with the other ring's nodes).

import { isP2PError } from "../../protocol/errors";
import type { ChordNode } from "./chord";
import type { RingId } from "../../model/id";
import type { Peer } from "../../model/peer";

/** A separate ring must be seen twice, this far apart, before a node leaves its own ring for it. */
export const MERGE_CONFIRM_MS = 2_000;
/** A node that joined less than this ago may not yet be known to its ring: it does not judge. */
export const MIN_MEMBERSHIP_MS = 3_000;
/**
 * Peers probed per check: each costs a lookup (three when it is in another ring). While the heartbeat is at
 * its longest period (nothing changed lately), one on every CALM_CHECKS_PER_PROBE-th check and none on the
 * others: every node of a ring probes, so a ring of N calm nodes still probes N / 2 peers per heartbeat, and
 * at 500 nodes one probe a heartbeat was still a third of an idle node's lookups.
 */
export const MAX_MERGE_PROBES = 3;
export const CALM_MERGE_PROBES = 1;
export const CALM_CHECKS_PER_PROBE = 2;
/** Separate rings remembered between two checks. */
const MAX_SUSPECTS = 16;

const KEY_ZERO: RingId = "0".repeat(40);

/** Another ring, as seen from this node. */
export type ForeignRing = {
  /** The peer of the other ring this node heard of. */
  via: Peer;
  ourSmallest: Peer;
  theirSmallest: Peer;
  /** Whether this node's ring is the one that yields (its smallest id is the larger). */
  weYield: boolean;
};

export class RingMerger {
  private readonly ring: ChordNode;
  private readonly clock: () => number;
  private readonly calm: () => boolean;
  private memberSince: number;
  /** address -> when that peer was first seen in another ring. */
  private readonly suspects = new Map<string, number>();
  /** Checks in a row while calm, so that only every CALM_CHECKS_PER_PROBE-th of them probes. */
  private calmChecks = 0;

  /** `calm`: whether nothing changed lately (fewer probes then). */
  constructor(ring: ChordNode, options: { clock?: () => number; calm?: () => boolean } = {}) {
    this.ring = ring;
    this.clock = options.clock ?? Date.now;
    this.calm = options.calm ?? (() => false);
    this.memberSince = this.clock();
  }

  /** Called when this node (re)joined a ring: its view starts afresh. */
  joined(): void {
    this.memberSince = this.clock();
    this.suspects.clear();
  }

  /** Whether a separate ring was seen once and waits for its confirmation. */
  get pendingConfirmation(): boolean {
    return this.suspects.size > 0;
  }

  /**
   * Probes the candidates this node's tables do not hold. Returns a separate ring once it has been
   * seen twice at least MERGE_CONFIRM_MS apart (a node that merely joined a moment ago looks
   * separate until stabilization catches up; it never looks so twice); null otherwise.
   */
  async check(candidates: readonly Peer[]): Promise<ForeignRing | null> {
    const now = this.clock();
    if (now - this.memberSince < MIN_MEMBERSHIP_MS) return null;
    const unknown = candidates.filter((peer) => peer.address !== this.ring.self.address && !this.ring.knows(peer));
    // A suspect first, so a confirmation is not crowded out by new candidates.
    unknown.sort((a, b) => Number(this.suspects.has(b.address)) - Number(this.suspects.has(a.address)));
    const probed = new Set<string>();
    // A pending suspect is confirmed however calm the ring: it sorts first.
    const calm = this.calm() && this.suspects.size === 0;
    this.calmChecks = calm ? this.calmChecks + 1 : 0;
    if (calm && this.calmChecks % CALM_CHECKS_PER_PROBE !== 0) return null;
    const probes = calm ? CALM_MERGE_PROBES : MAX_MERGE_PROBES;
    for (const candidate of unknown) {
      if (probed.size >= probes) break;
      if (probed.has(candidate.address)) continue;
      probed.add(candidate.address);
      const foreign = await this.probe(candidate);
      if (foreign === null) {
        this.suspects.delete(candidate.address);
        continue;
      }
      const firstSeen = this.suspects.get(candidate.address);
      if (firstSeen !== undefined && now - firstSeen >= MERGE_CONFIRM_MS) {
        this.suspects.delete(candidate.address);
        return foreign;
      }
      if (firstSeen === undefined && this.suspects.size < MAX_SUSPECTS) this.suspects.set(candidate.address, now);
    }
    return null;
  }

  /** Whether `candidate` is in a ring other than ours; null when it is ours, or when unsure. */
  private async probe(candidate: Peer): Promise<ForeignRing | null> {
    try {
      // Our ring routes its id to it: it is one of us.
      if ((await this.ring.lookup(candidate.id)).peer.address === candidate.address) return null;
      // Its ring routes our id to us: we are one of them.
      if ((await this.ring.lookupVia(candidate, this.ring.self.id)).peer.address === this.ring.self.address) return null;
      const ourSmallest = (await this.ring.lookup(KEY_ZERO)).peer;
      const theirSmallest = (await this.ring.lookupVia(candidate, KEY_ZERO)).peer;
      if (ourSmallest.address === theirSmallest.address) return null;
      return { via: candidate, ourSmallest, theirSmallest, weYield: theirSmallest.id < ourSmallest.id };
    } catch (error) {
      // Not answering, or still joining: no evidence either way.
      if (isP2PError(error)) return null;
      throw error;
    }
  }
}
