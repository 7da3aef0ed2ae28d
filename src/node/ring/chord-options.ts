// What a ChordNode can be tuned with, and its defaults (the status it reports is ChordStatus, src/model/reports.ts).

import type { RecordEntry } from "../../model/record";

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
};
