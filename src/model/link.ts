// Share links (`p2p client link`): one shell-safe line carrying a file's or folder's id, name, size, a few holders and the DNS.

import { DNS_PORT, parseHostPort } from "../protocol/address";
import { canonicalHolderAddress } from "../protocol/relayed-address";
import { P2PError } from "../protocol/errors";
import { checkShareName } from "./share-name";

/** Holders a link names: enough to start without the ring, short enough to paste. */
export const MAX_LINK_HOLDERS = 4;
/** DNS addresses a link names (a node takes at most 8; the first few are enough to find the network). */
export const MAX_LINK_DNS = 4;
/** Longest link accepted: a 255-byte name percent-encoded three times over, plus the rest, fits. */
export const MAX_LINK_LENGTH = 2048;
/** Every link starts with this (then `file/` or `folder/`). */
export const LINK_PREFIX = "p2p:";

export interface ShareLink {
  folder: boolean;
  /** The file id (SHA-256 of its chunk hashes) or folder id: 64 hex digits, verified against every byte. */
  id: string;
  name: string;
  size: number;
  /** Holder addresses as `formatAddress` writes them (`[::1]:7495` for IPv6). */
  via: string[];
  /** DNS addresses, `host:port`. */
  dns: string[];
}

const USAGE = "a link looks like p2p:file/<id>/<name>/<size>/<holders>/<dns>";

/**
 * `p2p:file/<id>/<name>/<size>/<ip:port,...>/<dns>` (or `p2p:folder/...`). Every field is percent-encoded
 * down to letters, digits, `.`, `_`, `-` and `:` (a `,` separates addresses, `/` fields): none of these is
 * special to bash, zsh or fish, so the link pastes as one word unquoted. `?`, `&`, `*`, `[`, `]`, `!`, `~`,
 * spaces and quotes all are, which is why a URL query (`?name=...&via=...`) and bare `[::1]` are avoided.
 */
export function formatLink(link: ShareLink): string {
  const via = link.via.slice(0, MAX_LINK_HOLDERS).map(encodeField).join(",");
  const dns = link.dns.slice(0, MAX_LINK_DNS).map(encodeField).join(",");
  return `${LINK_PREFIX}${link.folder ? "folder" : "file"}/${link.id}/${encodeField(link.name)}/${link.size}/${via}/${dns}`;
}

/** True when `text` is meant as a link (it starts with `p2p:`), whether or not it is a valid one. */
export function looksLikeLink(text: string): boolean {
  return text.startsWith(LINK_PREFIX);
}

/** Parses and checks a link; anything wrong is one MALFORMED error naming the part that is wrong. */
export function parseLink(text: string): ShareLink {
  const bad = (why: string) => new P2PError("MALFORMED", `invalid link: ${why}; ${USAGE}`);
  const trimmed = text.trim();
  if (trimmed.length > MAX_LINK_LENGTH) throw bad(`it is over ${MAX_LINK_LENGTH} characters`);
  if (!looksLikeLink(trimmed)) throw bad(`it does not start with '${LINK_PREFIX}'`);
  const fields = trimmed.slice(LINK_PREFIX.length).split("/");
  if (fields.length !== 6) throw bad(`it has ${fields.length} '/'-separated parts after '${LINK_PREFIX}', not 6 (was it cut when copied?)`);
  const [kind, id, name, size, via, dns] = fields as [string, string, string, string, string, string];
  if (kind !== "file" && kind !== "folder") throw bad(`'${kind.slice(0, 20)}' is neither file nor folder`);
  if (!/^[0-9a-f]{64}$/.test(id)) throw bad(`the id '${id.slice(0, 70)}' is not 64 lowercase hex digits`);
  if (!/^\d{1,16}$/.test(size) || !Number.isSafeInteger(Number(size))) throw bad(`the size '${size.slice(0, 20)}' is not a number of bytes`);
  const decodedName = decodeField(name, "name", bad);
  try {
    checkShareName(decodedName);
  } catch (error) {
    throw bad(`its name: ${(error as Error).message}`);
  }
  return { folder: kind === "folder", id, name: decodedName, size: Number(size), via: addresses(via, MAX_LINK_HOLDERS, "holder", bad), dns: dnsAddresses(dns, bad) };
}

function addresses(field: string, max: number, what: string, bad: (why: string) => P2PError): string[] {
  const parts = field === "" ? [] : field.split(",");
  if (parts.length > max) throw bad(`it names ${parts.length} ${what}s, more than ${max}`);
  return parts.map((part) => {
    const text = decodeField(part, what, bad);
    try {
      // A holder may be an edge node's relayed address (`ip:port/<edge id>`).
      return canonicalHolderAddress(text, `${what} address`);
    } catch (error) {
      throw bad((error as Error).message);
    }
  });
}

function dnsAddresses(field: string, bad: (why: string) => P2PError): string[] {
  const parts = field === "" ? [] : field.split(",");
  if (parts.length > MAX_LINK_DNS) throw bad(`it names ${parts.length} DNS addresses, more than ${MAX_LINK_DNS}`);
  return parts.map((part) => {
    const text = decodeField(part, "DNS", bad);
    try {
      const { hostname, port } = parseHostPort(text, DNS_PORT, "DNS address");
      return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    } catch (error) {
      throw bad((error as Error).message);
    }
  });
}

/** Percent-encodes every UTF-8 byte outside `A-Z a-z 0-9 . _ - :`. */
function encodeField(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9._:-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function decodeField(text: string, what: string, bad: (why: string) => P2PError): string {
  if (!/^(?:[A-Za-z0-9._:-]|%[0-9A-Fa-f]{2})*$/.test(text)) throw bad(`its ${what} has a character a link never holds unencoded`);
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad(`its ${what} is not valid percent-encoded UTF-8`);
  }
}
