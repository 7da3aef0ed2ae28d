// The calling side of a link: one persistent connection, requests answered in the order they were sent.

import { isIP } from "node:net";
import type { Socket } from "bun";
import { formatAddress } from "./address";
import { FramedConnection } from "./connection";
import { type ConnectionSource, frameConnection } from "./take-over";
import type { LinkLayer } from "./link-layer";
import { connectionHandlers } from "./socket-handlers";
import { P2PError, statusName } from "./errors";
import type { BodyPool } from "./body-pool";
import { type ResponseHead, decodeLines, encodeRequest, responseDecoder } from "./frame";
import { CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, IDLE_TIMEOUT_SECONDS, quietTimeoutFor } from "./limits";
import { SecureLink } from "./secure-link";

export type ConnectTarget = { hostname: string; port: number } | { unix: string };

export interface Response {
  status: number;
  reason: string;
  body: Uint8Array;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** A body to send after the line; its length is appended as the last argument. */
  body?: Uint8Array;
  /**
   * Receives the data lines of each interim `202 IN PROGRESS` reply that has some (a bare keepalive has none
   * and is not passed on); every 202 restarts the timeout.
   */
  onProgress?: (lines: string[]) => void;
  /**
   * The longest this reply may take once it is next in line, however busy the peer keeps saying it is
   * (interim replies and trickled bytes restart only `timeoutMs`): a holder that stalls a chunk forever
   * costs the download one connection, not the download.
   */
  deadlineMs?: number;
}

export interface ConnectOptions {
  connectTimeoutMs?: number;
  idleTimeoutSeconds?: number;
  /** Where reply bodies are read into (a link that carries chunks reuses buffers). */
  bodyPool?: BodyPool;
  /**
   * The private network's key (--key): the connection runs the Noise handshake first and resolves only once
   * the peer proved it holds the same key; a peer without it rejects with REFUSED (src/protocol/secure-link.ts).
   */
  networkKey?: Uint8Array;
  /**
   * The local IP to connect from (a node on a loopback address connects from it, not from 127.0.0.1). Used only
   * for a target of the same family: a node on ::1 reaches an IPv4 peer from whatever address the system picks.
   */
  localAddress?: string;
  /** The local port to connect from (with `localAddress`, else the wildcard address of the target's family): a NAT's port test. */
  localPort?: number;
}

