// A protocol server over TCP or a Unix socket: one handler per op, dispatched from one table, replies in request order.

import type { Socket, SocketListener } from "bun";
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { formatAddress } from "./address";
import { FramedConnection } from "./connection";
import { connectionHandlers } from "./socket-handlers";
import { P2PError } from "./errors";
import type { RequestHead } from "./frame";
import type { ConnectionSource } from "./take-over";
import { FIRST_REQUEST_TIMEOUT_MS, IDLE_TIMEOUT_SECONDS, KEEPALIVE_INTERVAL_MS, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS } from "./limits";
import type { OpTable } from "./ops";
import { ConnectionSlots } from "./connection-slots";
import { SecureLink } from "./secure-link";
import { ServerSession, type SessionLimits } from "./session";

export type { Handler, OpSpec, OpTable, Reply, Request } from "./ops";

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
  /**
   * The private network's key (--key), for TCP: every connection must complete the Noise handshake with it
   * before a byte of the protocol moves; a peer without it is refused with one warning and gets nothing.
   */
  networkKey?: Uint8Array;
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
  const warn = options.warn ?? (() => {});
  const collector = new GarbageCollector();
  const limits = sessionLimits(options, collector);
  const slots = new ConnectionSlots({
    maxConnections: options.maxConnections ?? MAX_CONNECTIONS,
    maxPerAddress: options.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS,
    warn,
  });
  const networkKey = "unix" in options.listen ? undefined : options.networkKey;
  const refuseOutsider = refusalLog(warn);

  const handlers = {
    ...connectionHandlers<RequestHead>(),
    open(socket: Socket<FramedConnection<RequestHead>>) {
      // Only TCP links are keyed: a Unix socket has no remote address to name.
      const peer = () => formatAddress(socket.remoteAddress, (socket as { remotePort?: number }).remotePort ?? 0);
      const link = networkKey ? new SecureLink({ key: networkKey, initiator: false, peer: peer(), onRefused: refuseOutsider }) : undefined;
      const closed = (dropped: number) => {
        if (dropped >= COLLECT_AFTER_DROPPED_BYTES) collector.collectSoon();
        slots.release(session.connection);
      };
      const session = new ServerSession(socket, ops, bodyOps, limits, warn, closed, link);
      slots.admit(session);
    },
  };

  const { listener, address, port } = await listenOn(options.listen, handlers);
  return {
    address,
    port,
    get connectionCount() {
      return slots.size;
    },
    /** Stops accepting; open connections are closed once what is queued for them is sent. */
    async stop() {
      collector.stop();
      listener.stop();
      await closeGracefully(slots.releaseAll());
    },
  };
}

/** What serving one connection this process opened takes: the server's options without the listening ones. */
export type ConnectionServeOptions = Pick<ServeOptions, "ops" | "idleTimeoutSeconds" | "keepaliveIntervalMs" | "warn" | "networkKey">;

/** A connection this process serves on without having accepted it. */
export interface ServedConnection {
  /** Resolves when the connection is gone. */
  readonly whenClosed: Promise<void>;
  /** Closes once what is queued is sent. */
  close(): void;
}

/**
 * Serves `ops` on a connection this process opened: one it gave up its calling role on (the dialling side of
 * REVERSED, src/protocol/reversal.ts) or a punched socket (src/protocol/punch.ts). The same session, limits
 * and replies as an accepted connection.
 */
export function serveConnection(connection: ConnectionSource<RequestHead>, options: ConnectionServeOptions): ServedConnection {
  const ops = normaliseOps(options.ops);
  const bodyOps = new Set(Object.entries(ops).filter(([, spec]) => spec.body).map(([op]) => op));
  const collector = new GarbageCollector();
  // The peer that asked for the reversal may take its time to send the first request: only the idle timeout applies.
  const limits = { ...sessionLimits(options, collector), firstRequestTimeoutMs: Number.POSITIVE_INFINITY };
  // A fresh socket (a punched one) on a private network runs the handshake as the accepting side; a connection
  // taken over from a client is past its handshake already.
  const fresh = !(connection instanceof FramedConnection);
  const link = fresh && options.networkKey ? new SecureLink({ key: options.networkKey, initiator: false, peer: connection.remoteAddress }) : undefined;
  const session = new ServerSession(connection, ops, bodyOps, limits, options.warn ?? (() => {}), () => collector.stop(), link);
  return { whenClosed: session.connection.whenClosed, close: () => session.connection.end() };
}

function sessionLimits(options: Pick<ServeOptions, "idleTimeoutSeconds" | "firstRequestTimeoutMs" | "keepaliveIntervalMs">, collector: GarbageCollector): SessionLimits {
  const idleTimeoutMs = (options.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS) * 1000;
  return {
    collectGarbage: () => collector.collectSoon(),
    idleTimeoutMs,
    firstRequestTimeoutMs: options.firstRequestTimeoutMs ?? FIRST_REQUEST_TIMEOUT_MS,
    // A keepalive must land well inside the caller's idle timeout, which is usually the same as ours.
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? Math.min(KEEPALIVE_INTERVAL_MS, idleTimeoutMs / 3),
  };
}

/**
 * Replies dropped with a connection are garbage the engine would only collect on later allocation; an idle
 * server would keep the memory a reader that never read made it take. Collects once things settle.
 */
class GarbageCollector {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private collectedAt = 0;
  private stopped = false;

  collectSoon(): void {
    if (this.timer || this.stopped) return;
    const delay = Math.max(COLLECT_DELAY_MS, this.collectedAt + COLLECT_INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.collectedAt = performance.now();
      Bun.gc(true);
    }, delay);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** Ends each connection once its queue is sent, and cuts whatever is still open after STOP_GRACE_MS. */
async function closeGracefully(open: FramedConnection<RequestHead>[]): Promise<void> {
  for (const connection of open) connection.end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
  await Promise.race([Promise.all(open.map((connection) => connection.whenClosed)), grace]);
  clearTimeout(timer);
  for (const connection of open) connection.destroy();
}

/** Peers refused for not holding the network key are each logged, up to this many a minute (a flood is summed up). */
const KEY_REFUSALS_LOGGED_PER_MINUTE = 10;

/** One warning line per peer refused for the network key, at most KEY_REFUSALS_LOGGED_PER_MINUTE; the rest counted. */
function refusalLog(warn: (message: string) => void): (peer: string) => void {
  let windowStart = 0;
  let inWindow = 0;
  return (peer) => {
    const now = performance.now();
    if (now - windowStart >= 60_000) {
      const unlogged = inWindow - KEY_REFUSALS_LOGGED_PER_MINUTE;
      if (unlogged > 0) warn(`refused ${unlogged} more connections without this network's key in the last minute`);
      windowStart = now;
      inWindow = 0;
    }
    if (++inWindow <= KEY_REFUSALS_LOGGED_PER_MINUTE) warn(`refused ${peer}: it does not use this network's key (--key)`);
  };
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
    return { listener, address: formatAddress(listener.hostname, listener.port), port: listener.port };
  } catch (error) {
    throw listenError(formatAddress(target.hostname, target.port), error);
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
