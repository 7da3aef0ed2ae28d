// The dialler's half of a hole punch: over the circuit it opened to an edge, run `punch()` as the initiator and take the punched link instead.

import type { ProtocolClient } from "../../protocol/client";
import { isP2PError, P2PError } from "../../protocol/errors";
import { choosePunchPort, punch, punchedClient, type PunchChannel } from "../../protocol/punch";
import { RELAY } from "../../wire/relay";
import { RING } from "../../wire/ring";
import type { Observation } from "./punch-observe";

/**
 * How long an edge whose punch failed is reached through its relay before a punch is tried again: a symmetric
 * NAT on either side fails every time, and each try costs the dialler up to PUNCH_WINDOW_MS (5 s).
 */
export const PUNCH_RETRY_AFTER_MS = 10 * 60_000;
/** Edges whose last punch failed that a node remembers. */
const MAX_REMEMBERED_FAILURES = 1_024;

export interface PunchDialOptions {
  /** The IP this node's relay `relay` sees it come from, and whether its NAT keeps ports (`observeThrough`). */
  observe(relay: string): Promise<Observation>;
  networkKey?: Uint8Array;
  localAddress?: string;
  /** This node's own IP on its network, announced so an edge behind the same NAT is reached straight. */
  lanIp?: string;
  info(message: string): void;
  clock?: () => number;
}

/**
 * `TcpTransport.punch` for a node that cannot be reached (an edge): over `circuit`, the edge is asked to punch
 * (PUNCH CONNECT, SYNC) and the punched link returned, or null to stay on the circuit. A link made straight to the
 * edge's LAN address is a direct one, and says so (`path`).
 */
export function punchVia(options: PunchDialOptions) {
  const failedAt = new Map<string, number>();
  const clock = options.clock ?? Date.now;
  /**
   * `again`: a relayed link in use tries once more whatever the last try said (src/node/relay/relayed-upgrade.ts),
   * a plain punch only: a birthday punch's hundreds of SYNs are not repeated every few seconds.
   */
  return async (circuit: ProtocolClient, relayed: { relay: string; edgeId: string; edgeIp?: string }, address: string, again = false): Promise<{ client: ProtocolClient; path: "direct" | "punched" } | null> => {
    const failed = failedAt.get(address);
    if (!again && failed !== undefined && clock() - failed < PUNCH_RETRY_AFTER_MS) return null;
    try {
      const { ip, randomPorts } = await options.observe(relayed.relay);
      const punching = { role: "initiator", localPort: choosePunchPort(options.localAddress), observedIp: ip, randomPorts, localAddress: options.localAddress, lanIp: options.lanIp, plainOnly: again } as const;
      const result = await punch(overCircuit(circuit, relayed.edgeIp), punching);
      const client = await punchedClient(result, { networkKey: options.networkKey });
      await provenEdge(client, address);
      failedAt.delete(address);
      return { client, path: result.path === "lan" ? "direct" : "punched" };
    } catch (error) {
      if (!isP2PError(error)) throw error;
      if (failedAt.size >= MAX_REMEMBERED_FAILURES) failedAt.delete(failedAt.keys().next().value!);
      failedAt.set(address, clock());
      // A retry that failed again is no news: the link stays where it was.
      if (!again) options.info(`hole punch to ${address} failed (${error.message}); staying on its relay for ${PUNCH_RETRY_AFTER_MS / 60_000} min`);
      return null;
    }
  };
}

/**
 * Checks that the punched link reaches the edge itself: its KEY must be the one its edge id (in `address`,
 * `relay/<edge id>`) is bound to. A LAN address or an observed one is the edge's own word, and it could name
 * another host that happens to accept; the link is closed and the relay used then.
 */
async function provenEdge(client: ProtocolClient, address: string): Promise<void> {
  try {
    RING.KEY.decodeReply((await client.request(RING.KEY.name, [])).body, address, undefined);
  } catch (error) {
    client.close();
    throw error;
  }
}

/**
 * The punch's lines as PUNCH requests on the circuit: CONNECT's reply is the edge's CONNECT; SYNC is sent
 * without waiting for its reply, since the dialler's own dial is timed from the moment SYNC leaves. `edgeIp`
 * is where the relay sees the edge (its CIRCUIT reply).
 */
function overCircuit(circuit: ProtocolClient, edgeIp: string | undefined): PunchChannel {
  const replies: string[] = [];
  return {
    async send(line) {
      const request = RELAY.PUNCH.encodeArgs(line);
      if (line === "SYNC") {
        // Its reply says nothing the punch needs: whether a link opens decides.
        circuit.request(RELAY.PUNCH.name, request.args).catch((error: unknown) => {
          if (!isP2PError(error)) throw error;
        });
        return;
      }
      const reply = RELAY.PUNCH.decodeReply((await circuit.request(RELAY.PUNCH.name, request.args)).body, "the edge", line);
      if (reply !== null) replies.push(reply);
    },
    async receive() {
      const line = replies.shift();
      if (line === undefined) throw new P2PError("MALFORMED", "the edge answered CONNECT without its own");
      return line;
    },
    peerIp: () => edgeIp,
  };
}
