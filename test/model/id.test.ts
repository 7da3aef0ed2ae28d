import { describe, expect, test } from "bun:test";
import {
  bigIntToId,
  fingerStart,
  idToBigInt,
  inHalfOpenInterval,
  inOpenInterval,
  IDS_PER_IP,
  isRingId,
  nodeId,
  ringDistance,
  ringId,
} from "../../src/model/id";
import { peerAt } from "../../src/model/peer";

const id = (n: bigint): string => bigIntToId(n);
const MAX = (1n << 160n) - 1n;

describe("ring ids", () => {
  test("ringId is the SHA-1 of the text as 40 lowercase hex digits", () => {
    expect(ringId("abc")).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(isRingId(ringId("127.0.0.1:4000"))).toBe(true);
  });

  test("a node's id is bound to its IP: SHA-1 of ip/(port mod 8), so one address has at most 8 ids", () => {
    expect(peerAt("127.0.0.1:4000").id).toBe(ringId("127.0.0.1/0"));
    expect(nodeId("127.0.0.1:4003")).toBe(ringId("127.0.0.1/3"));
    const ground = new Set(Array.from({ length: 65_535 }, (_, port) => nodeId(`127.0.0.1:${port + 1}`)));
    expect(ground.size).toBe(IDS_PER_IP);
    expect(nodeId("127.0.0.2:4000")).not.toBe(nodeId("127.0.0.1:4000"));
  });

  test("hex and bigint convert both ways and wrap modulo 2^160", () => {
    expect(idToBigInt(id(12345n))).toBe(12345n);
    expect(id(MAX + 1n)).toBe("0".repeat(40));
    expect(id(-1n)).toBe("f".repeat(40));
  });

  test("fingerStart adds 2^i and wraps past the top of the circle", () => {
    expect(fingerStart(id(0n), 0)).toBe(id(1n));
    expect(fingerStart(id(10n), 4)).toBe(id(26n));
    expect(fingerStart(id(MAX), 0)).toBe(id(0n));
    expect(fingerStart(id(MAX - 1n), 159)).toBe(id((1n << 159n) - 2n));
  });

  test("ringDistance measures clockwise, across zero too", () => {
    expect(ringDistance(id(5n), id(9n))).toBe(4n);
    expect(ringDistance(id(MAX), id(1n))).toBe(2n);
  });
});

describe("circle intervals", () => {
  test("the open interval (a, b) excludes both ends", () => {
    expect(inOpenInterval(id(5n), id(1n), id(9n))).toBe(true);
    expect(inOpenInterval(id(1n), id(1n), id(9n))).toBe(false);
    expect(inOpenInterval(id(9n), id(1n), id(9n))).toBe(false);
    expect(inOpenInterval(id(10n), id(1n), id(9n))).toBe(false);
  });

  test("the half-open interval (a, b] includes b but not a", () => {
    expect(inHalfOpenInterval(id(9n), id(1n), id(9n))).toBe(true);
    expect(inHalfOpenInterval(id(1n), id(1n), id(9n))).toBe(false);
    expect(inHalfOpenInterval(id(0n), id(1n), id(9n))).toBe(false);
  });

  test("intervals that wrap past zero contain both sides of zero", () => {
    const a = id(MAX - 5n);
    const b = id(5n);
    expect(inOpenInterval(id(MAX), a, b)).toBe(true);
    expect(inOpenInterval(id(0n), a, b)).toBe(true);
    expect(inOpenInterval(id(3n), a, b)).toBe(true);
    expect(inOpenInterval(id(6n), a, b)).toBe(false);
    expect(inOpenInterval(id(MAX - 6n), a, b)).toBe(false);
    expect(inHalfOpenInterval(b, a, b)).toBe(true);
    expect(inHalfOpenInterval(a, a, b)).toBe(false);
  });

  test("a == b means the whole circle: every point but a when open, every point when half-open", () => {
    const a = id(42n);
    expect(inOpenInterval(id(7n), a, a)).toBe(true);
    expect(inOpenInterval(a, a, a)).toBe(false);
    expect(inHalfOpenInterval(a, a, a)).toBe(true);
    expect(inHalfOpenInterval(id(MAX), a, a)).toBe(true);
  });
});
