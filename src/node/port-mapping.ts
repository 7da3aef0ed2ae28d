// A node behind NAT asks its router for a port mapping (NAT-PMP) before it settles for being an edge node; the mapping is renewed while the node runs and removed when it stops.

import { formatAddress } from "../protocol/address";
import { isP2PError } from "../protocol/errors";
import { defaultGateway, externalAddress, MAPPING_LIFETIME_SECONDS, mapTcp } from "../protocol/nat-pmp";

/** A mapping is renewed when this share of the lifetime the router granted has passed (RFC 6886 §3.3 suggests half). */
export const RENEW_AFTER_SHARE = 0.5;

export class PortMapping {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  private constructor(
    private readonly gateway: string,
    private readonly internalPort: number,
    /** Where the world reaches this node: the router's external address and the port it granted. */
    readonly external: { ip: string; port: number },
    lifetimeSeconds: number,
    private readonly warn: (message: string) => void,
  ) {
    this.scheduleRenewal(lifetimeSeconds);
  }

  /**
   * Asks the router on the default route to map TCP `internalPort` (the same port outside if it can). Null, with
   * the reason passed to `info`, when there is no default route, no NAT-PMP answer, or a refusal.
   */
  static async open(internalPort: number, log: { info(message: string): void; warn(message: string): void }, gateway = defaultGateway()): Promise<PortMapping | null> {
    if (gateway === null) return null;
    try {
      const ip = await externalAddress(gateway);
      const mapping = await mapTcp(gateway, internalPort, internalPort, MAPPING_LIFETIME_SECONDS);
      log.info(`the router at ${gateway} mapped ${formatAddress(ip, mapping.externalPort)} to this node's port ${internalPort} (NAT-PMP)`);
      return new PortMapping(gateway, internalPort, { ip, port: mapping.externalPort }, mapping.lifetimeSeconds, log.warn);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      log.info(`no port mapping: ${error.message}`);
      return null;
    }
  }

  get address(): string {
    return formatAddress(this.external.ip, this.external.port);
  }

  /** Removes the mapping (best effort: a router that does not answer lets it expire). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await mapTcp(this.gateway, this.internalPort, 0, 0).catch((error: unknown) => {
      if (!isP2PError(error)) throw error;
    });
  }

  private scheduleRenewal(lifetimeSeconds: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.renew(), Math.max(1, lifetimeSeconds) * 1000 * RENEW_AFTER_SHARE);
  }

  private async renew(): Promise<void> {
    try {
      const mapping = await mapTcp(this.gateway, this.internalPort, this.external.port, MAPPING_LIFETIME_SECONDS);
      // A router that restarted may give another port: the node keeps the address it joined under, and says so.
      if (mapping.externalPort !== this.external.port) this.warn(`the router at ${this.gateway} now maps port ${mapping.externalPort}, not ${this.external.port}: peers may not reach this node until it restarts`);
      this.scheduleRenewal(mapping.lifetimeSeconds);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      this.warn(`could not renew the port mapping at ${this.gateway}: ${error.message}; trying again`);
      this.scheduleRenewal(60);
    }
  }
}
