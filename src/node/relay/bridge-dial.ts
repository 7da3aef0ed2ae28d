// An edge's connections to peers of the address family it has no route to (an IPv6-only node and the IPv4 ring): through its dual-stack relay (BRIDGE).

import { formatAddress, splitAddress } from "../../protocol/address";
import type { BodyPool } from "../../protocol/body-pool";
import { connect, type ProtocolClient } from "../../protocol/client";
import { P2PError } from "../../protocol/errors";
import { familyOf } from "../../protocol/ip";
import type { Peer } from "../../model/peer";
import { CIRCUIT_OPEN_TIMEOUT_MS, RELAY } from "../../wire/relay";

/**
 * What `TcpTransport.bridge` asks: whether a peer's IP needs the bridge, and a link to it: through the relay, or
 * straight to the relay itself when the peer is the relay (a dual-stack relay's ring address in the other family).
 */
export interface Bridge {
  needed(ip: string): boolean;
  open(target: string, bodyPool?: BodyPool): Promise<{ client: ProtocolClient; path: "direct" | "relayed" }>;
}

export interface BridgeOptions {
  /** The family this node has no route to. */
  lacking: 4 | 6;
  /** The relay holding this edge's reservation now (null while it looks for one). */
  relay(): Peer | null;
  /** That relay's ring address, in the family this edge lacks (null while it has none). */
  relayRingAddress(): string | null;
  /** This edge's id (the hash of its key), which its relay knows it by. */
  edgeId(): string;
  connectTimeoutMs: number;
  localAddress?: string;
}

/** `TcpTransport.bridge` for an edge lacking a family: a connection to its relay, turned by BRIDGE into a pipe to the peer. */
export function bridgeVia(options: BridgeOptions): Bridge {
  return {
    needed: (ip) => familyOf(ip) === options.lacking,
    async open(target, bodyPool) {
      const relay = options.relay();
      if (!relay) throw new P2PError("UNAVAILABLE", `this node has no IPv${options.lacking} route, and no relay yet to reach ${target} through`);
      const { ip, port } = splitAddress(relay.address);
      const client = await connect({ hostname: ip, port }, { connectTimeoutMs: options.connectTimeoutMs, bodyPool, localAddress: options.localAddress });
      // The relay itself, by its other address: the same node, reached straight.
      if (target === options.relayRingAddress()) return { client, path: "direct" };
      try {
        const request = RELAY.BRIDGE.encodeArgs({ edgeId: options.edgeId(), target });
        const reply = await client.request(RELAY.BRIDGE.name, request.args, { timeoutMs: Math.max(options.connectTimeoutMs, CIRCUIT_OPEN_TIMEOUT_MS) });
        RELAY.BRIDGE.decodeReply(reply.body, formatAddress(ip, port), { edgeId: options.edgeId(), target });
      } catch (error) {
        client.close();
        throw error;
      }
      return { client, path: "relayed" };
    },
  };
}
