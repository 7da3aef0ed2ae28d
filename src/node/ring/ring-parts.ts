// Builds the parts of one ring node from its options and wires them to each other; ChordNode is their front.

import { AdaptivePeriod } from "./adaptive-period";
import { BackgroundWork } from "./background";
import { type ChordOptions, DEFAULTS } from "./chord-options";
import { HandOff } from "./hand-off";
import { Lookup } from "./lookup";
import { Membership } from "./membership";
import { RecordClient } from "./record-client";
import { RecordIntake } from "./record-intake";
import { RecentlyHeard } from "./recently-heard";
import { RecordPusher } from "./record-pusher";
import type { RecordStore } from "./records";
import { Replicator } from "./replicator";
import { RoutingTable } from "./routing-table";
import { Stabilizer } from "./stabilizer";
import { revivingTransport } from "./transport";
import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";

/** Each part holds one concern; a part's name is also the name every other part holds it by. */
export type RingParts = {
  table: RoutingTable;
  /** The transport given, wrapped so that any answer revives its sender. */
  transport: RingTransport;
  lookup: Lookup;
  stabilizer: Stabilizer;
  background: BackgroundWork;
  replicator: Replicator;
  handOff: HandOff;
  intake: RecordIntake;
  client: RecordClient;
  membership: Membership;
  /** How long upkeep waits between rounds: longer while nothing changes, fast again at any change. */
  period: AdaptivePeriod;
  /** When each peer last answered or called: liveness that needs no ping. */
  heard: RecentlyHeard;
};

/** The settings ChordNode keeps for itself, defaults applied. */
export type RingSettings = {
  clock: () => number;
  random: () => number;
  deadPeerTtlMs: number;
  replicas: number;
  learnReplicaRange: boolean;
};

export function ringSettings(options: ChordOptions): RingSettings {
  return {
    clock: options.clock ?? Date.now,
    random: options.random ?? Math.random,
    deadPeerTtlMs: options.deadPeerTtlMs ?? DEFAULTS.deadPeerTtlMs,
    replicas: Math.max(1, options.replicas ?? DEFAULTS.replicas),
    learnReplicaRange: options.learnReplicaRange ?? false,
  };
}

export function buildRingParts(self: Peer, transport: RingTransport, store: RecordStore, options: ChordOptions, settings: RingSettings): RingParts {
  const { clock, replicas } = settings;
  const successorListLength = Math.max(1, options.successorListLength ?? DEFAULTS.successorListLength);
  const table = new RoutingTable(self, successorListLength, clock);
  const period = new AdaptivePeriod({ fastMs: DEFAULTS.fastMaintenanceMs, maxMs: options.maxMaintenanceMs ?? DEFAULTS.maxMaintenanceMs, clock });
  const heard = new RecentlyHeard(clock);
  // Any answer at all proves a peer alive: it leaves the dead list at once, not after its TTL. A failed call is a change.
  const reviving = revivingTransport(
    transport,
    (peer) => {
      table.revive(peer.address);
      heard.note(peer.address);
    },
    (peer, code) => {
      heard.forget(peer.address);
      period.disturbed(`a call to ${peer.address} failed (${code})`);
    },
  );
  const lookup = new Lookup(table, reviving, {
    maxLookupCalls: options.maxLookupCalls ?? DEFAULTS.maxLookupCalls,
    clock,
    warn: options.onWarning ?? (() => {}),
    debug: options.onDebug,
    contradicted: (from) => period.disturbed(`an answer of ${from.address} was contradicted`),
  });
  const background = new BackgroundWork(options.onError ?? ((error) => console.error("chord background work failed:", error)));
  const pusher = new RecordPusher(table, reviving, options.maxEntriesPerCall ?? DEFAULTS.maxEntriesPerCall);
  const replicator = new Replicator({ table, store, pusher, background, replicas });
  // A new predecessor inside our range gets what it now owns, and the replicas before it.
  // Calm: backed off to the longest period. With the back-off turned off (max = fast) never: fingers are looked up every round, as before.
  const calm = () => period.atMax && period.max > period.fast;
  const stabilizer = new Stabilizer(table, reviving, lookup, (candidate) => replicator.handOverTo(candidate), calm);
  const membership = new Membership(table, reviving, lookup, replicator, pusher, store, replicas);
  const handOff = new HandOff({ table, transport: reviving, lookup, store, pusher, isMember: () => membership.isMember });
  const intake = new RecordIntake({ table, store, replicator, handOff, background });
  const client = new RecordClient({
    table,
    transport: reviving,
    lookup,
    store,
    intake,
    pusher,
    replicas,
    tombstoneTtlMs: options.tombstoneTtlMs ?? DEFAULTS.tombstoneTtlMs,
    clock,
    signEntry: options.signEntry ?? ((entry) => entry),
  });
  return { table, transport: reviving, lookup, stabilizer, background, replicator, handOff, intake, client, membership, period, heard };
}
