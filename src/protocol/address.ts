// Checks for the addresses, ports and peer ids that travel as arguments; each failure says what is wrong.

import { isIP } from "node:net";
import { P2PError } from "./errors";
import { canonicalIp, unreachableReason } from "./ip";

export const DNS_PORT = 7494;
export const PEER_PORT = 7495;

/** Letters, digits, '-' and '_': the original's small integers and this project's 40-hex ids both fit. */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function parsePeerId(value: string): string {
  if (!PEER_ID_PATTERN.test(value)) {
    throw P2PError.invalid("peer id", value, "1-64 letters, digits, '-' or '_'");
  }
  return value;
}

/**
 * A unicast IP address a peer can be reached at, in its one spelling (`canonicalIp`): every address that
 * enters (wire, CLI, DNS) goes through here, so ids, holders and DNS rows see one text per address.
 * IPv4 written as IPv6 (`::ffff:127.0.0.1`, `::127.0.0.1`) becomes the IPv4 address; zone ids, `::`,
 * 0.0.0.0/8, multicast and the other forms `unreachableReason` names are refused.
 */
export function parsePeerIp(value: string): string {
  const ip = canonicalIp(value);
  if (ip === null) {
    const zone = value.includes("%") && isIP(value) === 6 ? ": a zone id (%...) names an interface of one host, not an address a peer can use" : "";
    throw new P2PError("MALFORMED", `invalid IP address '${value.slice(0, 80)}'${zone}`);
  }
  const reason = unreachableReason(ip);
  if (reason !== null) throw new P2PError("MALFORMED", `${value.slice(0, 80)} is not an address a peer can be reached at: ${reason}`);
  return ip;
}

/** A peer's address as text: `ip:port`, IPv6 in brackets (`[::1]:7495`). `ip` is canonical, so the text is too. */
export function formatAddress(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The parts of an address this program wrote (`formatAddress`); not a check, see `parsePeerAddress`. */
export function splitAddress(address: string): { ip: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  const ip = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return { ip, port: Number(address.slice(colon + 1)) };
}

/**
 * `ip:port` as a peer is named on the wire, in records and files: IPv6 as `[ip]:port` (or, as older
 * nodes wrote it, bare before the last colon). The result is canonical; `formatAddress` writes it back.
 */
export function parsePeerAddress(address: string, what = "address"): { ip: string; port: number } {
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(address);
  const colon = address.lastIndexOf(":");
  if (!bracketed && (colon <= 0 || address.startsWith("["))) throw P2PError.invalid(what, address, "ip:port ([ip]:port for IPv6)");
  const [ip, port] = bracketed ? [bracketed[1]!, bracketed[2]!] : [address.slice(0, colon), address.slice(colon + 1)];
  return { ip: parsePeerIp(ip), port: parsePort(port, `${what} port`) };
}

/** A TCP port given as text; `what` names the flag or argument in the message. */
export function parsePort(value: string, what = "port", { allowZero = false } = {}): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  const low = allowZero ? 0 : 1;
  if (!(port >= low && port <= 65535)) {
    throw P2PError.invalid(what, value, `a number from ${low} to 65535`);
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
  if (isIP(value) !== 0) return parsePeerIp(value);
  if (/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(value)) return value;
  throw P2PError.invalid(what, value, "host[:port]");
}
