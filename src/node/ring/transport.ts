// A ring transport that tells the routing table whenever a peer answers (the contract itself is src/model/ring-transport.ts).

import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";

/** `transport` with `onAnswer(peer)` called whenever a peer answers a call successfully. */
export function revivingTransport(transport: RingTransport, onAnswer: (peer: Peer) => void): RingTransport {
  // Only success counts: a node that has left answers UNAVAILABLE until it exits, and must stay out.
  const answered = async <T>(to: Peer, call: Promise<T>): Promise<T> => {
    const result = await call;
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
