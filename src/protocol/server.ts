// A protocol server over TCP or a Unix socket: one handler per op, dispatched from one table, replies in request order.

import type { Socket, SocketListener } from "bun";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { FramedConnection, asP2PError, connectionHandlers } from "./connection";
import { P2PError, STATUS } from "./errors";
import { type RequestHead, encodeLines, encodeResponse, requestDecoder } from "./frame";
import { IDLE_TIMEOUT_SECONDS, MAX_CONNECTIONS, MAX_PIPELINED_REQUESTS } from "./limits";

export interface Request {
  op: string;
  args: string[];
  body: Uint8Array;
  /** The peer's IP address, or "local" on a Unix socket. */
  remoteAddress: string;
  /**
   * Sends an interim `202 IN PROGRESS` reply with these data lines, for long ops (hashing, a
   * download). Dropped while an earlier request on the connection is still unanswered.
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

export type ListenTarget = { hostname: string; port: number } | { unix: string };

export interface ServeOptions {
  listen: ListenTarget;
  ops: OpTable;
  idleTimeoutSeconds?: number;
  maxConnections?: number;
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
  const idleTimeout = options.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS;
  const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  const warn = options.warn ?? (() => {});
  const connections = new Set<FramedConnection<RequestHead>>();

  const handlers = {
    ...connectionHandlers<RequestHead>(),
    open(socket: Socket<FramedConnection<RequestHead>>) {
      const session = new ServerSession(socket, ops, bodyOps, warn, () => connections.delete(session.connection));
      socket.timeout(idleTimeout);
      if (connections.size >= maxConnections) {
        session.rejectAndClose(new P2PError("UNAVAILABLE", `server is at its limit of ${maxConnections} connections; try again later`));
        return;
      }
      connections.add(session.connection);
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
      listener.stop();
      const open = [...connections];
      connections.clear();
      for (const connection of open) connection.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
      await Promise.race([Promise.all(open.map((connection) => connection.whenClosed)), grace]);
      clearTimeout(timer);
      for (const connection of open) connection.destroy();
    },
  };
}

// Per-connection state: requests run concurrently but replies leave in the order requests came.
class ServerSession {
  readonly connection: FramedConnection<RequestHead>;
  private readonly ops: OpTable;
  private readonly warn: (message: string) => void;
  private readonly pending: Array<{ reply: Uint8Array[] | null }> = [];
  private closeAfterPending = false;
  private readonly closed = new AbortController();

  constructor(
    socket: Socket<FramedConnection<RequestHead>>,
    ops: OpTable,
    bodyOps: ReadonlySet<string>,
    warn: (message: string) => void,
    onClosed: () => void,
  ) {
    this.ops = ops;
    this.warn = warn;
    this.connection = new FramedConnection(socket, requestDecoder(bodyOps), {
      frame: (frame) => this.dispatch(frame.head, frame.body),
      malformed: (error) => this.rejectAndClose(error),
      // A peer hanging up or going idle is ordinary; only protocol abuse is worth a warning.
      closed: () => {
        this.closed.abort();
        onClosed();
      },
    });
  }

  /** Answers one error and closes once everything before it has been answered. */
  rejectAndClose(error: P2PError): void {
    this.warn(`${this.connection.remoteAddress}: ${error.message}; closing the connection`);
    const slot = { reply: errorReply(error) };
    this.pending.push(slot);
    this.closeAfterPending = true;
    this.writeReady();
  }

  private dispatch(head: RequestHead, body: Uint8Array): void {
    if (this.pending.length >= MAX_PIPELINED_REQUESTS) {
      this.rejectAndClose(new P2PError("MALFORMED", `more than ${MAX_PIPELINED_REQUESTS} requests outstanding on one connection`));
      return;
    }
    const slot: { reply: Uint8Array[] | null } = { reply: null };
    this.pending.push(slot);
    this.run(head, body, slot).then((reply) => {
      slot.reply = reply;
      this.writeReady();
    });
  }

  private async run(head: RequestHead, body: Uint8Array, slot: { reply: Uint8Array[] | null }): Promise<Uint8Array[]> {
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
          this.connection.write(encodeResponse(STATUS.IN_PROGRESS.status, STATUS.IN_PROGRESS.reason, encodeLines(lines)));
        }
      };
      const reply = await spec.handle({
        op: head.op,
        args: head.args,
        body,
        remoteAddress: this.connection.remoteAddress,
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
    while (this.pending.length > 0 && this.pending[0]!.reply !== null) {
      this.connection.write(this.pending.shift()!.reply!);
    }
    if (this.closeAfterPending && this.pending.length === 0) this.connection.end();
  }
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
