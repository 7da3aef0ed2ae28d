// Which connections a server holds: at most so many per address and in all, the least useful evicted for a newcomer.

import { P2PError } from "./errors";
import type { FramedConnection } from "./connection";
import type { RequestHead } from "./frame";
import type { ServerSession } from "./session";

export interface SlotLimits {
  maxConnections: number;
  maxPerAddress: number;
  warn: (message: string) => void;
}

/**
 * Unix-socket clients, and 127.0.0.1: Linux sends every loopback connection a machine makes to itself from
 * 127.0.0.1, whatever address it targets, so all nodes of a local testnet share it.
 */
const EXEMPT_ADDRESSES = new Set(["local", "127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export class ConnectionSlots {
  // Insertion order is age order: eviction scans from the oldest.
  private readonly connections = new Set<FramedConnection<RequestHead>>();
  private readonly perAddress = new Map<string, number>();
  /** Counts refusals and evictions, so a flood is reported once per hundred, not once per connection. */
  private refusalsWarned = 0;
  private readonly limits: SlotLimits;

  constructor(limits: SlotLimits) {
    this.limits = limits;
  }

  get size(): number {
    return this.connections.size;
  }

  /** Gives a new session a slot, evicting the least useful connection when full; refuses it when it cannot. */
  admit(session: ServerSession): void {
    const { maxConnections, maxPerAddress, warn } = this.limits;
    const address = session.connection.remoteAddress;
    const held = this.perAddress.get(address) ?? 0;
    if (held >= maxPerAddress && !EXEMPT_ADDRESSES.has(address)) {
      // A flood would log one line per connection: say it once per burst.
      if (this.refusalsWarned++ % 100 === 0) warn(`${address} holds ${held} connections, the limit; refusing more`);
      session.refuse(new P2PError("UNAVAILABLE", `too many connections from ${address} (at most ${maxPerAddress}); reuse one or close some`));
      return;
    }
    if (this.connections.size >= maxConnections) {
      const victim = leastUseful(this.connections);
      if (!victim) {
        session.refuse(new P2PError("UNAVAILABLE", `server is at its limit of ${maxConnections} connections; try again later`));
        return;
      }
      if (this.refusalsWarned++ % 100 === 0) warn(`at the limit of ${maxConnections} connections: closing the least useful to serve newcomers`);
      this.release(victim);
      victim.destroy(new P2PError("UNAVAILABLE", `connection from ${victim.remoteAddress} evicted: the server is full`));
    }
    this.connections.add(session.connection);
    this.perAddress.set(address, held + 1);
  }

  /** Frees a connection's slot (a connection that never had one, or already gave it up, is ignored). */
  release(connection: FramedConnection<RequestHead>): void {
    if (!this.connections.delete(connection)) return;
    const address = connection.remoteAddress;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }

  /** Empties every slot and returns the connections that held one, oldest first. */
  releaseAll(): FramedConnection<RequestHead>[] {
    const open = [...this.connections];
    this.connections.clear();
    this.perAddress.clear();
    return open;
  }
}

/** The connection to give up for a newcomer: one that never completed a request (oldest first), else the longest idle. */
function leastUseful(connections: ReadonlySet<FramedConnection<RequestHead>>): FramedConnection<RequestHead> | null {
  let idlest: FramedConnection<RequestHead> | null = null;
  for (const connection of connections) {
    if (!connection.hasCompletedFrame) return connection;
    if (!idlest || connection.lastActivityAt < idlest.lastActivityAt) idlest = connection;
  }
  return idlest;
}
