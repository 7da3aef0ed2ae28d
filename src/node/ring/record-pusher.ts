// Sends record entries to one peer in batches of one PUT_RECORDS each: how replication, hand-off, hand-over and leaving reach a peer.

import type { RecordEntry } from "../../model/record";
import type { RoutingTable } from "./routing-table";
import type { Peer } from "../../model/peer";
import type { RingTransport } from "../../model/ring-transport";

export class RecordPusher {
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly maxEntriesPerCall: number;

  /** `maxEntriesPerCall`: the largest batch of entries sent in one PUT_RECORDS. */
  constructor(table: RoutingTable, transport: RingTransport, maxEntriesPerCall: number) {
    this.table = table;
    this.transport = transport;
    this.maxEntriesPerCall = maxEntriesPerCall;
  }

  /** Sends entries in batches; false (and the peer marked dead) when it does not answer. */
  async pushRecords(to: Peer, entries: RecordEntry[]): Promise<boolean> {
    for (let offset = 0; offset < entries.length; offset += this.maxEntriesPerCall) {
      try {
        await this.transport.putRecords(to, entries.slice(offset, offset + this.maxEntriesPerCall));
      } catch (error) {
        this.table.noteFailure(error, to);
        return false;
      }
    }
    return true;
  }
}
