// TCP hole punching's primitive: connect from a chosen local port to a peer doing the same, so the two SYNs cross.

import type { Socket, TCPSocketConnectOptions } from "bun";
import { formatAddress } from "./address";
import type { FramedConnection } from "./connection";
import { P2PError } from "./errors";
import { connectionHandlers } from "./socket-handlers";

/** The most connection attempts one punch makes. */
export const PUNCH_ATTEMPTS = 10;
/**
 * The whole punch, from `startAt`: past it the punch fails, whatever attempts are left. An attempt whose SYN
 * was dropped (a firewall, or a NAT that drops what it cannot map) waits in SYN-SENT for the rest of the
 * window: the kernel sends the SYN again (after 1 s, then 3 s), and the peer's SYN completes it when it comes.
 * A pending connect cannot be withdrawn from its port, so it is never replaced by another while it waits.
 */
export const PUNCH_WINDOW_MS = 5_000;
/**
 * The pause after an attempt the other side's router or host refused (RST). A router that answers an
 * unsolicited SYN with a reset makes both sides bounce until both are in SYN-SENT at once: short pauses
 * keep each side there most of the time.
 */
export const PUNCH_RETRY_GAP_MS = 2;

/** A socket the punch connected: framing classes take it over like one from `Bun.connect` (`socket.data` is theirs). */
export type PunchedSocket = Socket<FramedConnection<never>>;

export interface SimultaneousOpenOptions {
  /** The port to connect from: the one announced to the peer (a port-preserving NAT maps it to itself). */
  localPort: number;
  /** The address to connect from (the system chooses when absent: the wildcard address of the remote's family). */
  localAddress?: string;
  /** The peer's address as its NAT shows it: its observed IP and the local port it announced. */
  remote: { hostname: string; port: number };
  /** `performance.now()` at which to send the first SYN (as agreed with the peer); now when absent or past. */
  startAt?: number;
  attempts?: number;
  windowMs?: number;
}

/**
 * Connects from `localPort` to `remote` at `startAt`, retrying until a connection opens, PUNCH_ATTEMPTS are
 * spent or PUNCH_WINDOW_MS has passed. Linux completes a simultaneous open when the SYNs cross, so the
 * peer runs the same call towards us. Rejects with UNREACHABLE naming the attempts and the last failure.
 */
export async function simultaneousOpen(options: SimultaneousOpenOptions): Promise<PunchedSocket> {
  const startAt = options.startAt ?? performance.now();
  const deadline = startAt + (options.windowMs ?? PUNCH_WINDOW_MS);
  const attempts = options.attempts ?? PUNCH_ATTEMPTS;
  const where = formatAddress(options.remote.hostname, options.remote.port);
  if (startAt > performance.now()) await Bun.sleep(startAt - performance.now());
  let last = "no attempt was made";
  let made = 0;
  while (made < attempts && performance.now() < deadline) {
    made++;
    const outcome = await attempt(options, deadline - performance.now());
    if (typeof outcome !== "string") return outcome;
    last = outcome;
    await Bun.sleep(PUNCH_RETRY_GAP_MS);
  }
  const spent = Math.round(performance.now() - startAt);
  throw new P2PError("UNREACHABLE", `no direct connection to ${where} from local port ${options.localPort}: ${made} attempts in ${spent} ms, the last: ${last}`);
}

/** One connection attempt: the socket, or why it failed. */
async function attempt(options: SimultaneousOpenOptions, timeoutMs: number): Promise<PunchedSocket | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const opening = Bun.connect({
    hostname: options.remote.hostname,
    port: options.remote.port,
    ...bindingFrom(options.localPort, options.localAddress, options.remote.hostname),
    socket: connectionHandlers<never>(),
  } as unknown as TCPSocketConnectOptions<FramedConnection<never>>);
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${Math.round(timeoutMs)} ms`), Math.max(1, timeoutMs))));
  try {
    const outcome = await Promise.race([opening, timeout]);
    // A connection that opens after the attempt gave up must not linger and hold the port.
    if (typeof outcome === "string") opening.then((late) => late.terminate(), () => {});
    return outcome;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Where a punch's connection is made from: `localPort` on `localAddress`. Bun binds `localPort` only together with
 * `localAddress` (alone it is ignored), so without one the wildcard of `remoteHost`'s family lets the system choose the IP.
 */
export function bindingFrom(localPort: number, localAddress: string | undefined, remoteHost: string): { localAddress: string; localPort: number } {
  return { localAddress: localAddress ?? (remoteHost.includes(":") ? "::" : "0.0.0.0"), localPort };
}
