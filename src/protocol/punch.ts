// Hole punching coordinated as libp2p's DCUtR does it, over any channel a relay carries: CONNECT both ways (timed), SYNC, both dial.

import type { Socket } from "bun";
import { formatAddress, parsePeerAddress, splitAddress } from "./address";
import { ProtocolClient } from "./client";
import type { FramedConnection } from "./connection";
import type { RequestHead, ResponseHead } from "./frame";
import { IDLE_TIMEOUT_SECONDS } from "./limits";
import { SecureLink } from "./secure-link";
import { type ConnectionServeOptions, type ServedConnection, serveConnection } from "./server";
import { isP2PError, P2PError, quote } from "./errors";
import { connectOnLan, type LanListener, listenOnLan } from "./punch-lan";
import { birthdayOpen } from "./birthday-open";
import { canonicalIp } from "./ip";
import { describeSkip, type PunchOffer, type PunchPlan, PUNCH_SKIP_RULES, planPunch } from "./punch-plan";
import { type PunchedSocket, simultaneousOpen } from "./simultaneous-open";

/** How long each side waits for the other's next punch message. */
export const PUNCH_MESSAGE_TIMEOUT_MS = 5_000;
/** The most addresses one CONNECT carries: the observed one and up to three LAN addresses. */
export const MAX_PUNCH_ADDRESSES = 4;
/** A punch message is one short line. */
export const MAX_PUNCH_MESSAGE_CHARS = 512;
/** CONNECT's last word when the sender's NAT maps ports at random (see `PunchOffer.randomPorts`). */
export const RANDOM_PORTS_FLAG = "random-ports";

/**
 * `CONNECT <ip:port> [<ip:port>...] [random-ports]`: the sender's observed IP with the local port it will punch
 * from (chosen before the message: a port-preserving NAT maps it to itself), then its own LAN addresses, then
 * whether its NAT maps ports at random. A CONNECT with one address is one from a node that sends no more.
 * `SYNC`: the initiator's start signal.
 */
export type PunchMessage = { kind: "CONNECT"; addresses: string[]; randomPorts?: boolean } | { kind: "SYNC" };

/**
 * What carries punch messages between the two sides (the relay's notice channel; a test's rendezvous).
 * `receive` resolves with the next line from the other side, or rejects (TIMEOUT) after `timeoutMs`.
 */
export interface PunchChannel {
  send(line: string): Promise<void>;
  receive(timeoutMs: number): Promise<string>;
  /**
   * The IP the carrier (the relay) sees the other side come from, once it has said; undefined when it does not
   * say. A birthday punch sends hundreds of SYNs to the other side's announced IP (or port), so it runs only
   * when the announcement matches this: a peer cannot aim it at a stranger.
   */
  peerIp?(): string | undefined;
}

export interface PunchOptions {
  /** The initiator measures the round trip and sends SYNC; the responder dials when SYNC arrives. */
  role: "initiator" | "responder";
  /** The port this side punches from, announced in its CONNECT (see `choosePunchPort`). */
  localPort: number;
  /** The IP the relay sees this side connect from (its `OBSERVED`): the NAT's public address, or its own. */
  observedIp: string;
  localAddress?: string;
  /** This side's own IP on its network: announced, so a peer behind the same NAT connects to it straight. */
  lanIp?: string;
  /** This side's NAT gave the relay a port other than the one it connected from: a birthday punch (`birthdayOpen`). */
  randomPorts?: boolean;
  /** Skip a birthday punch (rule `plain-only`): a retry while a relayed link already carries the traffic. */
  plainOnly?: boolean;
  /** The responder's: a punched connection that opens after the first (a birthday punch may open several; the initiator picks one). */
  onLater?: (result: PunchResult) => void;
  messageTimeoutMs?: number;
}

export interface PunchResult {
  socket: PunchedSocket;
  /** The other side's address the connection was made to. */
  remote: string;
  /** The initiator's measured round trip through the channel (0 on the responder). */
  rttMs: number;
  /** `lan`: a plain connection to the other side's own address; `punched`: the simultaneous open. */
  path: "lan" | "punched";
}

/**
 * Runs one punch: the initiator sends CONNECT and times the answer, the responder answers CONNECT. Both then
 * follow `planPunch` on the two CONNECTs: the initiator first connects to the responder's LAN listener when
 * the plan says so; unless a rule skips it, the initiator sends SYNC and dials after half the round trip, the
 * responder dials when SYNC arrives, so the two SYNs leave at about the same time. Rejects with the channel's
 * failure, MALFORMED for a message out of turn, or UNREACHABLE when no connection opened or the plan skipped it.
 */
export async function punch(channel: PunchChannel, options: PunchOptions): Promise<PunchResult> {
  return options.role === "initiator" ? initiate(channel, options) : respond(channel, options);
}

