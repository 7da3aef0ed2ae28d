// Records other nodes send here (PUT_RECORDS, and this node's own writes as primary): merged, then passed on to replicas or queued for hand-off.

import type { BackgroundWork } from "./background";
import type { HandOff } from "./hand-off";
import type { RecordEntry } from "../../model/record";
import type { RecordStore } from "./records";
import type { Replicator } from "./replicator";
import type { RoutingTable } from "./routing-table";

export type RecordIntakeOptions = {
  table: RoutingTable;
  store: RecordStore;
  replicator: Replicator;
  handOff: HandOff;
  background: BackgroundWork;
};

export class RecordIntake {
  private readonly table: RoutingTable;
  private readonly store: RecordStore;
  private readonly replicator: Replicator;
  private readonly handOff: HandOff;
  private readonly background: BackgroundWork;

  constructor(options: RecordIntakeOptions) {
    this.table = options.table;
    this.store = options.store;
    this.replicator = options.replicator;
    this.handOff = options.handOff;
    this.background = options.background;
  }

  /** Merges entries and returns how many changed; what changed and is ours as primary goes on to the replicas. */
  accept(entries: RecordEntry[]): number {
    const changed = this.store.merge(entries);
    if (changed > 0) {
      const primary: RecordEntry[] = [];
      for (const entry of entries) {
        if (this.table.isPrimaryFor(entry.key)) primary.push(entry);
        else this.handOff.noteMisplaced(entry.key);
      }
      if (primary.length > 0) this.background.start(() => this.replicator.pushToReplicas(primary));
    }
    return changed;
  }
}
