// How a node checks what a message claims about another peer: by asking that peer over its own connection.

import { isP2PError } from "../protocol/errors";
import type { RingTransport } from "./ring/transport";
import type { PeerChecks } from "../wire/ring";

/** Claims checked with one call each to the peer named; any failure to answer counts as "not there". */
export function peerChecks(transport: RingTransport): PeerChecks {
  return {
    async answers(peer) {
      try {
        await transport.ping(peer);
        return true;
      } catch (error) {
        if (!isP2PError(error)) throw error;
        return false;
      }
    },
    async hasLeft(peer) {
      try {
        await transport.getNeighbours(peer);
        return false;
      } catch (error) {
        if (!isP2PError(error)) throw error;
        return true;
      }
    },
  };
}
