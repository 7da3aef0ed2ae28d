// A punch's LAN path: the responder listens on its own address for the one dialler it expects, the initiator connects there straight.

import type { Socket, TCPSocketConnectOptions, TCPSocketListener, TCPSocketListenOptions } from "bun";
import { formatAddress, splitAddress } from "./address";
import type { FramedConnection } from "./connection";
import { P2PError } from "./errors";
import type { PunchedSocket } from "./simultaneous-open";
import { connectionHandlers } from "./socket-handlers";

/** How long the initiator waits for each LAN address to accept: on one network a connection opens in milliseconds. */
export const LAN_CONNECT_TIMEOUT_MS = 1_000;
/** Connections from other IPs a LAN listener turns away before it closes: it waits for one dialler, not for a scan. */
export const MAX_LAN_STRANGERS = 8;

export interface LanListener {
  /** `ip:port` it listens on: what the responder's CONNECT announces as its local address. */
  address: string;
  /** The dialler's connection, once one from an allowed IP opens; never rejects (a closed listener leaves it pending). */
  accepted: Promise<PunchedSocket>;
  close(): void;
}

/**
 * Listens on `ip` (a free port) for one connection from one of `allowedIps` (the initiator's announced local
 * IPs): any other is closed at once, and past MAX_LAN_STRANGERS of them the listener closes. The caller
 * closes it when the punch ends, whichever way.
 */
export function listenOnLan(ip: string, allowedIps: string[]): LanListener {
  let accept: (socket: PunchedSocket) => void = () => {};
  const accepted = new Promise<PunchedSocket>((resolve) => (accept = resolve));
  let strangers = 0;
  let listener: TCPSocketListener<FramedConnection<never>> | null = null;
  const close = () => {
    listener?.stop(false);
    listener = null;
  };
  const handlers = connectionHandlers<never>();
  try {
    listener = listen(ip, {
      ...handlers,
      open(socket) {
        if (listener === null || !allowedIps.includes(socket.remoteAddress)) {
          socket.terminate();
          if (++strangers >= MAX_LAN_STRANGERS) close();
          return;
        }
        close();
        accept(socket as unknown as PunchedSocket);
      },
    });
  } catch (error) {
    throw new P2PError("UNAVAILABLE", `cannot listen on ${ip} for a LAN connection: ${(error as Error).message}`, { cause: error });
  }
  return { address: formatAddress(ip, listener.port), accepted, close };
}

function listen(ip: string, socket: TCPSocketListenOptions<FramedConnection<never>>["socket"]): TCPSocketListener<FramedConnection<never>> {
  return Bun.listen<FramedConnection<never>>({ hostname: ip, port: 0, socket });
}

/**
 * Connects to each of `addresses` in turn (the responder's LAN listeners) until one accepts, and says which; rejects with
 * UNREACHABLE naming the last failure. `localAddress` is the IP to connect from when the node has one.
 */
export async function connectOnLan(addresses: string[], localAddress?: string, timeoutMs = LAN_CONNECT_TIMEOUT_MS): Promise<{ socket: PunchedSocket; address: string }> {
  let last = "no LAN address was announced";
  for (const address of addresses) {
    const { ip, port } = splitAddress(address);
    const sameFamily = localAddress !== undefined && ip.includes(":") === localAddress.includes(":");
    const opening = Bun.connect({
      hostname: ip,
      port,
      ...(sameFamily ? { localAddress } : {}),
      socket: connectionHandlers<never>(),
    } as unknown as TCPSocketConnectOptions<FramedConnection<never>>) as unknown as Promise<Socket<FramedConnection<never>>>;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer from ${address} within ${timeoutMs} ms`), timeoutMs)));
    try {
      const outcome = await Promise.race([opening, timeout]);
      if (typeof outcome !== "string") return { socket: outcome as unknown as PunchedSocket, address };
      // A connection that opens after we gave up must not linger.
      opening.then((late) => late.terminate(), () => {});
      last = outcome;
    } catch (error) {
      last = `${address}: ${(error as Error).message || String(error)}`;
    } finally {
      clearTimeout(timer);
    }
  }
  throw new P2PError("UNREACHABLE", `no LAN connection: ${last}`);
}
