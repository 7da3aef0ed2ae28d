// A ring transport that tells the routing table whenever a peer answers, and the upkeep whenever a call fails (the contract itself is src/model/ring-transport.ts).

import { isP2PError } from "../../protocol/errors";
import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";

/**
 * What a failed ring call fails with when the ring is changing: the peer is gone (TIMEOUT, UNREACHABLE,
 * CLOSED), not on this network (REFUSED), or joining or leaving (UNAVAILABLE). Anything else (a refused
 * record, a busy peer) says nothing about the ring's shape.
 */
const CHANGE_CODES: ReadonlySet<string> = new Set(["TIMEOUT", "UNREACHABLE", "CLOSED", "REFUSED", "UNAVAILABLE"]);

/**
 * `transport` with `onAnswer(peer)` called whenever a peer answers a call successfully, and
 * `onFailure(peer, code)` whenever a call fails in a way that means the ring is changing.
 */
export function revivingTransport(transport: RingTransport, onAnswer: (peer: Peer) => void, onFailure: (peer: Peer, code: string) => void = () => {}): RingTransport {
  // Only success counts: a node that has left answers UNAVAILABLE until it exits, and must stay out.
  const answered = async <T>(to: Peer, call: Promise<T>): Promise<T> => {
    let result: T;
    try {
      result = await call;
    } catch (error) {
      if (isP2PError(error) && CHANGE_CODES.has(error.code)) onFailure(to, error.code);
      throw error;
    }
    onAnswer(to);
    return result;
  };
  return {
    findSuccessorStep: (to, key, avoid) => answered(to, transport.findSuccessorStep(to, key, avoid)),
    getNeighbours: (to) => answered(to, transport.getNeighbours(to)),
    notify: (to, candidate) => answered(to, transport.notify(to, candidate)),
    ping: (to) => answered(to, transport.ping(to)),
    putRecords: (to, entries) => answered(to, transport.putRecords(to, entries)),
    getRecords: (to, key) => answered(to, transport.getRecords(to, key)),
    leaving: (to, leaver, predecessor, successors) => answered(to, transport.leaving(to, leaver, predecessor, successors)),
  };
}