/** Opens a connection; rejects with UNREACHABLE (nothing listens) or TIMEOUT. */
export async function connect(target: ConnectTarget, options: ConnectOptions = {}): Promise<ProtocolClient> {
  const where = describeTarget(target);
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const handlers = connectionHandlers<ResponseHead>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const opening = Bun.connect<FramedConnection<ResponseHead>>({
    ...target,
    ...localEnd(target, options),
    socket: handlers,
  } as Parameters<typeof Bun.connect<FramedConnection<ResponseHead>>>[0]);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2PError("TIMEOUT", `no answer from ${where} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  });
  let socket: Socket<FramedConnection<ResponseHead>>;
  try {
    socket = await Promise.race([opening, timeout]);
  } catch (error) {
    // A connection that opens after we gave up must not linger.
    opening.then((late) => late.terminate(), () => {});
    if (error instanceof P2PError) throw error;
    throw new P2PError("UNREACHABLE", `cannot reach ${where}: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  const link = options.networkKey && !("unix" in target) ? new SecureLink({ key: options.networkKey, initiator: true, peer: where, handshakeTimeoutMs: connectTimeoutMs }) : undefined;
  const client = new ProtocolClient(socket, where, (options.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS) * 1000, options.bodyPool, link);
  if (link) {
    try {
      await link.ready;
    } catch (error) {
      client.close();
      throw error;
    }
  }
  return client;
}

/**
 * Sends requests and matches replies by order. Any failure of the link fails every outstanding request.
 * Only the request whose reply comes next is timed, and any byte from the peer restarts its clock: a
 * request's timeout is how long the peer may stay silent while we wait for that reply.
 */
export class ProtocolClient {
  readonly target: string;
  private readonly connection: FramedConnection<ResponseHead>;
  private readonly waiting: Array<Waiter> = [];
  private failure: P2PError | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** `performance.now()` when the head waiter's clock last (re)started. */
  private heardAt = 0;
  /** When the head waiter's reply must be complete (its `deadlineMs`), however much the peer keeps talking. */
  private headDeadline = Infinity;
  /** Whether the peer ever sent a byte: a keyed server cuts off a keyless caller before it does. */
  private heardAnything = false;
  /** Hears the link break without this side closing it (the peer hung up or crashed, or it went idle too long). */
  onLost: ((error: P2PError) => void) | null = null;
  /** The connection has a new owner (`handOver`): closing this client must not close it. */
  private handedOver = false;
  /** `whenIdle` callers, told when the last outstanding reply has come (or the connection failed). */
  private idleWaiters: Array<() => void> = [];

  /** `source`: a new socket, or a connection of this process taken over from its server side (src/protocol/reversal.ts). */
  constructor(
    source: ConnectionSource<ResponseHead>,
    target: string,
    idleTimeoutMs = IDLE_TIMEOUT_SECONDS * 1000,
    bodyPool?: BodyPool,
    layer?: LinkLayer,
  ) {
    this.target = target;
    this.connection = frameConnection(
      source,
      responseDecoder(undefined, bodyPool && ((length) => bodyPool.take(length))),
      {
        frame: (frame) => this.settle(frame.head, frame.body),
        malformed: (error) => this.fail(new P2PError("MALFORMED", `${target} sent a malformed reply: ${error.message}`)),
        closed: (reason) => {
          // Our own close() failed the client first: only a link that broke under us is news.
          const lost = this.failure === null;
          this.fail(this.hinted(reason ?? new P2PError("CLOSED", `${target} closed the connection`), layer));
          if (lost) this.onLost?.(this.failure!);
        },
        received: () => {
          this.heardAt = performance.now();
          this.heardAnything = true;
        },
      },
      { idleTimeoutMs, quietTimeoutMs: quietTimeoutFor(idleTimeoutMs), busy: () => this.waiting.length > 0 },
      layer,
    );
  }

  get isClosed(): boolean {
    return this.failure !== null;
  }

  /** Requests outstanding on this connection. */
  get outstanding(): number {
    return this.waiting.length;
  }

  /** Resolves once no request is outstanding (at once when none is), or the connection is closed. */
  whenIdle(): Promise<void> {
    if (this.waiting.length === 0 || this.failure) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Sends one request and resolves with its reply when the status is 2xx.
   * Other statuses reject with a P2PError whose code names the status and whose message is the peer's.
   */
  async request(op: string, args: readonly string[] = [], options: RequestOptions = {}): Promise<Response> {
    const response = await this.send(op, args, options);
    if (response.status >= 200 && response.status < 300) return response;
    const code = statusName(response.status);
    const detail = decodeLines(response.body).join(" ").trim() || response.reason;
    throw new P2PError(code === "OK" || code === "IN_PROGRESS" ? "ERROR" : code, detail);
  }

  /** Sends one request and resolves with whatever status comes back (for tools and tests). */
  send(op: string, args: readonly string[] = [], options: RequestOptions = {}): Promise<Response> {
    if (this.failure) return Promise.reject(this.failure);
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Response>((resolve, reject) => {
      this.waiting.push({ op, timeoutMs, deadlineMs: options.deadlineMs ?? Infinity, resolve, reject, onProgress: options.onProgress });
      if (this.waiting.length === 1) this.startClock();
      this.connection.write(encodeRequest(op, args, options.body));
    });
  }

  /** Sends raw bytes as they are (tests use it to send garbage). */
  sendRaw(bytes: Uint8Array): void {
    this.connection.write([bytes]);
  }

  close(): void {
    this.fail(new P2PError("CLOSED", `connection to ${this.target} was closed`));
  }

  /**
   * Sends the request that ends this side's role as the caller (REVERSED) and, on a 2xx reply, gives the
   * connection up without closing it, for its new owner to serve requests on (`changeRole`). Whatever follows
   * the reply waits, unread, for that owner. Any other reply closes the connection and rejects with it.
   */
  async handOver(op: string, args: readonly string[], timeoutMs: number): Promise<FramedConnection<ResponseHead>> {
    if (this.waiting.length > 0) throw new P2PError("CONFLICT", `cannot hand the connection to ${this.target} over while requests are outstanding`);
    this.connection.holdAfterFrames(1);
    try {
      await this.request(op, args, { timeoutMs });
    } catch (error) {
      this.close();
      throw error;
    }
    this.handedOver = true;
    this.fail(new P2PError("CLOSED", `the connection to ${this.target} was handed over`));
    return this.connection;
  }

  /** A TCP peer that hung up without a word on a keyless link may be a private network's: say what would help. */
  private hinted(error: P2PError, layer: LinkLayer | undefined): P2PError {
    if (layer || this.heardAnything || error.code !== "CLOSED" || this.waiting.length === 0 || !this.target.includes(":")) return error;
    return new P2PError("CLOSED", `${error.message}; nothing came back (if it runs a private network, this side needs its --key too)`);
  }

  private settle(head: ResponseHead, body: Uint8Array): void {
    if (head.status === 202 && this.waiting[0]) {
      const current = this.waiting[0];
      if (body.length > 0) current.onProgress?.(decodeLines(body));
      return;
    }
    const waiter = this.waiting.shift();
    if (!waiter) {
      this.fail(new P2PError("MALFORMED", `${this.target} sent a reply nobody asked for`));
      return;
    }
    // The next request in line starts waiting now, not when it was sent.
    if (this.waiting.length > 0) this.startClock();
    else clearTimeout(this.timer);
    waiter.resolve({ status: head.status, reason: head.reason, body });
    if (this.waiting.length === 0) for (const idle of this.idleWaiters.splice(0)) idle();
  }

  private startClock(): void {
    this.heardAt = performance.now();
    this.headDeadline = this.heardAt + this.waiting[0]!.deadlineMs;
    this.schedule(Math.min(this.waiting[0]!.timeoutMs, this.waiting[0]!.deadlineMs));
  }

  // One timer for the head waiter, checked lazily: bytes arriving only move `heardAt`.
  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.checkClock(), Math.max(1, delayMs));
  }

  private checkClock(): void {
    const head = this.waiting[0];
    if (!head || this.failure) return;
    const now = performance.now();
    const silentFor = now - this.heardAt;
    // Replies are matched by order, so after a lost or abandoned reply the connection cannot be trusted.
    if (now >= this.headDeadline) return this.fail(P2PError.tookTooLong(this.target, head.op, head.deadlineMs));
    if (silentFor >= head.timeoutMs) return this.fail(P2PError.noAnswer(this.target, head.op, head.timeoutMs));
    this.schedule(Math.min(head.timeoutMs - silentFor, this.headDeadline - now));
  }

  private fail(error: P2PError): void {
    if (!this.failure) this.failure = error;
    clearTimeout(this.timer);
    if (!this.handedOver) this.connection.destroy(error);
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    for (const idle of this.idleWaiters.splice(0)) idle();
  }
}

interface Waiter {
  op: string;
  timeoutMs: number;
  deadlineMs: number;
  resolve(response: Response): void;
  reject(error: P2PError): void;
  onProgress: ((lines: string[]) => void) | undefined;
}

export function describeTarget(target: ConnectTarget): string {
  return "unix" in target ? target.unix : formatAddress(target.hostname, target.port);
}

/** Where a connection to `target` is made from; Bun binds a local port only together with a local address. */
function localEnd(target: ConnectTarget, options: ConnectOptions): { localAddress?: string; localPort?: number } {
  const localAddress = bindsTo(target, options.localAddress) ? options.localAddress : undefined;
  if (options.localPort === undefined || "unix" in target) return localAddress === undefined ? {} : { localAddress };
  return { localAddress: localAddress ?? (target.hostname.includes(":") ? "::" : "0.0.0.0"), localPort: options.localPort };
}

/** Whether a connection to `target` can be made from `localAddress`: an IP literal target of the same family. */
function bindsTo(target: ConnectTarget, localAddress: string | undefined): boolean {
  if (localAddress === undefined || "unix" in target) return false;
  const family = isIP(target.hostname);
  return family !== 0 && family === isIP(localAddress);
}
