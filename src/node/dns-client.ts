// The node's side of the P2P DNS: register (and heartbeat), learn peers to join through, report dead ones.

import { connect } from "../protocol/client";
import { P2PError } from "../protocol/errors";
import { decodeLines } from "../protocol/frame";
import type { Peer } from "./ring/transport";
import { parsePeerLine, splitAddress } from "./ring-wire";

export class DnsClient {
  readonly address: string;
  private readonly target: { hostname: string; port: number };
  private readonly timeoutMs: number;

  constructor(target: { hostname: string; port: number }, options: { timeoutMs?: number } = {}) {
    this.target = target;
    this.address = `${target.hostname}:${target.port}`;
    this.timeoutMs = options.timeoutMs ?? 3_000;
  }

  /**
   * JOIN: registers `self` (or refreshes it: the heartbeat) and returns up to five other live peers.
   * Entries that are not ring nodes of this project (the original's integer ids) are skipped.
   */
  async join(self: Peer): Promise<{ peers: Peer[]; skipped: string[] }> {
    const { ip, port } = splitAddress(self.address);
    const lines = await this.request("JOIN", [self.id, ip, String(port)]);
    const peers: Peer[] = [];
    const skipped: string[] = [];
    for (const line of lines) {
      try {
        const { peer } = parsePeerLine(line);
        if (peer.address !== self.address) peers.push(peer);
      } catch {
        skipped.push(line);
      }
    }
    return { peers, skipped };
  }

  /** LEAVE: for this node when it leaves, or for a peer found dead. A peer already gone is fine. */
  async leave(peerId: string): Promise<void> {
    try {
      await this.request("LEAVE", [peerId]);
    } catch (error) {
      if (!(error instanceof P2PError && error.code === "NOT_FOUND")) throw error;
    }
  }

  private async request(op: string, args: string[]): Promise<string[]> {
    const client = await connect(this.target, { connectTimeoutMs: this.timeoutMs });
    try {
      return decodeLines((await client.request(op, args, { timeoutMs: this.timeoutMs })).body);
    } finally {
      client.close();
    }
  }
}
