// Chord's upkeep of the routing table: stabilize, notify (received), check_predecessor, fix_fingers and a neighbour leaving; recovery when every successor is dead is SuccessorRecovery's.

import { isP2PError } from "../../protocol/errors";
import { fingerStart, ID_BITS, inHalfOpenInterval, inOpenInterval, ringDistance, type RingId } from "../../model/id";
import type { Lookup } from "./lookup";
import type { RoutingTable } from "./routing-table";
import type { Neighbours, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";
import { RecentNotifiers } from "./recent-notifiers";
import { SuccessorRecovery } from "./successor-recovery";

/**
 * The predecessors before the predecessor are asked again this often while the predecessor stays the same and the
 * ring changes; at once when the predecessor changes, or when a key was refused on their word (it may be stale).
 */
export const EARLIER_PREDECESSORS_REFRESH_MS = 5_000;
/**
 * The same while the ring is calm (maintenance at its longest period): the walk was a third of a calm node's calls,
 * and a change two nodes back that it misses shows first as a refused key, which makes it due at once.
 */
export const EARLIER_PREDECESSORS_CALM_REFRESH_MS = 120_000;
/** Bound on calls one stabilize makes, walking back towards the true successor included. */
const MAX_STABILIZE_CALLS = 2 * ID_BITS;
/**
 * While the ring is calm a finger is checked with one GET_NEIGHBOURS to it (is its predecessor still before the
 * finger's start?) instead of a lookup of log N calls; one pass of the finger table in this many still looks every
 * finger up from scratch, so a finger is never vouched for by itself alone for long.
 */
export const FULL_FINGER_PASS_EVERY = 4;

export class Stabilizer {
  private readonly notifiers: RecentNotifiers;
  private readonly recovery: SuccessorRecovery;
  /** Finger passes finished while calm since the last pass that looked every finger up. */
  private checkedPasses = 0;

  /**
   * `onRangeTaken(p)`: a new predecessor `p` took part of this node's range. `calm()`: whether nothing changed
   * lately (the maintenance period is at its longest), so fingers are checked rather than looked up.
   */
  constructor(
    private readonly table: RoutingTable,
    private readonly transport: RingTransport,
    private readonly lookup: Lookup,
    private readonly onRangeTaken: (predecessor: Peer) => void,
    private readonly calm: () => boolean = () => false,
  ) {
    this.notifiers = new RecentNotifiers(table, transport);
    this.recovery = new SuccessorRecovery(table, transport, lookup);
  }

  /** Chord's notify, received: `candidate` thinks it is this node's predecessor; if it is not and said so itself (`direct`), it is passed on (RecentNotifiers). */
  notified(candidate: Peer, direct = false): void {
    const table = this.table;
    const self = table.self;
    if (candidate.address === self.address) return;
    table.revive(candidate.address);
    const predecessor = table.predecessor;
    if (predecessor?.address === candidate.address) return;
    if (predecessor !== null && !inOpenInterval(candidate.id, predecessor.id, self.id)) {
      if (direct) this.notifiers.passOn(candidate);
      return;
    }
    if (predecessor !== null) this.notifiers.remember(predecessor);
    const wasAlone = table.alone;
    this.setPredecessor(candidate);
    // A ring of one closes into a ring of two now instead of at the next stabilize.
    if (wasAlone) table.setSuccessors([candidate]);
  }

  /** A neighbour left gracefully, naming its own neighbours: the ring closes around it at once. */
  neighbourLeft(leaver: Peer, predecessor: Peer | null, successors: Peer[]): void {
    const table = this.table;
    const wasPredecessor = table.predecessor?.address === leaver.address;
    const position = table.successors.findIndex((peer) => peer.address === leaver.address);
    table.markDead(leaver);
    if (wasPredecessor && predecessor !== null && predecessor.address !== table.self.address) {
      this.setPredecessor(predecessor);
    }
    if (position >= 0) {
      const before = table.successors.slice(0, position);
      const after = table.successors.slice(position);
      table.setSuccessors([...before, ...successors, ...after]);
    }
    // The leaver knew no one else: this node is all that is left of the ring.
    if (table.successors.length === 0 && table.predecessor === null) table.alone = true;
  }

  /**
   * Chord's stabilize: learns of nodes that joined just after this one, refreshes the successor
   * list from the successor's, and tells the successor about this node. Dead successors are
   * skipped; when all are dead the nearest live node this node knows of takes their place.
   */
  async stabilize(): Promise<void> {
    const table = this.table;
    const self = table.self;
    let successor = table.successor;
    for (let attempt = 0; attempt < MAX_STABILIZE_CALLS; attempt++) {
      if (successor === undefined) {
        if (!(await this.recovery.recover())) return;
        successor = table.successor;
        continue;
      }
      let neighbours: Neighbours;
      try {
        neighbours = await this.transport.getNeighbours(successor);
      } catch (error) {
        if (isP2PError(error, "UNAVAILABLE")) return; // alive but mid-join or mid-leave: next round
        table.noteFailure(error, successor);
        successor = table.successor;
        continue;
      }
      const between = neighbours.predecessor;
      if (
        between !== null &&
        between.address !== self.address &&
        inOpenInterval(between.id, self.id, successor.id) &&
        (await this.isAliveAgain(between))
      ) {
        // A node sits between us and our successor: ask it in turn, so a successor recovered from
        // far away walks back to the true one within this call rather than one node per round.
        table.setSuccessors([between, successor, ...neighbours.successors]);
        successor = between;
        continue;
      }
      await this.reviveOneListed(neighbours.successors);
      table.setSuccessors([successor, ...neighbours.successors]);
      const nearest = table.successor;
      if (nearest === undefined) continue;
      try {
        await this.transport.notify(nearest, self);
        return;
      } catch (error) {
        if (isP2PError(error, "UNAVAILABLE")) return;
        table.noteFailure(error, nearest);
        successor = table.successor;
      }
    }
  }

  /** Forgets the predecessor if it does not answer, so a live node can claim the place. */
  async checkPredecessor(): Promise<void> {
    const predecessor = this.table.predecessor;
    if (predecessor === null) return;
    try {
      await this.transport.ping(predecessor);
    } catch (error) {
      this.table.noteFailure(error, predecessor);
    }
  }

  /**
   * Asks the predecessor for its predecessor, and so on back, until `replicas` predecessors are known
   * (or the walk comes back round a smaller ring): the keys this node replicates begin at the last one.
   * One GET_NEIGHBOURS per step, at most every EARLIER_PREDECESSORS_REFRESH_MS (..._CALM_REFRESH_MS while calm);
   * a step that fails keeps what was known.
   */
  async learnPredecessors(replicas: number): Promise<void> {
    const predecessor = this.table.predecessor;
    const refresh = this.calm() ? EARLIER_PREDECESSORS_CALM_REFRESH_MS : EARLIER_PREDECESSORS_REFRESH_MS;
    if (predecessor === null || replicas <= 1 || this.table.earlierPredecessorsAge() < refresh) return;
    const chain: Peer[] = [];
    let current = predecessor;
    for (let step = 1; step < replicas; step++) {
      let earlier: Peer | null;
      try {
        earlier = (await this.transport.getNeighbours(current)).predecessor;
      } catch (error) {
        this.table.noteFailure(error, current);
        return;
      }
      if (earlier === null) return;
      if (earlier.address === this.table.self.address || earlier.address === predecessor.address || chain.some((peer) => peer.address === earlier!.address)) {
        this.table.setEarlierPredecessors(predecessor, chain, true);
        return;
      }
      chain.push(earlier);
      current = earlier;
    }
    this.table.setEarlierPredecessors(predecessor, chain, false);
  }

  /**
   * Refreshes the next distinct finger, with one lookup or, while calm, one check of the finger it has
   * (FULL_FINGER_PASS_EVERY); the following fingers that fall before the same node are filled from that
   * answer. Returns true when this call finished a pass.
   */
  async fixFingers(): Promise<boolean> {
    const table = this.table;
    const self = table.self;
    const successor = table.successor;
    if (successor === undefined) {
      // Alone there is nothing to point at; having lost every successor, the fingers are what
      // stabilize recovers from, so keep them.
      if (table.alone) table.clearFingers();
      table.nextFinger = 0;
      return true;
    }
    const index = table.nextFinger;
    const start = fingerStart(self.id, index);
    let owner: Peer | null = inHalfOpenInterval(start, self.id, successor.id) ? successor : null;
    const checking = this.calm() && this.checkedPasses < FULL_FINGER_PASS_EVERY - 1;
    if (owner === null && checking) owner = await this.stillOwns(table.finger(index), start);
    if (owner === null) {
      try {
        owner = (await this.lookup.route(null, start, new Set())).peer;
      } catch (error) {
        if (!isP2PError(error)) throw error;
        return this.nextFingerFrom(index + 1, checking);
      }
    }
    // Finger j starts 2^j past this node, so every j with 2^j <= distance(self, owner) is owner.
    const isSelf = owner.address === self.address;
    const reach = isSelf ? 0 : ringDistance(self.id, owner.id).toString(2).length;
    const end = Math.max(index + 1, Math.min(ID_BITS, reach));
    table.setFingers(index, end, isSelf ? null : owner);
    return this.nextFingerFrom(end, checking);
  }

  /** Refreshes the whole finger table now. */
  async fixAllFingers(): Promise<void> {
    this.table.nextFinger = 0;
    for (let call = 0; call < ID_BITS; call++) {
      if (await this.fixFingers()) return;
    }
  }

  /** Moves on to finger `next`; at the end of a pass, counts it as checked or starts counting again after a full one. */
  private nextFingerFrom(next: number, checking: boolean): boolean {
    this.table.nextFinger = next % ID_BITS;
    if (this.table.nextFinger !== 0) return false;
    this.checkedPasses = checking ? this.checkedPasses + 1 : 0;
    return true;
  }

  /**
   * `finger` if it is still the first node at or after `start`: this node knows no live node between them, and
   * the finger's own predecessor lies before `start` (one GET_NEIGHBOURS). Null when unsure: a lookup decides.
   */
  private async stillOwns(finger: Peer | null, start: RingId): Promise<Peer | null> {
    if (finger === null || this.table.isDead(finger.address) || this.table.knownBetween(start, finger, new Set()) !== null) return null;
    let predecessor: Peer | null;
    try {
      predecessor = (await this.transport.getNeighbours(finger)).predecessor;
    } catch (error) {
      if (!isP2PError(error)) throw error;
      this.table.noteFailure(error, finger);
      return null;
    }
    if (predecessor === null || predecessor.address === finger.address || !inHalfOpenInterval(start, predecessor.id, finger.id)) return null;
    return finger;
  }

  private setPredecessor(candidate: Peer): void {
    if (this.table.setPredecessor(candidate)) this.onRangeTaken(candidate);
  }

  /**
   * The successor's list names a node this node marked dead: it may have come back (a restart on the same address),
   * and until it calls this node nothing else would show it, so it stayed out of this node's list for the dead-peer
   * TTL. The nearest such node gets one PING a round; one that is really gone costs that PING until the successor
   * drops it too, a round or two.
   */
  private async reviveOneListed(listed: readonly Peer[]): Promise<void> {
    const dead = listed.slice(0, this.table.successorListLength - 1).find((peer) => this.table.isDead(peer.address));
    if (dead !== undefined) await this.isAliveAgain(dead);
  }

  /**
   * Whether a peer our successor names is worth adopting: yes unless we saw it die, in which case
   * one PING decides, since a node restarted on the same address is that peer back again.
   */
  private async isAliveAgain(peer: Peer): Promise<boolean> {
    if (!this.table.isDead(peer.address)) return true;
    try {
      await this.transport.ping(peer);
      this.table.revive(peer.address);
      return true;
    } catch (error) {
      this.table.noteFailure(error, peer);
      return false;
    }
  }
}
