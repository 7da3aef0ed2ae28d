// What a node reports of its place in the ring and of the files it finds: produced by node/, carried by the control link.

import type { RingId } from "./id";
import type { Peer } from "./peer";

/** A ring node's view of its place: STATUS carries it. */
export type ChordStatus = {
  id: RingId;
  address: string;
  predecessor: Peer | null;
  successors: Peer[];
  /** Distinct finger peers, nearest first. */
  fingers: Peer[];
  /** Live entries this node holds as the primary for their key, and as a replica. */
  records: { primary: number; replica: number };
  /** The wait before its next maintenance round (ms): --stabilize while the ring changes, up to --stabilize-max while it does not. */
  maintenanceMs?: number;
  /** The last change that snapped maintenance back to --stabilize, and how long ago (ms): why a node is busy. */
  lastChange?: { reason: string; agoMs: number } | null;
};

/** What list and search return per file. */
export interface FileSummary {
  name: string;
  size: number;
  id: string;
  /** Distinct hosts that hold all of it. */
  holders: number;
  /** Distinct hosts that hold only part of it (still downloading, serving the chunks they verified); absent: none. */
  partial?: number;
  /** Addresses of the first of those (at most MAX_LISTED_PARTIAL). */
  partialHolders?: string[];
  /** A shared folder: `id` is its folder id, `size` the total of its files. */
  folder?: boolean;
  /** How many files the folder holds (in an UPLOAD reply only). */
  files?: number;
}
