// A protocol server over TCP or a Unix socket: one handler per op, dispatched from one table, replies in request order.

import type { Socket, SocketListener } from "bun";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { FramedConnection, asP2PError, connectionHandlers } from "./connection";
import { P2PError, STATUS } from "./errors";
import { type RequestHead, encodeLines, encodeResponse, requestDecoder } from "./frame";
import {
  FIRST_REQUEST_TIMEOUT_MS,
  IDLE_TIMEOUT_SECONDS,
  KEEPALIVE_INTERVAL_MS,
  MAX_CONCURRENT_REQUESTS_PER_CONNECTION,
  MAX_CONNECTIONS,
  MAX_CONNECTIONS_PER_ADDRESS,
  MAX_PIPELINED_REQUESTS,
  MAX_QUEUED_REPLY_BYTES,
  MAX_QUEUED_REQUEST_BYTES,
} from "./limits";

export interface Request {
  op: string;
  args: string[];
  body: Uint8Array;
  /** The peer's IP address, or "local" on a Unix socket. */
  remoteAddress: string;
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

/** How long stop() lets open connections finish sending before cutting them. */
const STOP_GRACE_MS = 1_000;
/** A connection closing with this much unsent reply data (or one blocked on its reader) triggers a garbage collection... */
const COLLECT_AFTER_DROPPED_BYTES = 1024 * 1024;
/** ...this long after (one for a whole burst)... */
const COLLECT_DELAY_MS = 50;
/** ...and at most once per this long. */
const COLLECT_INTERVAL_MS = 1_000;

export type ListenTarget = { hostname: string; port: number } | { unix: string };

export interface ServeOptions {
  listen: ListenTarget;
  ops: OpTable;
  idleTimeoutSeconds?: number;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  firstRequestTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Called with a warning about a misbehaving peer or a failed handler; never fatal. */
  warn?: (message: string) => void;
}

export interface ProtocolServer {
  /** `ip:port` for TCP, the path for a Unix socket. */
  readonly address: string;
  readonly port: number;
  readonly connectionCount: number;
  stop(): Promise<void>;
}

/** Starts listening; rejects with a P2PError the user can act on (address in use, permission). */
export async function serve(options: ServeOptions): Promise<ProtocolServer> {
  const ops = normaliseOps(options.ops);
  const bodyOps = new Set(Object.entries(ops).filter(([, spec]) => spec.body).map(([op]) => op));
  // Replies dropped with a connection are garbage the engine would only collect on later allocation; an
  // idle server would keep the memory a reader that never read made it take. Collect once things settle.
  let collectTimer: ReturnType<typeof setTimeout> | undefined;
  let collectedAt = 0;
  let stopped = false;
  const collectSoon = () => {
    if (collectTimer || stopped) return;
    const delay = Math.max(COLLECT_DELAY_MS, collectedAt + COLLECT_INTERVAL_MS - performance.now());
    collectTimer = setTimeout(() => {
      collectTimer = undefined;
      collectedAt = performance.now();
      Bun.gc(true);
    }, delay);
    collectTimer.unref?.();
  };

  const idleTimeoutMs = (options.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS) * 1000;
  const limits: SessionLimits = {
    collectGarbage: collectSoon,
    idleTimeoutMs,
    firstRequestTimeoutMs: options.firstRequestTimeoutMs ?? FIRST_REQUEST_TIMEOUT_MS,
    // A keepalive must land well inside the caller's idle timeout, which is usually the same as ours.
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? Math.min(KEEPALIVE_INTERVAL_MS, idleTimeoutMs / 3),
  };
  const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  const maxPerAddress = options.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
  const warn = options.warn ?? (() => {});
  // Insertion order is age order: eviction scans from the oldest.
  const connections = new Set<FramedConnection<RequestHead>>();
  const perAddress = new Map<string, number>();
  /** Counts refusals and evictions, so a flood is reported once per hundred, not once per connection. */
  let refusalsWarned = 0;

  const release = (connection: FramedConnection<RequestHead>, droppedBytes = 0) => {
    if (droppedBytes >= COLLECT_AFTER_DROPPED_BYTES) collectSoon();
    if (!connections.delete(connection)) return;
    const address = connection.remoteAddress;
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left > 0) perAddress.set(address, left);
    else perAddress.delete(address);
  };

