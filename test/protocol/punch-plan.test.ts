// What a hole punch tries, decided from the two CONNECTs: the LAN address when both sides share a NAT (or have none), and no punch when one cannot work.

import { expect, test } from "bun:test";
import { type PunchOffer, PUNCH_SKIP_RULES, planPunch } from "../../src/protocol/punch-plan";

const offer = (observed: string, local: string[] = [], randomPorts = false): PunchOffer => ({ observed, local, randomPorts });

test("two sides behind the same NAT (equal observed IPs) try each other's LAN address, then the punch", () => {
  const a1 = offer("203.0.113.11:40000", ["10.0.1.2:40000"]);
  const a2 = offer("203.0.113.11:41000", ["10.0.1.3:41000"]);
  expect(planPunch(a1, a2)).toEqual({ lan: true, skip: null, randomSide: null });
  expect(planPunch(a2, a1)).toEqual({ lan: true, skip: null, randomSide: null });
});

test("two sides each seen at its own IP (firewalls, no NAT) try each other's LAN address", () => {
  expect(planPunch(offer("198.51.100.2:40000", ["198.51.100.2:40000"]), offer("198.51.100.3:41000", ["198.51.100.3:41000"]))).toEqual({ lan: true, skip: null, randomSide: null });
});

test("sides behind different NATs do not try LAN addresses, which are not routed between them", () => {
  expect(planPunch(offer("203.0.113.11:40000", ["10.0.1.2:40000"]), offer("203.0.113.14:41000", ["10.0.4.2:41000"]))).toEqual({ lan: false, skip: null, randomSide: null });
  // One side behind a NAT, the other behind a firewall only: still two networks.
  expect(planPunch(offer("203.0.113.11:40000", ["10.0.1.2:40000"]), offer("198.51.100.2:41000", ["198.51.100.2:41000"]))).toEqual({ lan: false, skip: null, randomSide: null });
});

test("a side whose CONNECT carries one address (an older node's) gets the plain punch, even behind the same NAT", () => {
  expect(planPunch(offer("203.0.113.11:40000", ["10.0.1.2:40000"]), offer("203.0.113.11:41000"))).toEqual({ lan: false, skip: null, randomSide: null });
});

test(`observed addresses of different families skip the punch (${PUNCH_SKIP_RULES.DIFFERENT_FAMILIES})`, () => {
  expect(planPunch(offer("203.0.113.11:40000"), offer("[2001:db8::4]:41000")).skip).toBe(PUNCH_SKIP_RULES.DIFFERENT_FAMILIES);
  expect(planPunch(offer("[2001:db8::4]:41000"), offer("203.0.113.11:40000")).skip).toBe(PUNCH_SKIP_RULES.DIFFERENT_FAMILIES);
});

test("a side whose NAT maps ports at random gets a birthday punch, and both sides agree which side that is", () => {
  const b1 = offer("203.0.113.12:40000", ["10.0.2.2:40000"], true);
  const a1 = offer("203.0.113.11:41000", ["10.0.1.2:41000"]);
  expect(planPunch(b1, a1)).toEqual({ lan: false, skip: null, randomSide: "mine" });
  expect(planPunch(a1, b1)).toEqual({ lan: false, skip: null, randomSide: "theirs" });
});

test(`two sides whose NATs both map ports at random skip the punch (${PUNCH_SKIP_RULES.RANDOM_PORTS}), but not the LAN path`, () => {
  const b1 = offer("203.0.113.12:40000", ["10.0.2.2:40000"], true);
  const g1 = offer("203.0.113.16:41000", ["10.0.6.2:41000"], true);
  expect(planPunch(b1, g1)).toEqual({ lan: false, skip: PUNCH_SKIP_RULES.RANDOM_PORTS, randomSide: null });
  expect(planPunch(g1, b1)).toEqual({ lan: false, skip: PUNCH_SKIP_RULES.RANDOM_PORTS, randomSide: null });
  // Two hosts behind the same symmetric NAT still reach each other on their LAN.
  const b2 = offer("203.0.113.12:42000", ["10.0.2.3:42000"], true);
  expect(planPunch(b1, b2)).toEqual({ lan: true, skip: PUNCH_SKIP_RULES.RANDOM_PORTS, randomSide: null });
});
