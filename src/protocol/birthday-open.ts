// Hole punching past a NAT that maps each connection to a random port (a symmetric NAT): both sides open many connections until two meet.

import { formatAddress } from "./address";
import { P2PError } from "./errors";
import { bindingFrom, type PunchedSocket, PUNCH_WINDOW_MS } from "./simultaneous-open";
import { connectionHandlers } from "./socket-handlers";
import type { FramedConnection } from "./connection";
import type { TCPSocketConnectOptions } from "bun";

/**
 * The ports a symmetric NAT picks from: Linux's `MASQUERADE --random-fully` maps a source port above 1023 to
 * any port above 1023, so a guess is one of these.
 */
export const RANDOM_PORT_RANGE = { first: 1_024, last: 65_535 } as const;
/** Connections each side adds at a time: one batch every BIRTHDAY_BATCH_INTERVAL_MS until two meet. */
export const BIRTHDAY_BATCH = 128;
export const BIRTHDAY_BATCH_INTERVAL_MS = 100;
/**
 * The most connections one side opens in one punch. n ports mapped on one side and n guessed on the other
 * meet with probability 1 - exp(-n² / 64,512): 22 % after one batch, 63 % after two, 98.3 % after four,
 * 99.99 % at 768. Pending attempts stay candidates (the kernel resends their SYNs), so each batch pairs
 * with every earlier one on the other side.
 */
export const BIRTHDAY_MAX_CONNECTIONS = 768;

export interface BirthdayOpenOptions {
  /**
   * `random`: this side's NAT maps each connection to a port of its own; it connects from fresh local ports to
   * the other side's one announced address, so its NAT opens many mappings. `kept`: this side's port is kept
   * (a port-preserving NAT, a firewall); it connects from `localPort` to guessed ports of the other side's IP.
   */
  side: "random" | "kept";
  /** The port a `kept` side connects from (announced in its CONNECT); unused on the `random` side. */
  localPort: number;
  localAddress?: string;
  /** The other side's observed address; on the `kept` side only its IP is used. */
  remote: { hostname: string; port: number };
  startAt?: number;
  windowMs?: number;
  /** A connection that opens after the first: the responder serves it (the initiator may have picked it), the initiator leaves it unset and it is closed. */
  onLater?: (socket: PunchedSocket) => void;
}

/**
 * Opens connections in batches from `startAt` until one opens (resolved: the punch's link), BIRTHDAY_MAX_CONNECTIONS
 * are made, or PUNCH_WINDOW_MS passes (UNREACHABLE, naming how many were tried). Attempts still pending then are
 * closed as they open; a pending connect cannot be withdrawn, and the kernel gives its SYNs up by itself.
 */
export async function birthdayOpen(options: BirthdayOpenOptions): Promise<PunchedSocket> {
  const startAt = options.startAt ?? performance.now();
  if (startAt > performance.now()) await Bun.sleep(startAt - performance.now());
  const windowMs = options.windowMs ?? PUNCH_WINDOW_MS;
  const guesses = options.side === "kept" ? distinctRandomPorts(BIRTHDAY_MAX_CONNECTIONS) : null;
  let state: "punching" | "opened" | "failed" = "punching";
  let made = 0;
  let failures = 0;
  let lastFailure = "none failed";
  let batches: ReturnType<typeof setInterval> | undefined;
  let window: ReturnType<typeof setTimeout> | undefined;
  return new Promise<PunchedSocket>((resolve, reject) => {
    const stop = () => (clearInterval(batches), clearTimeout(window));
    const opened = (socket: PunchedSocket) => {
      if (state === "punching") {
        state = "opened";
        stop();
        return resolve(socket);
      }
      if (state === "opened" && options.onLater) return options.onLater(socket);
      socket.terminate();
    };
    const failed = (error: unknown) => {
      failures++;
      lastFailure = (error as Error).message || String(error);
    };
    const batch = () => {
      for (let i = 0; i < BIRTHDAY_BATCH && made < BIRTHDAY_MAX_CONNECTIONS; i++) {
        connectOnce(options, guesses?.[made]).then(opened, failed);
        made++;
      }
      if (made >= BIRTHDAY_MAX_CONNECTIONS) clearInterval(batches);
    };
    window = setTimeout(() => {
      state = "failed";
      stop();
      const what = options.side === "kept" ? `from port ${options.localPort} to ${made} ports of ${options.remote.hostname}` : `from ${made} ports to ${formatAddress(options.remote.hostname, options.remote.port)}`;
      reject(new P2PError("UNREACHABLE", `no direct connection ${what} within ${windowMs} ms (${failures} refused; the last: ${lastFailure})`));
    }, windowMs);
    batches = setInterval(batch, BIRTHDAY_BATCH_INTERVAL_MS);
    batch();
  });
}

/** `count` different ports from RANDOM_PORT_RANGE, in random order. */
export function distinctRandomPorts(count: number): number[] {
  const size = RANDOM_PORT_RANGE.last - RANDOM_PORT_RANGE.first + 1;
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, size)) chosen.add(RANDOM_PORT_RANGE.first + Math.floor(Math.random() * size));
  return [...chosen];
}

function connectOnce(options: BirthdayOpenOptions, guess: number | undefined): Promise<PunchedSocket> {
  const kept = guess !== undefined;
  return Bun.connect({
    hostname: options.remote.hostname,
    port: kept ? guess : options.remote.port,
    // Several pending connects may share the kept side's port: their remote ports differ.
    ...(kept ? bindingFrom(options.localPort, options.localAddress, options.remote.hostname) : options.localAddress ? { localAddress: options.localAddress } : {}),
    socket: connectionHandlers<never>(),
  } as unknown as TCPSocketConnectOptions<FramedConnection<never>>);
}