  const handlers = {
    ...connectionHandlers<RequestHead>(),
    open(socket: Socket<FramedConnection<RequestHead>>) {
      const session = new ServerSession(socket, ops, bodyOps, limits, warn, (dropped) => release(session.connection, dropped));
      const address = session.connection.remoteAddress;
      const held = perAddress.get(address) ?? 0;
      if (held >= maxPerAddress && !EXEMPT_ADDRESSES.has(address)) {
        // A flood would log one line per connection: say it once per burst.
        if (refusalsWarned++ % 100 === 0) warn(`${address} holds ${held} connections, the limit; refusing more`);
        session.refuse(new P2PError("UNAVAILABLE", `too many connections from ${address} (at most ${maxPerAddress}); reuse one or close some`));
        return;
      }
      if (connections.size >= maxConnections) {
        const victim = leastUseful(connections);
        if (!victim) {
          session.refuse(new P2PError("UNAVAILABLE", `server is at its limit of ${maxConnections} connections; try again later`));
          return;
        }
        if (refusalsWarned++ % 100 === 0) warn(`at the limit of ${maxConnections} connections: closing the least useful to serve newcomers`);
        release(victim);
        victim.destroy(new P2PError("UNAVAILABLE", `connection from ${victim.remoteAddress} evicted: the server is full`));
      }
      connections.add(session.connection);
      perAddress.set(address, held + 1);
    },
  };

  const { listener, address, port } = await listenOn(options.listen, handlers);
  return {
    address,
    port,
    get connectionCount() {
      return connections.size;
    },
    /** Stops accepting; open connections are closed once what is queued for them is sent. */
    async stop() {
      stopped = true;
      clearTimeout(collectTimer);
      listener.stop();
      const open = [...connections];
      connections.clear();
      perAddress.clear();
      for (const connection of open) connection.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
      await Promise.race([Promise.all(open.map((connection) => connection.whenClosed)), grace]);
      clearTimeout(timer);
      for (const connection of open) connection.destroy();
    },
  };
}

/**
 * Unix-socket clients, and 127.0.0.1: Linux sends every loopback connection a machine makes to itself from
 * 127.0.0.1, whatever address it targets, so all nodes of a local testnet share it.
 */
