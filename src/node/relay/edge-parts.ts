// What an edge node runs instead of a ring presence: its link to a relay, the ring as seen from outside, and the ops it serves on circuits.

import type { OpTable } from "../../protocol/ops";
import { edgeIdOf } from "../../protocol/relayed-address";
import type { Peer } from "../../model/peer";
import type { RecordEntry } from "../../model/record";
import type { RingTransport } from "../../model/ring-transport";
import { opTable, serveOp } from "../../wire/op";
import { RING } from "../../wire/ring";
import type { Introducers } from "../dns-client";
import { EdgeLink } from "./edge-link";
import { EdgeRing } from "./edge-ring";
import type { Observation } from "./punch-observe";
import { PunchResponder } from "./punch-responder";
import { P2PError } from "../../protocol/errors";
import { log } from "../../log";

export type EdgeParts = { link: EdgeLink; ring: EdgeRing };

export interface EdgeOptions {
  /** The node's own peer: its id becomes the edge id, its address the relayed one once reserved. */
  self: Peer;
  publicKey: string;
  transport: RingTransport;
  signEntry: (entry: RecordEntry) => RecordEntry;
  dns: Introducers;
  retryMs: number;
  connectTimeoutMs: number;
  networkKey?: Uint8Array;
  localAddress?: string;
  signal: AbortSignal;
  /** The file ops this edge serves on its circuits (built once sharing exists). */
  fileOps: () => OpTable;
  /** Called once a (new) reservation names the edge by a new address: announce again under it, and withdraw what `previous` announced. */
  onAddress: (previous: string) => void;
  /** The IP the node at `address` (its relay) sees this edge come from, and whether its NAT keeps ports: what a hole punch announces. */
  observedBy: (address: string) => Promise<Observation>;
  /** This edge's own IP on its network (none when it listens on a wildcard): a punch from behind the same NAT connects there. */
  lanIp?: string;
  /** The address family this edge has no route to (see `EdgeLinkOptions.lackingFamily`). */
  lackingFamily?: 4 | 6;
}

/** Builds an edge's parts; `self` is renamed to the edge id now and to its relayed address at each reservation. */
export function openEdge(options: EdgeOptions): EdgeParts {
  const { self } = options;
  self.id = edgeIdOf(options.publicKey);
  let ops: OpTable | null = null;
  // What the edge serves on every link that reaches it: circuits, reversed and punched ones. On a circuit a punch
  // knows where the relay saw the dialler (PUNCH's table is the circuit's own then).
  const servedOps = (circuit?: { diallerIp?: string }): OpTable => {
    ops ??= { ...edgeRingOps(options.publicKey), ...options.fileOps(), ...opTable(...punches.ops()) };
    return circuit?.diallerIp === undefined ? ops : { ...ops, ...opTable(...punches.ops(circuit.diallerIp)) };
  };
  const punches: PunchResponder = new PunchResponder({
    observe: () => (link.relay ? options.observedBy(link.relay.address) : Promise.reject(new P2PError("UNAVAILABLE", "no relay reserved to learn this edge's address from"))),
    ops: () => servedOps(),
    localAddress: options.localAddress,
    networkKey: options.networkKey,
    lanIp: options.lanIp,
    warn: (message) => log.warn(message),
    info: (message) => log.info(message),
  });
  const link = new EdgeLink({
    publicKey: options.publicKey,
    dns: options.dns,
    ops: (circuit) => servedOps(circuit),
    retryMs: options.retryMs,
    connectTimeoutMs: options.connectTimeoutMs,
    networkKey: options.networkKey,
    localAddress: options.localAddress,
    warn: (message) => log.warn(message),
    info: (message) => log.info(message),
    signal: options.signal,
    lackingFamily: options.lackingFamily,
    onRelayed: (address) => {
      if (address === null || address === self.address) return;
      const previous = self.address;
      self.address = address;
      void ring.refresh().catch((error) => log.debug(`edge: ${(error as Error).message}`));
      options.onAddress(previous);
    },
  });
  const ring = new EdgeRing(self, options.transport, options.signEntry, () => link.members);
  return { link, ring };
}

/** The ring link's ops an edge answers: PING and KEY (its key, whose hash is its edge id); it has no range, so nothing else. */
function edgeRingOps(publicKey: string): OpTable {
  return opTable(
    serveOp(RING.PING, (askTime) => (askTime ? Date.now() : null)),
    serveOp(RING.KEY, () => publicKey),
  );
}
