// A ring node's periodic upkeep: one round of every maintenance task, run on an adaptive period that backs off while nothing changes.

import { inOpenInterval } from "../../model/id";
import type { RecordStore } from "./records";
import type { RingParts, RingSettings } from "./ring-parts";
import { ChangeWatch, type LoopTimers, MaintenanceLoop, realLoopTimers } from "./maintenance-loop";
import type { Neighbours } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/**
 * Signs of change snap the period back to the fast one: a new or missing neighbour (predecessor or
 * successor; a finger that moved is not one: see tableShape), a failed call and a contradicted lookup (both reported by ring-parts.ts),
 * a notify from a node that is not the predecessor, a neighbour leaving, a merge.
 */
export class Upkeep {
  private readonly loop: MaintenanceLoop;
  private readonly watch: ChangeWatch;

  constructor(
    private readonly parts: RingParts,
    private readonly settings: RingSettings,
    private readonly store: RecordStore,
    /** What the timer runs each round: the node's `maintain`, which ends in this class's. */
    round: () => Promise<void>,
    timers: LoopTimers = realLoopTimers,
  ) {
    this.watch = new ChangeWatch(parts.period, () => tableShape(parts.table.neighbours()));
    this.loop = new MaintenanceLoop({
      period: parts.period,
      round,
      timers,
      clock: settings.clock,
      random: settings.random,
      onError: (error) => parts.background.reportError(error),
    });
  }

  /**
   * One round of all periodic work; a round that changed nothing lengthens the wait before the next.
   * A predecessor heard from within the current period is not pinged: its own stabilize calls this
   * node every round.
   */
  async maintain(): Promise<void> {
    const { period, heard, table, stabilizer, replicator, handOff } = this.parts;
    const generation = period.generation;
    table.forgetDeadPeersOlderThan(this.settings.deadPeerTtlMs);
    const predecessor = table.predecessor;
    if (predecessor !== null && !heard.within(predecessor.address, period.current())) await stabilizer.checkPredecessor();
    if (this.settings.learnReplicaRange) await stabilizer.learnPredecessors(this.settings.replicas);
    await stabilizer.stabilize();
    await stabilizer.fixFingers();
    await replicator.replicate();
    await handOff.handOffMisplaced();
    this.store.pruneExpired(this.settings.clock());
    this.watch.roundDone(generation);
  }

  /** Rounds every `fastMs` while the ring changes, backing off to the period's maximum while it does not. */
  start(fastMs: number): void {
    this.loop.start(fastMs, Math.max(fastMs, this.parts.period.max));
  }

  stop(): void {
    this.loop.stop();
  }

  /** The next round within the fast period, without resetting the period (see MaintenanceLoop.soon). */
  checkSoon(): void {
    this.loop.soon();
  }

  /** A NOTIFY arrived: the caller is alive; a new predecessor, or a caller that is not one, is a change. */
  notified(candidate: Peer, direct: boolean): void {
    const { heard, stabilizer, table, period } = this.parts;
    heard.note(candidate.address);
    const { successor, predecessor, self } = table;
    const betweenUsAndSuccessor = successor !== undefined && inOpenInterval(candidate.id, self.id, successor.id);
    if (betweenUsAndSuccessor && (predecessor === null || !inOpenInterval(candidate.id, predecessor.id, self.id))) {
      // A node that just joined after this one says so (Membership's hint): the next stabilize adopts it as successor.
      period.disturbed(`${candidate.address} joined after it`);
      return;
    }
    stabilizer.notified(candidate, direct);
    this.watch.check(`${candidate.address} joined before it`);
    // Someone else takes this node for its successor: its own successor went away, or it is joining.
    if (table.predecessor?.address !== candidate.address) period.disturbed(`${candidate.address} notified it but is not its predecessor`);
  }
}

/**
 * The neighbours as one string: two equal strings are the same neighbours. Fingers are left out: a node
 * joining anywhere moves some finger of many nodes, and counting that as change kept a whole ring of
 * hundreds at the fast period while nodes joined (2 cores saturated at 257 nodes). Fingers only
 * shorten lookups; a dead one fails a call, which is a change of its own.
 */
function tableShape(neighbours: Neighbours): string {
  const addresses = (peers: readonly (Peer | null)[]) => peers.map((peer) => peer?.address ?? "-").join(",");
  return `${addresses([neighbours.predecessor])}|${addresses(neighbours.successors)}`;
}
