// What a hole punch tries, decided alike on both sides from the two CONNECTs: the other side's LAN address first, the punch itself only when it can work.

import { isIP } from "node:net";
import { splitAddress } from "./address";

/** A side's CONNECT: its observed address (first), its own LAN addresses, and whether its NAT maps ports at random. */
export interface PunchOffer {
  /** The IP the relay sees this side come from, with the port it punches from. */
  observed: string;
  /** This side's own addresses (its IP on its network, with the port it punches from or listens on): at most MAX_PUNCH_ADDRESSES - 1. */
  local: string[];
  /** Its NAT gave a connection a port other than the one it was made from: the observed address cannot be punched. */
  randomPorts: boolean;
}

/**
 * Why a punch is not even started, each a named rule: the two observed addresses are of different families
 * (no SYN of one reaches the other), both sides' NATs map ports at random (two symmetric NATs: guessing would
 * have to meet a random port with a random port), or one side's NAT maps ports at random and its relay did not
 * confirm the IP the other side is to send hundreds of SYNs to (see `punch`).
 */
export const PUNCH_SKIP_RULES = {
  DIFFERENT_FAMILIES: "different-families",
  RANDOM_PORTS: "random-ports",
  UNCONFIRMED_IP: "unconfirmed-ip",
  /** A retry on a link that already runs (through a relay) punches plainly or not at all. */
  PLAIN_ONLY: "plain-only",
} as const;
export type PunchSkipRule = (typeof PUNCH_SKIP_RULES)[keyof typeof PUNCH_SKIP_RULES];

export interface PunchPlan {
  /**
   * Connect straight to the other side's LAN addresses first: both are behind the same NAT (equal observed
   * IPs: a router rarely hairpins) or neither is behind one (each is seen at its own IP: on one network, a
   * firewall between them never sees the connection). Otherwise a LAN address is no use: it is not routed.
   */
  lan: boolean;
  /** Why the simultaneous open to the observed address is skipped; null to run it. */
  skip: PunchSkipRule | null;
  /**
   * Exactly one side's NAT maps ports at random: the punch is a birthday one (`birthdayOpen`), many connections
   * from that side to the other's announced address and many from the other to guessed ports. Null: a plain one.
   */
  randomSide: "mine" | "theirs" | null;
}

/** The plan for a punch between `mine` and `theirs`; symmetric, so both sides reach the same one without another message. */
export function planPunch(mine: PunchOffer, theirs: PunchOffer): PunchPlan {
  const myIp = splitAddress(mine.observed).ip;
  const theirIp = splitAddress(theirs.observed).ip;
  const hasLan = mine.local.length > 0 && theirs.local.length > 0;
  const lan = hasLan && (myIp === theirIp || (unNatted(mine) && unNatted(theirs)));
  let skip: PunchSkipRule | null = null;
  if (isIP(myIp) !== isIP(theirIp)) skip = PUNCH_SKIP_RULES.DIFFERENT_FAMILIES;
  else if (mine.randomPorts && theirs.randomPorts) skip = PUNCH_SKIP_RULES.RANDOM_PORTS;
  const randomSide = skip !== null ? null : mine.randomPorts ? "mine" : theirs.randomPorts ? "theirs" : null;
  return { lan, skip, randomSide };
}

/** What a skipped punch's error says. */
export function describeSkip(rule: PunchSkipRule, mine: PunchOffer, theirs: PunchOffer): string {
  if (rule === PUNCH_SKIP_RULES.DIFFERENT_FAMILIES) return `punch skipped (${rule}): ${mine.observed} cannot reach ${theirs.observed}`;
  if (rule === PUNCH_SKIP_RULES.PLAIN_ONLY) return `punch skipped (${rule}): a retry does not repeat a birthday punch's hundreds of SYNs`;
  if (rule === PUNCH_SKIP_RULES.UNCONFIRMED_IP) return `punch skipped (${rule}): the relay did not confirm that the other side is at ${splitAddress(theirs.observed).ip}, so it may be a stranger's address`;
  return `punch skipped (${rule}): both sides' NATs map each connection to a port of their own, so no port can be announced or guessed`;
}

function unNatted(offer: PunchOffer): boolean {
  const observedIp = splitAddress(offer.observed).ip;
  return offer.local.some((address) => splitAddress(address).ip === observedIp);
}
