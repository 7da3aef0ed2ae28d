// What a ChordNode can be tuned with, and its defaults (the status it reports is ChordStatus, src/model/reports.ts).

import type { RecordEntry } from "../../model/record";
import type { LoopTimers } from "./maintenance-loop";

export type ChordOptions = {
  /** How many successors each node tracks; the ring survives this many minus one adjacent failures. */
  successorListLength?: number;
  /** Copies of each record: on its primary and on the next `replicas - 1` successors. */
  replicas?: number;
  clock?: () => number;
  /** Only spreads the maintenance timer; everything else is deterministic. */
  random?: () => number;
  /** How long a removal is remembered, so a late replica cannot bring the member back. */
  tombstoneTtlMs?: number;
  /** How long a peer that failed to answer stays out of this node's tables. */
  deadPeerTtlMs?: number;
  /** Upper bound on calls one lookup may make, dead ends included. */
  maxLookupCalls?: number;
  /** Largest batch of entries sent in one PUT_RECORDS. */
  maxEntriesPerCall?: number;
  /** Background work that failed for a reason other than a peer not answering. */
  onError?: (error: unknown) => void;
  /** A peer misbehaved (a lookup answer contradicted by what this node knows): worth a line in the log, never a failure. */
  onWarning?: (message: string) => void;
  /** What is normal while the ring changes (a peer's tables behind a join): a debug line. */
  onDebug?: (message: string) => void;
  /** The longest wait between two maintenance rounds while nothing changes (the fast one is `start`'s). */
  maxMaintenanceMs?: number;
  /** The maintenance timer; a test passes its own to move time by hand. */
  timers?: LoopTimers;
  /**
   * Learn the predecessors before the predecessor every round (one GET_NEIGHBOURS each), so this node
   * knows exactly which keys it holds as a replica (`holdsKey`); without it, only its own tables tell.
   */
  learnReplicaRange?: boolean;
  /** Signs the entries this node writes (puts and tombstones) as their holder; none: entries go unsigned (in-memory rings). */
  signEntry?: (entry: RecordEntry) => RecordEntry;
};

export const DEFAULTS = {
  successorListLength: 4,
  replicas: 3,
  tombstoneTtlMs: 24 * 60 * 60 * 1000,
  deadPeerTtlMs: 60 * 1000,
  maxLookupCalls: 256,
  maxEntriesPerCall: 500,
  /** Maintenance while the ring changes, until `start` names another period (a node's --stabilize). */
  fastMaintenanceMs: 500,
  /**
   * The longest wait between maintenance rounds while nothing changes (a node's --stabilize-max): 16 x the
   * fast 500 ms, reached after seven calm rounds (about 9 s). Below the 60 s idle timeout of a pooled
   * connection, so the links to the neighbours stay open and a crash still shows as a closed link at once.
   */
  maxMaintenanceMs: 8_000,
};
