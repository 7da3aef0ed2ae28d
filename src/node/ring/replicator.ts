// Periodic replication: a primary's records pushed to the replica holders that may lack them, and a new predecessor's share handed over.

import type { BackgroundWork } from "./background";
import { inOpenInterval, type RingId } from "../../model/id";
import type { RecordPusher } from "./record-pusher";
import type { RecordEntry } from "../../model/record";
import type { RecordStore } from "./records";
import type { RoutingTable } from "./routing-table";
import type { Peer } from "../../model/peer";

/** Background work is re-run at most this often in a row when asked again while running. */
const MAX_REPLICATION_PASSES = 4;

export type ReplicatorOptions = {
  table: RoutingTable;
  store: RecordStore;
  pusher: RecordPusher;
  background: BackgroundWork;
  /** Copies of each record: on its primary and on the next `replicas - 1` successors. */
  replicas: number;
};

export class Replicator {
  private readonly table: RoutingTable;
  private readonly store: RecordStore;
  private readonly pusher: RecordPusher;
  private readonly background: BackgroundWork;
  private readonly replicas: number;

  /** Range start and targets of the last full push of primary records, to push only what changed. */
  private replicatedRangeStart: RingId | null = null;
  private replicatedTo = new Set<string>();
  private replicating = false;
  private replicateAgain = false;

  constructor(options: ReplicatorOptions) {
    this.table = options.table;
    this.store = options.store;
    this.pusher = options.pusher;
    this.background = options.background;
    this.replicas = options.replicas;
  }

  /** Forgets what was pushed where: the tables were reset. */
  reset(): void {
    this.replicatedRangeStart = null;
    this.replicatedTo = new Set();
  }

  /**
   * Pushes this node's primary records to the replica holders that may lack them: new members of
   * the first `replicas - 1` successors, or all of them when the primary range grew.
   */
  async replicate(): Promise<void> {
    if (this.replicating) {
      this.replicateAgain = true;
      return;
    }
    this.replicating = true;
    try {
      for (let pass = 0; pass < MAX_REPLICATION_PASSES; pass++) {
        this.replicateAgain = false;
        await this.replicateOnce();
        if (!this.replicateAgain) break;
      }
    } finally {
      this.replicating = false;
    }
  }

  /** Pushes entries that just changed here, as their primary, to the current replica holders (and those its successor list misses). */
  async pushToReplicas(entries: RecordEntry[]): Promise<void> {
    await this.pusher.pushToReplicaSet(this.table.self, this.replicaTargets(), entries);
  }

  /**
   * `candidate` joined inside this node's range. It needs everything outside our new range that we
   * hold: its own share, and the replicas of the nodes before it. We keep ours as replicas.
   */
  handOverTo(candidate: Peer): void {
    const handover = this.store.inRange(this.table.self.id, candidate.id);
    if (handover.length > 0) this.background.start(() => this.pusher.pushRecords(candidate, handover));
  }

  private async replicateOnce(): Promise<void> {
    const predecessor = this.table.predecessor;
    const self = this.table.self;
    if (predecessor === null || this.table.successors.length === 0) return;
    const targets = this.replicaTargets();
    const previousStart = this.replicatedRangeStart;
    const grew =
      previousStart === null ||
      (previousStart !== predecessor.id && inOpenInterval(previousStart, predecessor.id, self.id));
    const due = grew ? targets : targets.filter((target) => !this.replicatedTo.has(target.address));
    const reached = new Set(targets.filter((target) => !due.includes(target)).map((target) => target.address));
    if (due.length > 0) {
      const entries = this.store.inRange(predecessor.id, self.id);
      for (const target of due) {
        if (await this.pusher.pushRecords(target, entries)) reached.add(target.address);
      }
    }
    this.replicatedRangeStart = predecessor.id;
    this.replicatedTo = reached;
  }

  private replicaTargets(): Peer[] {
    return this.table.successors.slice(0, this.replicas - 1);
  }
}
