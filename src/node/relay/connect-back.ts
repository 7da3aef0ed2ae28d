// The reachable side of a connection reversal: ask an edge's relay to have the edge dial this node back, and take that link.

import type { ProtocolClient } from "../../protocol/client";
import { isP2PError } from "../../protocol/errors";
import { newReversalToken, type Reversals } from "../../protocol/reversal";
import { RELAY } from "../../wire/relay";
import type { TcpTransport } from "../tcp-transport";

/**
 * How long a dialler waits for the edge to connect back before it takes a circuit instead: a relay's notice and
 * one TCP connect, a few round trips, with room for a loaded machine. An unreachable dialler does not wait at all.
 */
export const REVERSAL_WAIT_MS = 3_000;
/**
 * How long an edge that did not dial back is reached by circuit without asking again: each of a download's links
 * (ring, transfers, availability) would otherwise wait REVERSAL_WAIT_MS in turn for a dial-back that cannot come.
 */
export const REVERSAL_RETRY_AFTER_MS = 10 * 60_000;
/** Edges whose last dial-back failed that a node remembers. */
const MAX_REMEMBERED_FAILURES = 1_024;

/**
 * `TcpTransport.connectBack` for a node that listens on `port`: while `reachable()` (its DNS's dial-back
 * reached it), a link to an edge is first asked of the edge itself (CONNECT_BACK to its relay, REVERSED back
 * here); null sends the caller through the relay.
 */
export function connectBackVia(transport: Pick<TcpTransport, "send">, reversals: Reversals, port: number, reachable: () => boolean, clock: () => number = Date.now) {
  const failedAt = new Map<string, number>();
  const failed = (edgeId: string) => {
    if (failedAt.size >= MAX_REMEMBERED_FAILURES) failedAt.delete(failedAt.keys().next().value!);
    failedAt.set(edgeId, clock());
    return null;
  };
  /** `again`: a relayed link in use asks once more whatever the last try said (src/node/relay/relayed-upgrade.ts). */
  return async (relayed: { relay: string; edgeId: string }, again = false): Promise<ProtocolClient | null> => {
    if (!reachable()) return null;
    const lastFailure = failedAt.get(relayed.edgeId);
    if (!again && lastFailure !== undefined && clock() - lastFailure < REVERSAL_RETRY_AFTER_MS) return null;
    const token = newReversalToken();
    const arrival = reversals.expectReversal(token, REVERSAL_WAIT_MS).catch((error: unknown) => {
      if (!isP2PError(error)) throw error;
      return null;
    });
    try {
      await transport.send(relayed.relay, RELAY.CONNECT_BACK, { edgeId: relayed.edgeId, port, token });
    } catch (error) {
      // An older relay, or one that lost the edge: the circuit says why, if it fails too.
      if (!isP2PError(error)) throw error;
      return failed(relayed.edgeId);
    }
    const link = await arrival;
    if (link === null) return failed(relayed.edgeId);
    failedAt.delete(relayed.edgeId);
    return link;
  };
}
