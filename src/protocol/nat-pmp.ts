// NAT-PMP (RFC 6886), the client's half: ask the router on the default route for its external address and a TCP port mapping, over UDP.

import { readFileSync } from "node:fs";
import { P2PError } from "./errors";

/** The port a NAT-PMP gateway listens on (RFC 6886 §3). */
export const NAT_PMP_PORT = 5351;
/** The lifetime a mapping is asked for: the RFC's recommended two hours; it is renewed at half of what the router grants. */
export const MAPPING_LIFETIME_SECONDS = 7200;
/** The first retry after 250 ms, each doubling (RFC 6886 §3.1); 4 tries (3.75 s) rather than the RFC's 9: a node waits for this before it joins, and a router that says nothing in 4 s offers no NAT-PMP. */
export const NAT_PMP_FIRST_WAIT_MS = 250;
export const NAT_PMP_TRIES = 4;

export type NatPmpMapping = { externalPort: number; internalPort: number; lifetimeSeconds: number };

/** What the result codes of RFC 6886 §3.5 mean, for the message of a refusal. */
const RESULTS: Record<number, string> = {
  1: "it speaks another version",
  2: "it refuses (NAT-PMP turned off, or not for this host)",
  3: "its own network is down",
  4: "it has no port left",
  5: "it does not know the request",
};

const OP_EXTERNAL_ADDRESS = 0;
const OP_MAP_TCP = 2;
const REPLY = 128;

/** The router's external IPv4 address (opcode 0). Rejects with UNREACHABLE when it does not answer, REFUSED with its reason. */
export async function externalAddress(gateway: string, options: ExchangeOptions = {}): Promise<string> {
  const reply = await exchange(gateway, Uint8Array.of(0, OP_EXTERNAL_ADDRESS), OP_EXTERNAL_ADDRESS, 12, options);
  return Array.from(reply.subarray(8, 12)).join(".");
}

/**
 * Asks for TCP `internalPort` to be reachable at the router's `wishedExternalPort` (it may give another) for
 * `lifetimeSeconds`; 0 removes the mapping. Rejects as `externalAddress` does.
 */
export async function mapTcp(gateway: string, internalPort: number, wishedExternalPort: number, lifetimeSeconds: number, options: ExchangeOptions = {}): Promise<NatPmpMapping> {
  const request = new Uint8Array(12);
  const view = new DataView(request.buffer);
  view.setUint8(1, OP_MAP_TCP);
  view.setUint16(4, internalPort);
  view.setUint16(6, wishedExternalPort);
  view.setUint32(8, lifetimeSeconds);
  const reply = new DataView((await exchange(gateway, request, OP_MAP_TCP, 16, options)).buffer);
  return { internalPort: reply.getUint16(8), externalPort: reply.getUint16(10), lifetimeSeconds: reply.getUint32(12) };
}

/** The IPv4 gateway of the default route (Linux's /proc/net/route), or null when there is none or it cannot be read. */
export function defaultGateway(routeTable = "/proc/net/route"): string | null {
  let text: string;
  try {
    text = readFileSync(routeTable, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n").slice(1)) {
    const [, destination, gateway] = line.trim().split(/\s+/);
    if (destination !== "00000000" || !gateway || !/^[0-9A-Fa-f]{8}$/.test(gateway) || gateway === "00000000") continue;
    // Little-endian hex: 0104000A is 10.0.4.1.
    const value = Number.parseInt(gateway, 16);
    return [value & 255, (value >>> 8) & 255, (value >>> 16) & 255, value >>> 24].join(".");
  }
  return null;
}

export interface ExchangeOptions {
  port?: number;
  firstWaitMs?: number;
  tries?: number;
}

/** Sends `request` until a reply to `op` of `length` bytes comes from the gateway, or the tries run out. */
async function exchange(gateway: string, request: Uint8Array, op: number, length: number, options: ExchangeOptions): Promise<Uint8Array> {
  const port = options.port ?? NAT_PMP_PORT;
  let answer: ((reply: Uint8Array) => void) | null = null;
  let refused = false;
  const socket = await Bun.udpSocket({
    socket: {
      // ICMP "port unreachable" comes back as an error on the socket: nothing listens for NAT-PMP there.
      error() {
        refused = true;
        answer?.(new Uint8Array(0));
      },
      data(_socket, data, fromPort, fromAddress) {
        // Only the gateway's reply to this op counts (RFC 6886 §3.1: "from the gateway's address and port").
        if (fromAddress !== gateway || fromPort !== port || data.length < length || data[0] !== 0 || data[1] !== REPLY + op) return;
        answer?.(new Uint8Array(data));
      },
    },
  });
  try {
    let wait = options.firstWaitMs ?? NAT_PMP_FIRST_WAIT_MS;
    for (let attempt = 0; attempt < (options.tries ?? NAT_PMP_TRIES); attempt++, wait *= 2) {
      const reply = await new Promise<Uint8Array | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), wait);
        answer = (bytes) => {
          clearTimeout(timer);
          resolve(bytes);
        };
        try {
          socket.send(request, port, gateway);
        } catch (error) {
          // An ICMP "port unreachable" the error callback did not see first surfaces here (ECONNREFUSED): the same news.
          if (!(error instanceof Error)) throw error;
          refused = true;
          answer(new Uint8Array(0));
        }
      });
      if (refused) throw new P2PError("UNREACHABLE", `the router at ${gateway} does not speak NAT-PMP (UDP ${port} is closed)`);
      if (reply === null) continue;
      const result = new DataView(reply.buffer).getUint16(2);
      if (result !== 0) throw new P2PError("REFUSED", `the router at ${gateway} answered NAT-PMP with result ${result}: ${RESULTS[result] ?? "an error"}`);
      return reply;
    }
    throw new P2PError("UNREACHABLE", `the router at ${gateway} did not answer NAT-PMP (UDP ${port})`);
  } finally {
    socket.close();
  }
}
