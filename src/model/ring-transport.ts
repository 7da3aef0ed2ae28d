// The contract between the Chord core and whatever carries its calls: one method per protocol op.

import type { RingId } from "./id";
import type { Peer } from "./peer";
import type { RecordEntry } from "./record";

/** One hop of an iterative lookup. */
export type LookupStep = {
  /** true: `peer` is the successor of the key. false: `peer` is the next node to ask. */
  done: boolean;
  peer: Peer;
};

/** The original protocol's GET_NEIGHBOURS answer. */
export type Neighbours = { predecessor: Peer | null; successors: Peer[] };

/**
 * Calls to other nodes. Every method rejects with a `P2PError` ("TIMEOUT", "UNREACHABLE",
 * "CLOSED", or the status the peer answered with) when the peer does not answer. Arguments and
 * results are plain data so each call maps onto one protocol op.
 */
export interface RingTransport {
  /** FIND_SUCCESSOR_STEP: one hop; the peer skips every address in `avoid` (known dead). */
  findSuccessorStep(to: Peer, key: RingId, avoid: string[]): Promise<LookupStep>;
  /** GET_NEIGHBOURS. */
  getNeighbours(to: Peer): Promise<Neighbours>;
  /** NOTIFY (the original UPDATE_PREDECESSOR): "`candidate` thinks it is your predecessor". */
  notify(to: Peer, candidate: Peer): Promise<void>;
  /** PING. */
  ping(to: Peer): Promise<void>;
  /** PUT_RECORDS: merge into the peer's store; resolves to how many entries changed there. */
  putRecords(to: Peer, entries: RecordEntry[]): Promise<number>;
  /** GET_RECORDS: the live members of `key` the peer holds. */
  getRecords(to: Peer, key: RingId): Promise<RecordEntry[]>;
  /** LEAVING: `leaver` is going; it hands over its own neighbours so the ring closes at once. */
  leaving(to: Peer, leaver: Peer, predecessor: Peer | null, successors: Peer[]): Promise<void>;
}

/**
 * What a transport's server side calls on the local node, one per op (PING needs none: answering
 * at all is the reply). Handlers are synchronous: a node never waits on another node to answer.
 */
export interface RingHandlers {
  handleFindSuccessorStep(key: RingId, avoid: string[]): LookupStep;
  handleGetNeighbours(): Neighbours;
  /** `direct`: the call came from the candidate itself (not a node forwarding what it heard). */
  handleNotify(candidate: Peer, direct: boolean): void;
  handlePutRecords(entries: RecordEntry[]): number;
  handleGetRecords(key: RingId): RecordEntry[];
  handleLeaving(leaver: Peer, predecessor: Peer | null, successors: Peer[]): void;
}
