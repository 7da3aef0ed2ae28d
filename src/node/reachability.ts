// How the world sees this node: the address the DNS sees it come from, and whether a dial-back from the DNS reaches it.

import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { formatAddress } from "../protocol/address";
import { P2PError, isP2PError } from "../protocol/errors";
import { canonicalIp } from "../protocol/ip";
import { serveOp, type ServedOp } from "../wire/op";
import { REACH } from "../wire/reach";
import type { DnsClient } from "./dns-client";

/** Dial-back nonces this node remembers at once; each is forgotten once its check is answered. */
export const MAX_PENDING_NONCES = 8;

/** The advertised address a node checks: its own, or `--advertise ip[:port]` for a manual port forward. */
export type Advertised = { ip: string; port: number };

export class Reachability {
  private readonly pending = new Set<string>();
  /** What `p2p client status` shows: `reachable at …`, `unreachable from …: …`, or that no check ran yet. */
  line = "not checked yet";
  /** What the last check found: an unreachable node joins as an edge node (node.ts); one not checked joins as a member. */
  state: "reachable" | "unreachable" | "unchecked" = "unchecked";
  /** The last check saw this node come from another IP of its family than the one it checked: a NAT in between. */
  behindNat = false;

  constructor(private advertised: Advertised) {}

  isReachable(): boolean {
    return this.state === "reachable";
  }

  /** The address the last check was of (the node's own, `--advertise`, or a port mapping's). */
  get address(): string {
    return formatAddress(this.advertised.ip, this.advertised.port);
  }

  /** OBSERVED on the ring link and DIALBACK_CHECK: a dial-back proves it reached this node by a nonce only this node holds. */
  ops(): ServedOp[] {
    return [
      serveOp(REACH.OBSERVED, (_args, request) => ({ ip: canonicalIp(request.remoteAddress) ?? request.remoteAddress, port: request.remotePort })),
      serveOp(REACH.DIALBACK_CHECK, (nonce) => {
        if (!this.pending.has(nonce)) throw new P2PError("NOT_FOUND", "this node asked for no dial-back with that nonce");
      }),
    ];
  }

  /**
   * Asks `dns` where it sees this node and to dial back the advertised port; sets `line`. Never throws for a network
   * failure. `mapped`: check a router's mapping instead (`at`), its line starting with `how` when reachable.
   */
  async check(dns: DnsClient, mapped?: { at: Advertised; how: string }): Promise<string> {
    if (mapped) this.advertised = mapped.at;
    const { ip, port } = this.advertised;
    try {
      const observed = await dns.observed();
      this.behindNat = observed.ip !== ip && isIP(observed.ip) === isIP(ip);
      if (observed.ip !== ip) {
        // Another family (a node on ::1 reaching an IPv4 DNS) says nothing of NAT: the dial-back could not test it either.
        this.state = isIP(observed.ip) === isIP(ip) ? "unreachable" : "unchecked";
        this.line = `unreachable from ${dns.address}: it sees this node come from ${observed.ip}, not the advertised ${ip}`;
        return this.line;
      }
      const nonce = randomBytes(16).toString("hex");
      if (this.pending.size >= MAX_PENDING_NONCES) this.pending.delete(this.pending.values().next().value!);
      this.pending.add(nonce);
      try {
        const result = await dns.dialBack(port, nonce);
        this.state = result.reachable ? "reachable" : "unreachable";
        this.line = result.reachable ? `${mapped ? `${mapped.how}: ` : ""}reachable at ${formatAddress(ip, port)}` : `unreachable from ${dns.address}: ${result.reason}`;
      } finally {
        this.pending.delete(nonce);
      }
    } catch (error) {
      if (!isP2PError(error)) throw error;
      this.state = "unchecked";
      this.line = `not checked: ${dns.address} did not answer (${error.message})`;
    }
    return this.line;
  }
}