const EXEMPT_ADDRESSES = new Set(["local", "127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** The connection to give up for a newcomer: one that never completed a request (oldest first), else the longest idle. */
function leastUseful(connections: ReadonlySet<FramedConnection<RequestHead>>): FramedConnection<RequestHead> | null {
  let idlest: FramedConnection<RequestHead> | null = null;
  for (const connection of connections) {
    if (!connection.hasCompletedFrame) return connection;
    if (!idlest || connection.lastActivityAt < idlest.lastActivityAt) idlest = connection;
  }
  return idlest;
}

interface SessionLimits {
  /** Asks for a garbage collection soon (rate-limited by the server). */
  collectGarbage(): void;
  idleTimeoutMs: number;
  firstRequestTimeoutMs: number;
  keepaliveIntervalMs: number;
}

/** One request on a connection, from arrival to its reply leaving. */
interface Slot {
  head: RequestHead;
  body: Uint8Array;
  state: "queued" | "running" | "done";
  reply: Uint8Array[];
  replyBytes: number;
  /** When something was last sent on this request's behalf (its progress or a keepalive). */
  lastSentAt: number;
}

// Per-connection state: a few requests run at once, replies leave in the order requests came, and what
// waits unread for the peer is bounded: past MAX_QUEUED_REPLY_BYTES no request starts and reading stops.
class ServerSession {
  readonly connection: FramedConnection<RequestHead>;
  private readonly ops: OpTable;
  private readonly limits: SessionLimits;
  private readonly warn: (message: string) => void;
  private readonly pending: Slot[] = [];
  private running = 0;
  /** Bytes of finished replies held back because an earlier request is still running. */
  private heldBytes = 0;
  private largestReply = 0;
  /** Body bytes of requests waiting for a handler. */
  private queuedRequestBytes = 0;
  private closeAfterPending = false;
  private keepaliveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly closed = new AbortController();

  constructor(
    socket: Socket<FramedConnection<RequestHead>>,
    ops: OpTable,
    bodyOps: ReadonlySet<string>,
    limits: SessionLimits,
    warn: (message: string) => void,
    onClosed: (droppedBytes: number) => void,
  ) {
    this.ops = ops;
    this.limits = limits;
    this.warn = warn;
    this.connection = new FramedConnection(
      socket,
      requestDecoder(bodyOps),
      {
        frame: (frame) => this.dispatch(frame.head, frame.body),
        malformed: (error) => this.rejectAndClose(error),
        drained: () => this.pump(),
        // A peer hanging up or going idle is ordinary; only protocol abuse is worth a warning.
        closed: () => {
          clearTimeout(this.keepaliveTimer);
          const dropped = this.connection.droppedBytes + this.heldBytes;
          this.pending.length = 0;
          this.heldBytes = 0;
          this.closed.abort();
          onClosed(dropped);
        },
      },
      { idleTimeoutMs: limits.idleTimeoutMs, firstFrameTimeoutMs: limits.firstRequestTimeoutMs },
    );
  }

  /** Answers one error and closes once everything before it has been answered. */
  rejectAndClose(error: P2PError): void {
    this.warn(`${this.connection.remoteAddress}: ${error.message}; closing the connection`);
    this.refuse(error);
  }

  /** Like rejectAndClose, without the warning (a refusal for capacity is the peer's bad luck, not abuse). */
  refuse(error: P2PError): void {
    if (this.closeAfterPending) return;
    const reply = errorReply(error);
    this.pending.push({ head: { op: "", args: [] }, body: EMPTY, state: "done", reply, replyBytes: byteLength(reply), lastSentAt: 0 });
    this.closeAfterPending = true;
    this.writeReady();
  }

  /** Reply bytes the peer has not read: queued for the socket, or finished and waiting for their turn. */
  private get unsentBytes(): number {
    return this.connection.pendingBytes + this.heldBytes;
  }

  private dispatch(head: RequestHead, body: Uint8Array): void {
    if (this.closeAfterPending) return;
    if (this.pending.length >= MAX_PIPELINED_REQUESTS) {
      this.rejectAndClose(new P2PError("MALFORMED", `more than ${MAX_PIPELINED_REQUESTS} requests outstanding on one connection`));
      return;
    }
    this.pending.push({ head, body, state: "queued", reply: [], replyBytes: 0, lastSentAt: 0 });
    this.queuedRequestBytes += body.length;
    this.pump();
  }

  /**
   * Starts queued requests in order while the connection has room; stops or resumes reading to match.
   * Running handlers, and the one about to start, count at the size of the largest reply seen so far,
   * so a connection asking for 1 MiB chunks holds about MAX_QUEUED_REPLY_BYTES in all, not that plus a
   * chunk per handler. One handler may always run while anything is unsent below the limit.
   */
  private pump(): void {
    if (this.connection.isClosed) return;
    for (const slot of this.pending) {
      if (this.running >= MAX_CONCURRENT_REQUESTS_PER_CONNECTION || this.unsentBytes >= MAX_QUEUED_REPLY_BYTES) break;
      if (this.running > 0 && this.unsentBytes + (this.running + 1) * this.largestReply > MAX_QUEUED_REPLY_BYTES) break;
      if (slot.state === "queued") this.start(slot);
    }
    if (this.unsentBytes >= MAX_QUEUED_REPLY_BYTES) {
      // Blocked: replies the kernel already took are garbage now, and an attack is mostly blocked sessions.
      if (!this.connection.isPaused) this.limits.collectGarbage();
      this.connection.pauseReading();
    } else if (this.queuedRequestBytes >= MAX_QUEUED_REQUEST_BYTES) {
      this.connection.pauseReading();
    } else {
      this.connection.resumeReading();
    }
  }

  private start(slot: Slot): void {
    slot.state = "running";
    this.queuedRequestBytes -= slot.body.length;
    slot.lastSentAt = performance.now();
    this.running++;
    if (this.pending[0] === slot) this.armKeepalive();
    void this.run(slot).then((reply) => {
      this.running--;
      slot.state = "done";
      slot.reply = reply;
      slot.replyBytes = byteLength(reply);
      slot.body = EMPTY;
      this.largestReply = Math.max(this.largestReply, slot.replyBytes);
      if (this.connection.isClosed) return;
      this.heldBytes += slot.replyBytes;
      this.writeReady();
      this.pump();
    });
  }

  private async run(slot: Slot): Promise<Uint8Array[]> {
    const { head, body } = slot;
    const spec = this.ops[head.op];
    if (!spec) {
      return errorReply(new P2PError("UNKNOWN_OPERATION", `unknown operation '${head.op.slice(0, 32)}'; known: ${Object.keys(this.ops).join(", ")}`));
    }
    if (head.args.length < spec.minArgs || head.args.length > spec.maxArgs) {
      return errorReply(new P2PError("MALFORMED", `usage: ${spec.usage}`));
    }
    try {
      const progress = (lines: readonly string[]) => {
        if (this.pending[0] === slot && !this.connection.isClosed) {
          slot.lastSentAt = performance.now();
          this.connection.write(encodeResponse(STATUS.IN_PROGRESS.status, STATUS.IN_PROGRESS.reason, encodeLines(lines)));
        }
      };
      const reply = await spec.handle({
        op: head.op,
        args: head.args,
        body,
        remoteAddress: this.connection.remoteAddress,
        connectionId: this.connection.remotePort ? `${this.connection.remoteAddress}:${this.connection.remotePort}` : this.connection.remoteAddress,
        progress,
        signal: this.closed.signal,
      });
      const status = reply.status ?? STATUS.OK;
      return encodeResponse(status.status, status.reason, reply.body ?? encodeLines(reply.lines ?? []));
    } catch (error) {
      const failure = asP2PError(error);
      if (failure.code === "ERROR") this.warn(`${head.op} failed: ${failure.message}`);
      return errorReply(failure);
    }
  }

  private writeReady(): void {
    let moved = false;
    while (this.pending.length > 0 && this.pending[0]!.state === "done") {
      const slot = this.pending.shift()!;
      this.heldBytes -= slot.replyBytes;
      this.connection.write(slot.reply);
      moved = true;
    }
    if (this.closeAfterPending && this.pending.length === 0) this.connection.end();
    if (moved && this.pending[0]?.state === "running") {
      this.pending[0].lastSentAt = performance.now();
      this.armKeepalive();
    }
  }

  /** While the next reply's handler runs, say so every keepalive interval: waiting is not lost. */
  private armKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    const head = this.pending[0];
    if (!head || head.state !== "running" || this.connection.isClosed) return;
    const due = head.lastSentAt + this.limits.keepaliveIntervalMs - performance.now();
    this.keepaliveTimer = setTimeout(() => {
      const current = this.pending[0];
      if (current !== head || head.state !== "running" || this.connection.isClosed) return;
      if (performance.now() - head.lastSentAt >= this.limits.keepaliveIntervalMs) {
        head.lastSentAt = performance.now();
        this.connection.write(KEEPALIVE);
      }
      this.armKeepalive();
    }, Math.max(10, due));
  }
}

const EMPTY = new Uint8Array(0);
const KEEPALIVE = encodeResponse(STATUS.IN_PROGRESS.status, STATUS.IN_PROGRESS.reason, EMPTY);

function byteLength(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}

/** An error reply: the status line, and the message as one data line a person can read. */
function errorReply(error: P2PError): Uint8Array[] {
  const { status, reason } = error.wireStatus;
  return encodeResponse(status, reason, encodeLines([error.message.replace(/[\r\n]+/g, " ")]));
}

function normaliseOps(ops: OpTable): OpTable {
  return Object.fromEntries(Object.entries(ops).map(([op, spec]) => [op.toUpperCase(), spec]));
}

type Handlers = ReturnType<typeof connectionHandlers<RequestHead>> & {
  open(socket: Socket<FramedConnection<RequestHead>>): void;
};

interface Listening {
  listener: SocketListener<FramedConnection<RequestHead>>;
  /** `ip:port` for TCP (with the real port when 0 was asked), the path for a Unix socket. */
  address: string;
  port: number;
}

async function listenOn(target: ListenTarget, socketHandlers: Handlers): Promise<Listening> {
  if ("unix" in target) return { listener: await listenOnUnix(target.unix, socketHandlers), address: target.unix, port: 0 };
  try {
    const listener = Bun.listen<FramedConnection<RequestHead>>({ hostname: target.hostname, port: target.port, socket: socketHandlers });
    return { listener, address: `${listener.hostname}:${listener.port}`, port: listener.port };
  } catch (error) {
    throw listenError(`${target.hostname}:${target.port}`, error);
  }
}

// A Unix socket file outlives a crashed owner; reclaim it only when nothing answers on it.
async function listenOnUnix(path: string, socketHandlers: Handlers): Promise<SocketListener<FramedConnection<RequestHead>>> {
  if (existsSync(path)) {
    if (await somethingListens(path)) {
      throw new P2PError("CONFLICT", `${path} is in use by a running process; stop it first or choose another data directory`);
    }
    unlinkSync(path);
  }
  try {
    const listener = Bun.listen<FramedConnection<RequestHead>>({ unix: path, socket: socketHandlers });
    chmodSync(path, 0o600);
    return listener;
  } catch (error) {
    throw listenError(path, error);
  }
}

async function somethingListens(path: string): Promise<boolean> {
  try {
    const probe = await Bun.connect({ unix: path, socket: { data() {}, open() {} } });
    probe.end();
    return true;
  } catch {
    return false;
  }
}

function listenError(where: string, error: unknown): P2PError {
  const code = (error as { code?: string }).code;
  if (code === "EADDRINUSE") return new P2PError("CONFLICT", `${where} is already in use; is another p2p process running there?`);
  if (code === "EADDRNOTAVAIL") return new P2PError("UNAVAILABLE", `${where}: this machine has no such address`);
  if (code === "EACCES") return new P2PError("UNAVAILABLE", `${where}: permission denied (ports below 1024 need root)`);
  return new P2PError("ERROR", `cannot listen on ${where}: ${(error as Error).message}`, { cause: error });
}
