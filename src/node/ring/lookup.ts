// Iterative Chord lookups: ask the closest known node, step by step, routing around nodes that do not answer.

import { P2PError } from "../../protocol/errors";
import type { RingId } from "./id";
import type { RoutingTable } from "./routing-table";
import type { LookupStep, Peer, RingTransport } from "./transport";

export type LookupResult = { peer: Peer; hops: number };

export class Lookup {
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly maxLookupCalls: number;

  constructor(table: RoutingTable, transport: RingTransport, maxLookupCalls: number) {
    this.table = table;
    this.transport = transport;
    this.maxLookupCalls = maxLookupCalls;
  }

  /**
   * Iterative lookup from `start` (null: this node's own tables). When a node does not answer it
   * is added to `avoid` and the last node that did answer is asked again for its next-best hop.
   */
  async route(start: Peer | null, key: RingId, avoid: Set<string>): Promise<LookupResult> {
    const self = this.table.self;
    const answered: (Peer | null)[] = [];
    let asking: Peer | null = start;
    let hops = 0;
    for (let step = 0; step < 2 * this.maxLookupCalls; step++) {
      let answer: LookupStep;
      if (asking === null || asking.address === self.address) {
        answer = this.table.nextStep(key, avoid);
      } else {
        if (hops >= this.maxLookupCalls) break;
        hops++;
        try {
          answer = await this.transport.findSuccessorStep(asking, key, [...avoid]);
        } catch (error) {
          this.table.noteFailure(error, asking);
          avoid.add(asking.address);
          const previous = answered.pop();
          if (previous === undefined) throw error;
          asking = previous;
          continue;
        }
      }
      if (answer.done) return { peer: answer.peer, hops };
      answered.push(asking);
      asking = answer.peer;
    }
    throw new P2PError("UNAVAILABLE", `lookup of ${key} gave up after ${hops} calls`);
  }
}
