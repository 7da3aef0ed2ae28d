// Frames a connection for its owner: a fresh socket gets a new FramedConnection, one that served the other role changes role.

import type { Socket } from "bun";
import { FramedConnection } from "./connection";
import type { ConnectionEvents, ConnectionTimeouts } from "./connection-events";
import type { FrameDecoder, RequestHead, ResponseHead } from "./frame";
import type { LinkLayer } from "./link-layer";

/** What a client or a server session may be built on: a socket, or a connection of this process in the other role (src/protocol/reversal.ts). */
export type ConnectionSource<Head> = Socket<FramedConnection<Head>> | FramedConnection<Head extends RequestHead ? ResponseHead : RequestHead>;

/** The connection `source` becomes for an owner with this decoder and these events; `layer` applies to a fresh socket only (a taken-over connection keeps its own). */
export function frameConnection<Head>(
  source: ConnectionSource<Head>,
  decoder: FrameDecoder<Head>,
  events: ConnectionEvents<Head>,
  timeouts: ConnectionTimeouts,
  layer?: LinkLayer,
): FramedConnection<Head> {
  if (source instanceof FramedConnection) return (source as FramedConnection<unknown>).changeRole(decoder, events, timeouts);
  return new FramedConnection(source, decoder, events, timeouts, layer);
}
