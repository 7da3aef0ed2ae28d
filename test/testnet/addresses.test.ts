// Loopback addresses of a local network counted on past one /24.

import { describe, expect, test } from "bun:test";
import { addressAt, subnetsOf, subnetsSpanned } from "../../src/testnet/addresses";

describe("testnet addresses", () => {
  test("positions 1 to 254 are the subnet's own addresses, and 255 on take the next /24s", () => {
    expect(addressAt("127.0.0", 1)).toBe("127.0.0.1");
    expect(addressAt("127.0.0", 254)).toBe("127.0.0.254");
    expect(addressAt("127.0.0", 255)).toBe("127.0.1.1");
    expect(addressAt("127.0.0", 510)).toBe("127.0.2.2");
  });

  test("an address past 127.x.255.254 or at a position below 1 is refused with the reason", () => {
    expect(() => addressAt("127.0.255", 255)).toThrow("position 255 after 127.0.255.0/24 runs past 127.0.255.254");
    expect(() => addressAt("127.0.0", 0)).toThrow("address position 0 is not a whole number from 1");
  });

  test("a DNS at .10 and 500 nodes after it span three /24s, and the subnets of their addresses are named once each", () => {
    expect(subnetsSpanned(10, 501)).toBe(3);
    expect(subnetsSpanned(1, 254)).toBe(1);
    expect(subnetsSpanned(1, 255)).toBe(2);
    const addresses = Array.from({ length: 501 }, (_, index) => `${addressAt("127.0.0", 10 + index)}:7495`);
    expect(subnetsOf(addresses)).toEqual(["127.0.0", "127.0.1", "127.0.2"]);
  });
});
