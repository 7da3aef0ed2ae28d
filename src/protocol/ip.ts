// Canonical IP addresses: the one spelling of each address, the host it names, and the kinds of address no peer may be named by.

import { isIP } from "node:net";

/**
 * The one spelling of `text` as an IP address, or null when it is not one. IPv4 is dotted decimal
 * (`isIP` already refuses `127.0.0.010`, `0x7f.0.0.1`, `2130706433`, `127.1`). IPv4 written as IPv6,
 * mapped (`::ffff:a.b.c.d`, `::FFFF:7f00:1`, `0:0:0:0:0:ffff:…`) or compatible (`::a.b.c.d`), becomes
 * that IPv4 address; any other IPv6 address is written as RFC 5952 says (lowercase, no leading zeros,
 * the longest run of zero groups as `::`). A zone id (`fe80::1%eth0`) only means something on the host
 * that wrote it: null.
 */
export function canonicalIp(text: string): string | null {
  const version = isIP(text);
  if (version === 4) return text;
  if (version !== 6 || text.includes("%")) return null;
  const groups = ipv6Groups(text);
  return ipv4Inside(groups) ?? formatIpv6(groups);
}

/**
 * Why no peer may be named by the canonical address `ip`, or null when one may. Loopback (127/8, ::1)
 * and private ranges are allowed: local networks and tests run on them. So are the documentation ranges
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): the NAT lab gives them to its "public"
 * hosts inside its namespaces, and no router on the Internet carries them, so naming one reaches no stranger.
 */
export function unreachableReason(ip: string): string | null {
  return ip.includes(":") ? ipv6Problem(ipv6Groups(ip)) : ipv4Problem(ip);
}

/**
 * What names one host for ids and holder counts: an IPv4 address itself, an IPv6 address's /64
 * (`fd12:3456:789a:1::/64`), since one host is routinely given a whole /64 (BEP 42's reasoning).
 * `ip` is canonical.
 */
export function hostOf(ip: string): string {
  if (!ip.includes(":")) return ip;
  const groups = ipv6Groups(ip);
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** Whether `ip`, in any spelling, is a loopback address: 127.0.0.0/8 or ::1. */
export function isLoopback(ip: string): boolean {
  const canonical = canonicalIp(ip);
  return canonical === "::1" || (canonical !== null && canonical.startsWith("127."));
}

/** Whether the canonical address `ip` is a private one (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): a site's own, behind its NAT. */
export function isPrivate(ip: string): boolean {
  if (ip.includes(":")) return (ipv6Groups(ip)[0]! & 0xfe00) === 0xfc00;
  const [a, b] = ip.split(".").map(Number) as [number, number];
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
}

/** The address family of the canonical address `ip`: 4 or 6. */
export function familyOf(ip: string): 4 | 6 {
  return ip.includes(":") ? 6 : 4;
}

function ipv4Problem(ip: string): string | null {
  const first = Number(ip.slice(0, ip.indexOf(".")));
  if (first === 0) return "0.0.0.0/8 names this host's own network, not a peer";
  if (first >= 224 && first <= 239) return "it is a multicast address";
  if (first >= 240) return "240.0.0.0/4 is reserved (255.255.255.255 is broadcast)";
  return null;
}

function ipv6Problem(g: number[]): string | null {
  const zeroFrom = (start: number, end: number) => g.slice(start, end).every((group) => group === 0);
  if (zeroFrom(0, 8)) return ":: is the unspecified address";
  // Prefixes that embed an IPv4 address are one more spelling of it (6to4 a whole /48 of them); NAT64 first, as it lies in ::/8.
  if (g[0] === 0x64 && g[1] === 0xff9b && (zeroFrom(2, 6) || g[2] === 1)) return "a NAT64 address (64:ff9b::/96) is an IPv4 address in disguise: name the IPv4 address";
  // ::1 is IPv6 loopback; the IPv4 forms of ::/96 were turned into IPv4 by canonicalIp; the rest of ::/8 is reserved.
  if (g[0]! >> 8 === 0 && !(zeroFrom(0, 7) && g[7] === 1)) return "::/8 is reserved (write an IPv4 address as a.b.c.d)";
  if (g[0]! >> 8 === 0xff) return "it is a multicast address";
  if ((g[0]! & 0xffc0) === 0xfe80) return "a link-local address (fe80::/10) reaches a peer only with a zone id, which names an interface of one host";
  if ((g[0]! & 0xffc0) === 0xfec0) return "site-local addresses (fec0::/10) are deprecated";
  if (g[0] === 0x100 && zeroFrom(1, 4)) return "100::/64 is the discard prefix";
  if (g[0] === 0x2002) return "a 6to4 address (2002::/16) is an IPv4 address in disguise: name the IPv4 address";
  if (g[0] === 0x2001 && g[1] === 0) return "a Teredo address (2001::/32) is an IPv4 address in disguise: name the IPv4 address";
  return null;
}

/** The eight 16-bit groups of an address `isIP` called IPv6 (no zone id). */
function ipv6Groups(text: string): number[] {
  let body = text;
  const lastColon = body.lastIndexOf(":");
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) is two groups.
  if (body.includes(".", lastColon)) {
    const [a, b, c, d] = body.slice(lastColon + 1).split(".").map(Number) as [number, number, number, number];
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
  const [head, tail] = body.split("::") as [string, string | undefined];
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** The IPv4 address an IPv4-mapped (::ffff:0:0/96) or IPv4-compatible (::/96 but :: and ::1) address carries. */
function ipv4Inside(g: number[]): string | null {
  const zero = (count: number) => g.slice(0, count).every((group) => group === 0);
  const mapped = zero(5) && g[5] === 0xffff;
  const compatible = zero(6) && (g[6] !== 0 || g[7]! > 1);
  if (!mapped && !compatible) return null;
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join(".");
}

/** RFC 5952: lowercase hex without leading zeros; the longest run of two or more zero groups (the first of equals) as `::`. */
function formatIpv6(groups: number[]): string {
  let runStart = -1;
  let runLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - i > runLength) [runStart, runLength] = [i, end - i];
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (runStart < 0) return hex.join(":");
  return `${hex.slice(0, runStart).join(":")}::${hex.slice(runStart + runLength).join(":")}`;
}
