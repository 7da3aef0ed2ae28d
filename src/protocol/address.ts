// Checks for the addresses, ports and peer ids that travel as arguments; each failure says what is wrong.

import { isIP } from "node:net";
import { P2PError } from "./errors";

export const DNS_PORT = 7494;
export const PEER_PORT = 7495;

/** Letters, digits, '-' and '_': the original's small integers and this project's 40-hex ids both fit. */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function parsePeerId(value: string): string {
  if (!PEER_ID_PATTERN.test(value)) {
    throw new P2PError("MALFORMED", `invalid peer id '${value.slice(0, 80)}': use 1-64 letters, digits, '-' or '_'`);
  }
  return value;
}

/** A unicast IP address a peer can be reached at (not 0.0.0.0, not multicast). */
export function parsePeerIp(value: string): string {
  const version = isIP(value);
  if (version === 0) throw new P2PError("MALFORMED", `invalid IP address '${value.slice(0, 80)}'`);
  if (value === "0.0.0.0" || value === "::" || value === "255.255.255.255" || isMulticast(value, version)) {
    throw new P2PError("MALFORMED", `${value} is not an address a peer can be reached at`);
  }
  return value;
}

/** A TCP port given as text; `what` names the flag or argument in the message. */
export function parsePort(value: string, what = "port", { allowZero = false } = {}): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  const low = allowZero ? 0 : 1;
  if (!(port >= low && port <= 65535)) {
    throw new P2PError("MALFORMED", `invalid ${what} '${value.slice(0, 80)}': expected a number from ${low} to 65535`);
  }
  return port;
}

/** `host[:port]`, e.g. `--dns 127.0.0.1:7494`; IPv6 as `[::1]:7494`. */
export function parseHostPort(value: string, defaultPort: number, what = "address"): { hostname: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    return { hostname: parsePeerIp(bracketed[1]!), port: bracketed[2] ? parsePort(bracketed[2], `${what} port`) : defaultPort };
  }
  const colon = value.lastIndexOf(":");
  if (colon > 0 && value.indexOf(":") === colon) {
    return { hostname: parseHost(value.slice(0, colon), what), port: parsePort(value.slice(colon + 1), `${what} port`) };
  }
  return { hostname: parseHost(value, what), port: defaultPort };
}

function parseHost(value: string, what: string): string {
  if (isIP(value) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(value)) return value;
  throw new P2PError("MALFORMED", `invalid ${what} '${value.slice(0, 80)}': expected host[:port]`);
}

function isMulticast(value: string, version: number): boolean {
  if (version === 4) {
    const first = Number(value.split(".")[0]);
    return first >= 224 && first <= 239;
  }
  return value.toLowerCase().startsWith("ff");
}
