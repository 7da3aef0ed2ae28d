// A node behind NAT asks its router for a port mapping (NAT-PMP, then UPnP IGD) before it settles for being an edge node; the mapping is renewed while the node runs and removed when it stops.

import { isIP } from "node:net";
import { formatAddress } from "../protocol/address";
import { isP2PError, P2PError } from "../protocol/errors";
import { isLoopback } from "../protocol/ip";
import { defaultGateway, externalAddress, MAPPING_LIFETIME_SECONDS, mapTcp } from "../protocol/nat-pmp";
import { type DiscoverOptions, discoverIgd, igdExternalAddress, igdMapTcp, igdUnmapTcp } from "../protocol/upnp-igd";

/** A mapping is renewed when this share of the lifetime the router granted has passed (RFC 6886 §3.3 suggests half). */
export const RENEW_AFTER_SHARE = 0.5;

/** The protocols a router may speak, in the order they are tried: NAT-PMP's "no" is quick when its port is closed. */
export type MappingMethod = "NAT-PMP" | "UPnP";

export interface PortMappingOptions {
  /** The router on the default route (null: none). Default: read from the route table. */
  gateway?: string | null;
  /** Where the default route is read from (Linux's /proc/net/route; tests give their own). */
  routeTable?: string;
  /** How UPnP searches (tests search a loopback gateway on its own port, without multicast). */
  upnp?: Partial<DiscoverOptions>;
  /** The methods tried, in order. Default: both. */
  methods?: readonly MappingMethod[];
}

/** One router's way of mapping this node's port: a grant, a renewal (the same call), a removal. */
interface Mapper {
  readonly method: MappingMethod;
  readonly router: string;
  readonly externalIp: string;
  map(wishedExternalPort: number): Promise<{ externalPort: number; lifetimeSeconds: number }>;
  unmap(externalPort: number): Promise<void>;
}

export class PortMapping {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  private constructor(
    private readonly mapper: Mapper,
    /** Where the world reaches this node: the router's external address and the port it granted. */
    readonly external: { ip: string; port: number },
    lifetimeSeconds: number,
    private readonly warn: (message: string) => void,
  ) {
    this.scheduleRenewal(lifetimeSeconds);
  }

  /**
   * Asks the router on the default route to map TCP `listen.port` to this node (the same port outside if it can),
   * by NAT-PMP, then by UPnP IGD. Null, with each method's reason passed to `info`, when there is no default route or
   * no method gets a mapping.
   */
  static async open(listen: { hostname: string; port: number }, log: { info(message: string): void; warn(message: string): void }, options: PortMappingOptions = {}): Promise<PortMapping | null> {
    // A router maps addresses on its LAN; a node on loopback has none to ask (and its tests must send nothing off the host).
    if (isLoopback(listen.hostname) && options.gateway === undefined) {
      log.info(`no port mapping: this node listens on loopback (${listen.hostname})`);
      return null;
    }
    const gateway = options.gateway === undefined ? defaultGateway(options.routeTable) : options.gateway;
    if (gateway === null) return null;
    const reasons: string[] = [];
    for (const method of options.methods ?? ["NAT-PMP", "UPnP"]) {
      try {
        const mapper = method === "NAT-PMP" ? await natPmpMapper(gateway, listen.port) : await upnpMapper(gateway, listen, options.upnp);
        const granted = await mapper.map(listen.port);
        log.info(`the router at ${mapper.router} mapped ${formatAddress(mapper.externalIp, granted.externalPort)} to this node's port ${listen.port} (${method})`);
        return new PortMapping(mapper, { ip: mapper.externalIp, port: granted.externalPort }, granted.lifetimeSeconds, log.warn);
      } catch (error) {
        if (!isP2PError(error)) throw error;
        reasons.push(error.message);
      }
    }
    log.info(`no port mapping: ${reasons.join("; ")}`);
    return null;
  }

  get address(): string {
    return formatAddress(this.external.ip, this.external.port);
  }

  /** How the mapping was granted, for status: `behind NAT, port mapped by UPnP`. */
  get method(): MappingMethod {
    return this.mapper.method;
  }

  /** Removes the mapping (best effort: a router that does not answer lets it expire). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.mapper.unmap(this.external.port).catch((error: unknown) => {
      if (!isP2PError(error)) throw error;
    });
  }

  /** A permanent mapping (lifetime 0, from a router that grants no other) is asked for again as often as one of our own asking, in case the router restarted. */
  private scheduleRenewal(lifetimeSeconds: number): void {
    if (this.closed) return;
    const lifetime = lifetimeSeconds > 0 ? lifetimeSeconds : MAPPING_LIFETIME_SECONDS;
    this.timer = setTimeout(() => void this.renew(), lifetime * 1000 * RENEW_AFTER_SHARE);
  }

  private async renew(): Promise<void> {
    const { router, method } = this.mapper;
    try {
      const mapping = await this.mapper.map(this.external.port);
      // A router that restarted may give another port: the node keeps the address it joined under, and says so.
      if (mapping.externalPort !== this.external.port) this.warn(`the router at ${router} now maps port ${mapping.externalPort}, not ${this.external.port} (${method}): peers may not reach this node until it restarts`);
      this.scheduleRenewal(mapping.lifetimeSeconds);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      this.warn(`could not renew the port mapping at ${router} (${method}): ${error.message}; trying again`);
      this.scheduleRenewal(60);
    }
  }
}

async function natPmpMapper(gateway: string, internalPort: number): Promise<Mapper> {
  const externalIp = await externalAddress(gateway);
  return {
    method: "NAT-PMP",
    router: gateway,
    externalIp,
    map: (wished) => mapTcp(gateway, internalPort, wished, MAPPING_LIFETIME_SECONDS),
    unmap: async () => void (await mapTcp(gateway, internalPort, 0, 0)),
  };
}

/** UPnP IGD maps to an IPv4 host address: the one the node listens on. */
async function upnpMapper(gateway: string, listen: { hostname: string; port: number }, search: Partial<DiscoverOptions> = {}): Promise<Mapper> {
  if (isIP(listen.hostname) !== 4 || listen.hostname === "0.0.0.0") {
    throw new P2PError("UNREACHABLE", `UPnP maps to one IPv4 address, and this node listens on ${listen.hostname}`);
  }
  const service = await discoverIgd({ gateway, ...search });
  const externalIp = await igdExternalAddress(service);
  return {
    method: "UPnP",
    router: service.router,
    externalIp,
    map: (wished) => igdMapTcp(service, listen.hostname, listen.port, wished, MAPPING_LIFETIME_SECONDS),
    unmap: (externalPort) => igdUnmapTcp(service, externalPort),
  };
}