async function initiate(channel: PunchChannel, options: PunchOptions): Promise<PunchResult> {
  const timeoutMs = options.messageTimeoutMs ?? PUNCH_MESSAGE_TIMEOUT_MS;
  const mine = offerOf(options, options.lanIp === undefined ? undefined : formatAddress(options.lanIp, options.localPort));
  const sentAt = performance.now();
  await channel.send(encodePunchMessage(messageOf(mine)));
  const theirs = offerFrom(await channel.receive(timeoutMs));
  const rttMs = performance.now() - sentAt;
  const plan = confirmedPlan(planPunch(mine, theirs), theirs, channel, options.plainOnly);
  let lanFailure = "";
  if (plan.lan) {
    try {
      const { socket, address } = await connectOnLan(theirs.local, options.localAddress);
      return { socket, remote: address, rttMs, path: "lan" };
    } catch (error) {
      if (!isP2PError(error)) throw error;
      lanFailure = `${error.message}; `;
    }
  }
  if (plan.skip) throw new P2PError("UNREACHABLE", `${lanFailure}${describeSkip(plan.skip, mine, theirs)}`);
  await channel.send(encodePunchMessage({ kind: "SYNC" }));
  const socket = await openTo(theirs.observed, plan, options, performance.now() + rttMs / 2);
  return { socket, remote: theirs.observed, rttMs, path: "punched" };
}

async function respond(channel: PunchChannel, options: PunchOptions): Promise<PunchResult> {
  const timeoutMs = options.messageTimeoutMs ?? PUNCH_MESSAGE_TIMEOUT_MS;
  const theirs = offerFrom(await channel.receive(timeoutMs));
  const planned = offerOf(options, options.lanIp === undefined ? undefined : formatAddress(options.lanIp, options.localPort));
  const plan = confirmedPlan(planPunch(planned, theirs), theirs, channel);
  // The LAN listener's port is the one announced: the plan depends on IPs only, so it stays the same.
  const listener = plan.lan ? listenOnLan(options.lanIp!, theirs.local.map((address) => splitAddress(address).ip)) : null;
  try {
    const mine = listener ? offerOf(options, listener.address) : planned;
    await channel.send(encodePunchMessage(messageOf(mine)));
    if (plan.skip && !listener) throw new P2PError("UNREACHABLE", describeSkip(plan.skip, mine, theirs));
    const next = await nextOf(listener, plan.skip ? null : channel, timeoutMs);
    if (next === null) throw new P2PError("UNREACHABLE", `the dialler made no LAN connection within ${timeoutMs} ms; ${describeSkip(plan.skip!, mine, theirs)}`);
    if (typeof next !== "string") {
      const from = theirs.local.find((address) => splitAddress(address).ip === next.remoteAddress) ?? theirs.observed;
      return { socket: next, remote: from, rttMs: 0, path: "lan" };
    }
    expectKind(decodePunchMessage(next), "SYNC");
    listener?.close();
    const socket = await openTo(theirs.observed, plan, options, performance.now());
    return { socket, remote: theirs.observed, rttMs: 0, path: "punched" };
  } finally {
    listener?.close();
  }
}

function offerOf(options: PunchOptions, local: string | undefined): PunchOffer {
  return { observed: formatAddress(options.observedIp, options.localPort), local: local === undefined ? [] : [local], randomPorts: options.randomPorts ?? false };
}

function messageOf(offer: PunchOffer): PunchMessage {
  return { kind: "CONNECT", addresses: [offer.observed, ...offer.local], ...(offer.randomPorts ? { randomPorts: true } : {}) };
}

function offerFrom(line: string): PunchOffer {
  const message = expectKind(decodePunchMessage(line), "CONNECT");
  if (message.kind !== "CONNECT") throw new P2PError("MALFORMED", "expected CONNECT");
  const [observed, ...local] = message.addresses;
  return { observed: observed!, local, randomPorts: message.randomPorts ?? false };
}

/**
 * A punch only towards the IP the relay gave for the other side (`PunchChannel.peerIp`), when it gave one: a peer
 * cannot aim even a plain punch's few SYNs at a stranger. A birthday punch's hundreds need that IP given, and are
 * not repeated on a retry (`plainOnly`).
 */
function confirmedPlan(plan: PunchPlan, theirs: PunchOffer, channel: PunchChannel, plainOnly = false): PunchPlan {
  if (plan.skip !== null) return plan;
  const seen = channel.peerIp?.();
  const contradicted = seen !== undefined && canonicalIp(seen) !== canonicalIp(splitAddress(theirs.observed).ip);
  if (contradicted || (plan.randomSide !== null && seen === undefined)) return { ...plan, skip: PUNCH_SKIP_RULES.UNCONFIRMED_IP, randomSide: null };
  if (plainOnly && plan.randomSide !== null) return { ...plan, skip: PUNCH_SKIP_RULES.PLAIN_ONLY, randomSide: null };
  return plan;
}

