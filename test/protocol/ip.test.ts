// One spelling per IP address: every way of writing an IPv4 address as IPv6 is that IPv4 address, IPv6 is RFC 5952, and ids follow the host, not the text.

import { describe, expect, test } from "bun:test";
import { isIP } from "node:net";
import { IDS_PER_IP, nodeId, ringId } from "../../src/model/id";
import { formatAddress, parseHostPort, parsePeerAddress, parsePeerIp, splitAddress } from "../../src/protocol/address";
import { canonicalIp, hostOf, isPrivate } from "../../src/protocol/ip";

/**
 * Every way to write the 8 groups as IPv6 text: each group with any number of leading zeros, in either
 * case, any run of zero groups compressed to `::` or none, and the last two groups as dotted IPv4 or
 * not. For ::ffff:7f00:4202 and ::7f00:4202 that is 51,201 spellings, all of which `isIP` accepts.
 */
function spellings(groups: number[]): string[] {
  const forms = (group: number) => {
    const bare = group.toString(16);
    const padded = Array.from({ length: 5 - bare.length }, (_, extra) => bare.padStart(bare.length + extra, "0"));
    return [...new Set(padded.flatMap((text) => [text, text.toUpperCase()]))];
  };
  const product = (parts: string[][]): string[][] =>
    parts.reduce<string[][]>((sofar, options) => sofar.flatMap((prefix) => options.map((option) => [...prefix, option])), [[]]);
  const out = new Set<string>();
  for (const dotted of [false, true]) {
    const length = dotted ? 6 : 8;
    const tail = dotted ? [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join(".") : null;
    const end = (text: string) => (tail === null ? text : `${text}${text.endsWith("::") ? "" : ":"}${tail}`);
    const parts = groups.slice(0, length).map(forms);
    for (const chosen of product(parts)) out.add(end(chosen.join(":")));
    for (let from = 0; from < length; from++) {
      for (let to = from + 1; to <= length && groups[to - 1] === 0; to++) {
        const left = product(parts.slice(0, from)).map((words) => words.join(":"));
        const right = product(parts.slice(to)).map((words) => words.join(":"));
        for (const l of left) for (const r of right) out.add(end(`${l}::${r}`));
      }
    }
  }
  return [...out];
}

describe("canonical IP addresses", () => {
  test("fifty thousand IPv6 spellings of one IPv4 address are all that IPv4 address, and give its 8 ids", () => {
    const mapped = spellings([0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x4202]);
    const compatible = spellings([0, 0, 0, 0, 0, 0, 0x7f00, 0x4202]);
    const all = [...mapped, ...compatible];
    expect(all.length).toBeGreaterThan(50_000);
    expect(all).toContain("::FFFF:127.0.66.2");
    expect(all).toContain("::ffff:7f00:4202");
    expect(all).toContain("0:0:0:0:0:ffff:127.0.66.2");
    expect(all).toContain("::127.0.66.2");
    const wrong = all.filter((text) => isIP(text) !== 6 || parsePeerIp(text) !== "127.0.66.2");
    expect(wrong).toEqual([]);
    const ids = new Set<string>();
    all.forEach((text, index) => ids.add(nodeId(`[${text}]:${7488 + (index % 16)}`)));
    expect(ids.size).toBe(IDS_PER_IP);
    expect(ids.has(ringId("127.0.66.2/7"))).toBe(true);
  });

  test("IPv4 ids are what they were: SHA-1 of ip/(port mod 8)", () => {
    expect(nodeId("127.0.66.2:7495")).toBe(ringId("127.0.66.2/7"));
    expect(nodeId("[::ffff:127.0.66.2]:7495")).toBe(ringId("127.0.66.2/7"));
    expect(nodeId("::ffff:127.0.66.2:7495")).toBe(ringId("127.0.66.2/7"));
  });

  test("IPv4 that is not dotted decimal is refused, as it was", () => {
    for (const text of ["127.0.66.010", "0x7f.0.0.1", "2130706433", "127.1", "127.0.0.999", " 127.0.0.1", "127.0.0.1 "]) {
      expect(() => parsePeerIp(text)).toThrow(/invalid IP address/);
    }
  });

  test("IPv6 is written in RFC 5952 form: lowercase, no leading zeros, the longest zero run as ::", () => {
    expect(canonicalIp("2A00:1450:4001:0000:0000:0000:0000:200E")).toBe("2a00:1450:4001::200e");
    expect(canonicalIp("2a00:1:0:0:1:0:0:1")).toBe("2a00:1::1:0:0:1");
    expect(canonicalIp("2a00:0:0:1:0:0:0:1")).toBe("2a00:0:0:1::1");
    expect(canonicalIp("2a00:1:2:3:4:5:0:7")).toBe("2a00:1:2:3:4:5:0:7");
    expect(canonicalIp("0:0:0:0:0:0:0:1")).toBe("::1");
    for (const text of spellings([0x2a00, 0x1450, 0, 0, 0, 0, 0, 0x200e])) expect(canonicalIp(text)).toBe("2a00:1450::200e");
  });

  test("zone ids, the unspecified address and forms no peer can be reached at are refused, each with its reason", () => {
    const refused: Array<[string, RegExp]> = [
      ["fe80::1%x1", /zone id/],
      ["FE80::1%eth0", /zone id/],
      ["::%1", /zone id/],
      ["::", /unspecified/],
      ["0:0:0:0:0:0:0:0", /unspecified/],
      ["::ffff:0.0.0.0", /0\.0\.0\.0\/8/],
      ["0.0.0.0", /0\.0\.0\.0\/8/],
      ["0.1.2.3", /0\.0\.0\.0\/8/],
      ["255.255.255.255", /broadcast/],
      ["240.0.0.1", /reserved/],
      ["224.0.0.1", /multicast/],
      ["::ffff:224.0.0.1", /multicast/],
      ["ff02::1", /multicast/],
      ["fe80::1", /link-local/],
      ["fec0::1", /site-local/],
      ["::ffff:0:7f00:1", /::\/8 is reserved/],
      ["1:0:0:1::1", /::\/8 is reserved/],
      ["100::1", /discard/],
      ["2002:7f00:4202::1", /6to4/],
      ["2001:0:4136:e378:8000:63bf:3fff:fdd2", /Teredo/],
      ["64:ff9b::127.0.66.2", /NAT64/],
      ["64:ff9b:1::1", /NAT64/],
    ];
    for (const [text, reason] of refused) expect(() => parsePeerIp(text)).toThrow(reason);
  });

  test("documentation ranges are addresses a peer may have, as the NAT lab's public hosts do, in their canonical spelling", () => {
    for (const ip of ["192.0.2.7", "198.51.100.1", "203.0.113.7"]) expect(parsePeerIp(ip)).toBe(ip);
    expect(parsePeerIp("2001:DB8:0:0::5")).toBe("2001:db8::5");
    expect(parsePeerAddress("[2001:db8::1]:7494")).toEqual({ ip: "2001:db8::1", port: 7494 });
  });

  test("loopback: ::1 is an IPv6 peer of its own, IPv4 loopback written as IPv6 is IPv4 loopback", () => {
    expect(parsePeerIp("::1")).toBe("::1");
    expect(parsePeerIp("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(parsePeerIp("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(parsePeerIp("::127.0.0.1")).toBe("127.0.0.1");
    expect(parsePeerIp("::7f00:1")).toBe("127.0.0.1");
    expect(nodeId("[::1]:7495")).toBe(ringId("::/64/7"));
    expect(nodeId("[::1]:7495")).not.toBe(nodeId("127.0.0.1:7495"));
  });

  test("an IPv6 id is bound to the /64: every address and port in one /64 gives at most 8 ids", () => {
    expect(hostOf("2a00:1450:4001:81a:1:2:3:4")).toBe("2a00:1450:4001:81a::/64");
    expect(hostOf("2a00:1450::1")).toBe("2a00:1450::/64");
    expect(hostOf("127.0.66.2")).toBe("127.0.66.2");
    const ids = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const low = Array.from({ length: 4 }, () => Math.floor(Math.random() * 0x10000).toString(16)).join(":");
      ids.add(nodeId(`[2a00:1450:4001:81a:${low}]:${1 + Math.floor(Math.random() * 65_535)}`));
    }
    expect(ids.size).toBe(IDS_PER_IP);
    expect(nodeId("[2a00:1450:4001:81a::1]:7495")).toBe(ringId("2a00:1450:4001:81a::/64/7"));
    expect(nodeId("[2a00:1450:4001:81b::1]:7495")).not.toBe(nodeId("[2a00:1450:4001:81a::1]:7495"));
  });

  test("addresses print with IPv6 in brackets and read back canonical, bracketed or not", () => {
    expect(formatAddress("127.0.0.2", 7495)).toBe("127.0.0.2:7495");
    expect(formatAddress("::1", 7495)).toBe("[::1]:7495");
    expect(splitAddress("[::1]:7495")).toEqual({ ip: "::1", port: 7495 });
    expect(splitAddress("127.0.0.2:7495")).toEqual({ ip: "127.0.0.2", port: 7495 });
    expect(parsePeerAddress("[0:0:0:0:0:0:0:1]:7495")).toEqual({ ip: "::1", port: 7495 });
    expect(parsePeerAddress("[::FFFF:127.0.66.2]:7495")).toEqual({ ip: "127.0.66.2", port: 7495 });
    expect(parsePeerAddress("::ffff:127.0.66.2:7495")).toEqual({ ip: "127.0.66.2", port: 7495 });
    expect(() => parsePeerAddress("[::1]", "holder")).toThrow(/invalid holder/);
    expect(() => parsePeerAddress("[::1]:", "holder")).toThrow(/invalid holder port/);
    expect(() => parsePeerAddress("[fe80::1%lo]:7495")).toThrow(/zone id/);
    expect(parseHostPort("[::ffff:127.0.0.1]:7494", 7494)).toEqual({ hostname: "127.0.0.1", port: 7494 });
    expect(parseHostPort("::ffff:127.0.0.1", 7494)).toEqual({ hostname: "127.0.0.1", port: 7494 });
    expect(parseHostPort("dns.example:7000", 7494)).toEqual({ hostname: "dns.example", port: 7000 });
  });
});

describe("private addresses", () => {
  test("a site's own ranges are private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), public and documentation ones are not", () => {
    for (const ip of ["10.0.4.2", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fd12:3456::1", "fc00::1"]) expect({ ip, private: isPrivate(ip) }).toEqual({ ip, private: true });
    for (const ip of ["203.0.113.14", "172.32.0.1", "192.169.0.1", "100.128.0.1", "8.8.8.8", "2001:db8::4", "fe80::1"]) expect({ ip, private: isPrivate(ip) }).toEqual({ ip, private: false });
  });
});
