// What a protocol server dispatches: the request a handler receives, the reply it returns, and one table of ops.

import type { FramedConnection } from "./connection";
import type { RequestHead } from "./frame";

export interface Request {
  op: string;
  args: string[];
  body: Uint8Array;
  /** The peer's IP address, or "local" on a Unix socket. */
  remoteAddress: string;
  /** The port the peer's connection comes from (0 on a Unix socket): with the address, where the peer is seen from. */
  remotePort: number;
  /**
   * The peer's connection, as `ip:port` ("local" on a Unix socket). On loopback every node's
   * connections come from 127.0.0.1, so only the port tells two peers apart there.
   */
  connectionId: string;
  /**
   * Sends an interim `202 IN PROGRESS` reply with these data lines, for long ops (hashing, a
   * download). Dropped while an earlier request on the connection is still unanswered. Between them the
   * server sends bare `202 IN PROGRESS 0` keepalives itself.
   */
  progress(lines: readonly string[]): void;
  /** Aborted when the connection closes: a long op can stop working for nobody. */
  signal: AbortSignal;
}

export interface Reply {
  /** Defaults to OK. */
  status?: { status: number; reason: string };
  /** Data lines, each sent with CRLF. */
  lines?: readonly string[];
  /** Raw bytes; wins over `lines`. */
  body?: Uint8Array;
  /**
   * Takes the connection over once this reply is queued on it: the session answers nothing more on it (a
   * relay splices it into a circuit). Only a reply that is the last one due on its connection may carry it.
   */
  handOver?: (connection: FramedConnection<RequestHead>) => void;
}

export type Handler = (request: Request) => Reply | Promise<Reply>;

export interface OpSpec {
  /** The op's syntax, shown to a caller who gets its arguments wrong. */
  usage: string;
  minArgs: number;
  maxArgs: number;
  /** The op carries a body whose length is its last argument. */
  body?: boolean;
  handle: Handler;
}

export type OpTable = Record<string, OpSpec>;
