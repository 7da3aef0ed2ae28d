// Before joining: how this node takes part. A ring member at its own address, at an advertised or router-mapped one, or an edge node reached through a relay.

import { log } from "../log";
import { formatAddress } from "../protocol/address";
import { type OpTable, serve } from "../protocol/server";
import { opTable } from "../wire/op";
import { lackingFamily } from "./address-family";
import type { NodeOptions } from "./defaults";
import type { Introducers } from "./dns-client";
import { PortMapping } from "./port-mapping";
import type { Reachability } from "./reachability";

export interface JoiningRole {
  /** Joins as an edge node: unreachable, no route to the ring's family, or `--edge`. */
  edge: boolean;
  /** The family this node has no route to, for an edge that bridges to it through its relay. */
  lackingFamily?: 4;
  /** The address the ring knows this node by when it is not the one it listens on (a port mapping, `--advertise`). */
  address: string | null;
  /** A router's mapping to remove when the node stops. */
  mapping: PortMapping | null;
}

export interface RoleContext {
  options: NodeOptions;
  listen: { hostname: string; port: number };
  reach: Reachability;
  dns: Introducers;
  rpcTimeoutMs: number;
}

/**
 * Whether the DNS sees this node at its address and can dial it back there, on a listener that answers only the
 * dial-back. Unreachable behind NAT: the router is asked for a port mapping (NAT-PMP, then UPnP IGD) and the
 * dial-back tried at the mapped address; reachable there, the node joins under that address. Still unreachable: an edge node. Not
 * checked (DNS down, an older DNS without OBSERVED): a ring member, as before. Then the address family
 * (`lackingFamily`). On a private network alike: a relay is a keyed member, and each hop of a circuit is keyed.
 */
export async function joiningRole(context: RoleContext): Promise<JoiningRole> {
  const { options, reach } = context;
  const role: JoiningRole = { edge: options.edge ?? false, address: null, mapping: null };
  if (!role.edge) {
    await checkReach(context, role);
    if (reach.state === "reachable" && reach.address !== formatAddress(context.listen.hostname, context.listen.port)) role.address = reach.address;
    if (reach.state === "unreachable") {
      log.info("unreachable: joining as an edge node, through a relay");
      role.edge = true;
    }
  }
  const lacking = await lackingFamily(context.listen.hostname, options.also, context.dns, context.rpcTimeoutMs);
  if (lacking === null) return role;
  role.lackingFamily = lacking;
  if (!role.edge) log.info(`no route to the ring's IPv${lacking} members: joining as an edge node, through a dual-stack relay`);
  role.edge = true;
  return role;
}

async function checkReach({ options, listen, reach, dns }: RoleContext, role: JoiningRole): Promise<void> {
  const ops: OpTable = opTable(...reach.ops());
  const probe = await serve({ listen, ops, warn: (message) => log.warn(message), networkKey: options.networkKey });
  try {
    const dnsClient = dns.clients[0]!;
    log.info(await reach.check(dnsClient));
    if (reach.state !== "unreachable" || !reach.behindNat || options.advertise) return;
    role.mapping = await PortMapping.open(listen, { info: (message) => log.info(message), warn: (message) => log.warn(message) });
    if (!role.mapping) return;
    log.info(await reach.check(dnsClient, { at: role.mapping.external, how: `behind NAT, port mapped by ${role.mapping.method}` }));
    if (reach.isReachable()) return;
    await role.mapping.close();
    role.mapping = null;
  } finally {
    await probe.stop();
  }
}