function openTo(address: string, plan: PunchPlan, options: PunchOptions, startAt: number): Promise<PunchedSocket> {
  const { ip, port } = parsePeerAddress(address, "punch address");
  const remote = { hostname: ip, port };
  if (plan.randomSide === null) return simultaneousOpen({ localPort: options.localPort, localAddress: options.localAddress, remote, startAt });
  const onLater = options.onLater;
  return birthdayOpen({
    side: plan.randomSide === "mine" ? "random" : "kept",
    localPort: options.localPort,
    localAddress: options.localAddress,
    remote,
    startAt,
    ...(onLater ? { onLater: (socket: PunchedSocket) => onLater({ socket, remote: address, rttMs: 0, path: "punched" }) } : {}),
  });
}

/**
 * What comes first on the responder's side: the dialler's LAN connection, its SYNC line, or (with no channel
 * to wait on) null after `timeoutMs`. A line that loses the race is not waited for.
 */
async function nextOf(listener: LanListener | null, channel: PunchChannel | null, timeoutMs: number): Promise<PunchedSocket | string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const line = channel?.receive(timeoutMs);
  line?.catch(() => {}); // a SYNC that never comes once the LAN connection won: its timeout is no failure
  const waits: Promise<PunchedSocket | string | null>[] = [line ?? new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)))];
  if (listener) waits.push(listener.accepted);
  try {
    return await Promise.race(waits);
  } finally {
    clearTimeout(timer);
  }
}

export function encodePunchMessage(message: PunchMessage): string {
  if (message.kind === "SYNC") return "SYNC";
  return `CONNECT ${message.addresses.join(" ")}${message.randomPorts ? ` ${RANDOM_PORTS_FLAG}` : ""}`;
}

/** Parses one punch message; MALFORMED for anything else (every address is checked as a peer's). */
export function decodePunchMessage(line: string): PunchMessage {
  if (line.length > MAX_PUNCH_MESSAGE_CHARS) throw new P2PError("MALFORMED", `punch message of ${line.length} characters, at most ${MAX_PUNCH_MESSAGE_CHARS}`);
  const [kind, ...rest] = line.trim().split(/ +/);
  if (kind === "SYNC" && rest.length === 0) return { kind: "SYNC" };
  const randomPorts = rest.at(-1) === RANDOM_PORTS_FLAG;
  const addresses = randomPorts ? rest.slice(0, -1) : rest;
  if (kind === "CONNECT" && addresses.length >= 1 && addresses.length <= MAX_PUNCH_ADDRESSES) {
    const parsed = addresses.map((address) => { const { ip, port } = parsePeerAddress(address, "punch address"); return formatAddress(ip, port); });
    return { kind: "CONNECT", addresses: parsed, ...(randomPorts ? { randomPorts: true } : {}) };
  }
  throw P2PError.invalid("punch message", quote(line), `CONNECT <ip:port> (1 to ${MAX_PUNCH_ADDRESSES} addresses, then ${RANDOM_PORTS_FLAG} or nothing) or SYNC`);
}

function expectKind(message: PunchMessage, kind: PunchMessage["kind"]): PunchMessage {
  if (message.kind !== kind) throw new P2PError("MALFORMED", `expected the other side's ${kind}, got ${message.kind}`);
  return message;
}

/** The calling side's link over a punched socket (the downloader's); on a private network it completes the handshake first. */
export async function punchedClient(result: PunchResult, options: { networkKey?: Uint8Array } = {}): Promise<ProtocolClient> {
  const socket = result.socket as unknown as Socket<FramedConnection<ResponseHead>>;
  const link = options.networkKey ? new SecureLink({ key: options.networkKey, initiator: true, peer: result.remote }) : undefined;
  const client = new ProtocolClient(socket, result.remote, IDLE_TIMEOUT_SECONDS * 1000, undefined, link);
  try {
    await link?.ready;
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/** Serves `options.ops` on a punched socket (the holder's), as on any accepted connection. */
export function servePunched(result: PunchResult, options: ConnectionServeOptions): ServedConnection {
  return serveConnection(result.socket as unknown as Socket<FramedConnection<RequestHead>>, options);
}

/**
 * A local port to punch from: one the system hands out as free right now (it may be taken again before the
 * punch binds it; the punch then fails and is retried with another).
 */
export function choosePunchPort(localAddress = "0.0.0.0"): number {
  const probe = Bun.listen({ hostname: localAddress, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}
