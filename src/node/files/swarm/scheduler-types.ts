// The scheduler's vocabulary: the requests it asks for, why one failed, what it knows and tells of its peers.

import type { Bitfield } from "../../../model/bitfield";

/** Why a request to a peer came back without a chunk. */
export type RequestFailure =
  /** Unreachable, closed, silent or at its limits: ask again after a pause. */
  | "link"
  /** It does not have the file (any more): not asked again in this download. */
  | "missing"
  /** A partial holder without that chunk yet: our view of it was stale; no fault. */
  | "not-yet"
  /** Its upload queue is full: ask others now and it again shortly; no fault. */
  | "busy"
  /** It sent bytes that failed verification, or does not speak of the same file: never asked again. */
  | "bad";

/**
 * One request to make: a given chunk, or (`index` null) the holder's choice among `wanted`. In a
 * swarm a complete holder picks the chunk it has sent least, so its uplink carries every chunk
 * once before any twice; only it knows what it already sent to the others.
 */
export type Assignment = { peer: string; index: number } | { peer: string; index: null; wanted: Bitfield };

export interface PeerSummary {
  address: string;
  complete: boolean;
  delivered: number;
  bad: boolean;
  usable: boolean;
}

/** What the scheduler knows of one peer of the swarm. */
export interface PeerState {
  address: string;
  /** null: a complete holder, which has every chunk. */
  have: Bitfield | null;
  /** Chunks it has that this download lacks (partial peers): a peer with none is skipped at once. */
  interesting: number;
  inFlight: number;
  /** Of those, requests that let the holder choose the chunk. */
  chosenInFlight: number;
  failures: number;
  retryAt: number;
  /** "Not yet" answers for chunks it said it had. */
  contradictions: number;
  bad: boolean;
  missing: boolean;
  delivered: number;
}

export function isUsable(peer: PeerState, now: number): boolean {
  return !peer.bad && !peer.missing && now >= peer.retryAt;
}
