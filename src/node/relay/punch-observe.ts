// Before a punch: how this node's NAT treats a new connection, learnt from its relay's OBSERVED on a connection made for the question.

import { parsePeerAddress } from "../../protocol/address";
import { connect } from "../../protocol/client";
import { choosePunchPort } from "../../protocol/punch";
import { REACH } from "../../wire/reach";

/** What a punch announces about this side: the IP the relay sees, and whether the port it sees is not the one used. */
export type Observation = { ip: string; randomPorts: boolean };

export interface ObserveOptions {
  localAddress?: string;
  networkKey?: Uint8Array;
  timeoutMs: number;
}

/**
 * Asks the relay at `relay` which address it sees, over a new connection from a port this node chose: a NAT
 * that keeps ports (Linux's MASQUERADE, most home routers) shows that port; one that maps each connection to a
 * port of its own (`--random-fully`, a symmetric NAT) shows another, and then a punch to the announced port
 * cannot open. One connection per punch; it is closed before the answer is used.
 */
export async function observeThrough(relay: string, options: ObserveOptions): Promise<Observation> {
  const { ip, port } = parsePeerAddress(relay, "relay address");
  const localPort = choosePunchPort(options.localAddress);
  const client = await connect({ hostname: ip, port }, { localAddress: options.localAddress, localPort, networkKey: options.networkKey, connectTimeoutMs: options.timeoutMs });
  try {
    const seen = REACH.OBSERVED.decodeReply((await client.request(REACH.OBSERVED.name, [], { timeoutMs: options.timeoutMs })).body, relay, undefined);
    return { ip: seen.ip, randomPorts: seen.port !== localPort };
  } finally {
    client.close();
  }
}
