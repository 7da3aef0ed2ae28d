// Serving the protocol on a connection this side opened: an edge node answers requests that reach it through its relay.

import type { Socket } from "bun";
import { isIP } from "node:net";
import type { FramedConnection } from "./connection";
import { P2PError, statusName } from "./errors";
import { decodeLines, parseResponseLine, type RequestHead } from "./frame";
import { FIRST_REQUEST_TIMEOUT_MS, IDLE_TIMEOUT_SECONDS, KEEPALIVE_INTERVAL_MS, MAX_LINE_BYTES } from "./limits";
import type { OpTable } from "./ops";
import { ServerSession } from "./session";
import { connectionHandlers } from "./socket-handlers";

export interface OutboundServeOptions {
  ops: OpTable;
  warn: (message: string) => void;
  /** Bounds the connection's opening and the reply to `request`. */
  timeoutMs: number;
  /** The IP to connect from (see `connect`'s option of that name). */
  localAddress?: string;
}

/**
 * Connects to `target`, sends `request` (one encoded frame) and reads its reply; on 200 the connection is
 * served with `ops` from then on, as an accepted one would be, and resolves with it once the session runs.
 * Any other reply rejects with its status and message, the connection closed. Bytes after the reply (the
 * first request, arriving with it) go to the session.
 */
export async function connectAndServe(target: { hostname: string; port: number }, request: Uint8Array[], options: OutboundServeOptions): Promise<FramedConnection<RequestHead>> {
  const preamble = new Preamble(request);
  const where = `${target.hostname}:${target.port}`;
  const handlers = connectionHandlers<RequestHead>();
  const family = isIP(target.hostname);
  const bind = options.localAddress !== undefined && family !== 0 && family === isIP(options.localAddress);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2PError("TIMEOUT", `no answer from ${where} within ${options.timeoutMs} ms`)), options.timeoutMs);
  });
  let socket: Socket<FramedConnection<RequestHead>> | undefined;
  try {
    const opening = Bun.connect<FramedConnection<RequestHead>>({
      hostname: target.hostname,
      port: target.port,
      ...(bind ? { localAddress: options.localAddress } : {}),
      socket: { ...handlers, open: (opened: Socket<FramedConnection<RequestHead>>) => preamble.attach(opened) },
    } as unknown as Parameters<typeof Bun.connect<FramedConnection<RequestHead>>>[0]);
    opening.catch(() => {});
    socket = await Promise.race([opening, timeout]).catch((error) => {
      opening.then((late) => late.terminate(), () => {});
      throw error instanceof P2PError ? error : new P2PError("UNREACHABLE", `cannot reach ${where}: ${(error as Error).message}`);
    });
    const leftover = await Promise.race([preamble.reply, timeout]);
    const ops = normalised(options.ops);
    const bodyOps = new Set(Object.entries(ops).filter(([, spec]) => spec.body).map(([op]) => op));
    const session = new ServerSession(socket, ops, bodyOps, outboundLimits(), options.warn, () => {});
    if (leftover.length > 0) session.connection.onData(leftover);
    return session.connection;
  } catch (error) {
    socket?.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The socket's owner until the reply arrives: writes the request (waiting for `drain` if need be), reads one reply. */
class Preamble {
  private queued: Uint8Array;
  private received = new Uint8Array(0);
  private socket: Socket<FramedConnection<RequestHead>> | null = null;
  private settle!: { resolve: (leftover: Uint8Array) => void; reject: (error: P2PError) => void };
  /** Resolves with what arrived after the 200 reply. */
  readonly reply = new Promise<Uint8Array>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(request: Uint8Array[]) {
    this.queued = Buffer.concat(request);
    this.reply.catch(() => {});
  }

  attach(socket: Socket<FramedConnection<RequestHead>>): void {
    this.socket = socket;
    socket.data = this as unknown as FramedConnection<RequestHead>;
    this.onDrain();
  }

  onDrain(): void {
    if (!this.socket || this.queued.length === 0) return;
    const written = this.socket.write(this.queued);
    if (written < 0) return this.onClose();
    this.queued = this.queued.subarray(written);
  }

  onData(chunk: Uint8Array): void {
    this.received = Buffer.concat([this.received, chunk]);
    const newline = this.received.indexOf(0x0a);
    if (newline < 0) {
      if (this.received.length > MAX_LINE_BYTES) this.settle.reject(new P2PError("MALFORMED", "the relay's reply line is too long"));
      return;
    }
    let head;
    try {
      head = parseResponseLine(new TextDecoder().decode(this.received.subarray(0, newline)).replace(/\r$/, ""));
    } catch (error) {
      return this.settle.reject(error as P2PError);
    }
    if (head.length > MAX_LINE_BYTES) return this.settle.reject(new P2PError("MALFORMED", "the relay's reply is too long"));
    const end = newline + 1 + head.length;
    if (this.received.length < end) return;
    if (head.status === 200) return this.settle.resolve(this.received.slice(end));
    const message = decodeLines(this.received.subarray(newline + 1, end)).join(" ").trim() || head.reason;
    const code = statusName(head.status);
    this.settle.reject(new P2PError(code === "OK" || code === "IN_PROGRESS" ? "ERROR" : code, message));
  }

  onTimeout(): void {}

  onClose(): void {
    this.settle.reject(new P2PError("CLOSED", "the relay closed the connection before answering"));
  }
}

function outboundLimits() {
  const idleTimeoutMs = IDLE_TIMEOUT_SECONDS * 1000;
  return { collectGarbage: () => {}, idleTimeoutMs, firstRequestTimeoutMs: FIRST_REQUEST_TIMEOUT_MS, keepaliveIntervalMs: Math.min(KEEPALIVE_INTERVAL_MS, idleTimeoutMs / 3) };
}

function normalised(ops: OpTable): OpTable {
  return Object.fromEntries(Object.entries(ops).map(([op, spec]) => [op.toUpperCase(), spec]));
}
