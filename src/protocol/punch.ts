// Hole punching coordinated as libp2p's DCUtR does it, over any channel a relay carries: CONNECT both ways (timed), SYNC, both dial.

import type { Socket } from "bun";
import { formatAddress, parsePeerAddress } from "./address";
import { ProtocolClient } from "./client";
import type { FramedConnection } from "./connection";
import type { RequestHead, ResponseHead } from "./frame";
import { IDLE_TIMEOUT_SECONDS } from "./limits";
import { SecureLink } from "./secure-link";
import { type ConnectionServeOptions, type ServedConnection, serveConnection } from "./server";
import { P2PError, quote } from "./errors";
import { type PunchedSocket, simultaneousOpen } from "./simultaneous-open";

/** How long each side waits for the other's next punch message. */
export const PUNCH_MESSAGE_TIMEOUT_MS = 5_000;
/** The most addresses one CONNECT carries. */
export const MAX_PUNCH_ADDRESSES = 4;
/** A punch message is one short line. */
export const MAX_PUNCH_MESSAGE_CHARS = 512;

/**
 * `CONNECT <ip:port>...`: the sender's addresses as the world sees them, each its observed IP with the local
 * port it will punch from (chosen before the message: a port-preserving NAT maps it to itself). `SYNC`: the
 * initiator's start signal.
 */
export type PunchMessage = { kind: "CONNECT"; addresses: string[] } | { kind: "SYNC" };

/**
 * What carries punch messages between the two sides (the relay's notice channel; a test's rendezvous).
 * `receive` resolves with the next line from the other side, or rejects (TIMEOUT) after `timeoutMs`.
 */
export interface PunchChannel {
  send(line: string): Promise<void>;
  receive(timeoutMs: number): Promise<string>;
}

export interface PunchOptions {
  /** The initiator measures the round trip and sends SYNC; the responder dials when SYNC arrives. */
  role: "initiator" | "responder";
  /** The port this side punches from, announced in its CONNECT (see `choosePunchPort`). */
  localPort: number;
  /** The IP the relay sees this side connect from (its `OBSERVED`): the NAT's public address, or its own. */
  observedIp: string;
  localAddress?: string;
  messageTimeoutMs?: number;
}

export interface PunchResult {
  socket: PunchedSocket;
  /** The other side's address the connection was made to. */
  remote: string;
  /** The initiator's measured round trip through the channel (0 on the responder). */
  rttMs: number;
}

/**
 * Runs one punch: the initiator sends CONNECT and times the answer, the responder answers CONNECT; the
 * initiator sends SYNC and dials after half the round trip, the responder dials when SYNC arrives, so the
 * two SYNs leave at about the same time. Rejects with the channel's failure, MALFORMED for a message out of
 * turn, or UNREACHABLE when no connection opened (always so behind a symmetric NAT: its mapped port is not
 * the one announced).
 */
export async function punch(channel: PunchChannel, options: PunchOptions): Promise<PunchResult> {
  const timeoutMs = options.messageTimeoutMs ?? PUNCH_MESSAGE_TIMEOUT_MS;
  const mine: PunchMessage = { kind: "CONNECT", addresses: [formatAddress(options.observedIp, options.localPort)] };
  let theirs: PunchMessage;
  let rttMs = 0;
  let startAt: number;
  if (options.role === "initiator") {
    const sentAt = performance.now();
    await channel.send(encodePunchMessage(mine));
    theirs = expectKind(decodePunchMessage(await channel.receive(timeoutMs)), "CONNECT");
    rttMs = performance.now() - sentAt;
    await channel.send(encodePunchMessage({ kind: "SYNC" }));
    startAt = performance.now() + rttMs / 2;
  } else {
    theirs = expectKind(decodePunchMessage(await channel.receive(timeoutMs)), "CONNECT");
    await channel.send(encodePunchMessage(mine));
    expectKind(decodePunchMessage(await channel.receive(timeoutMs)), "SYNC");
    startAt = performance.now();
  }
  const remote = theirs.kind === "CONNECT" ? theirs.addresses[0]! : "";
  const { ip, port } = parsePeerAddress(remote, "punch address");
  const socket = await simultaneousOpen({ localPort: options.localPort, localAddress: options.localAddress, remote: { hostname: ip, port }, startAt });
  return { socket, remote, rttMs };
}

export function encodePunchMessage(message: PunchMessage): string {
  return message.kind === "SYNC" ? "SYNC" : `CONNECT ${message.addresses.join(" ")}`;
}

/** Parses one punch message; MALFORMED for anything else (every address is checked as a peer's). */
export function decodePunchMessage(line: string): PunchMessage {
  if (line.length > MAX_PUNCH_MESSAGE_CHARS) throw new P2PError("MALFORMED", `punch message of ${line.length} characters, at most ${MAX_PUNCH_MESSAGE_CHARS}`);
  const [kind, ...rest] = line.trim().split(/ +/);
  if (kind === "SYNC" && rest.length === 0) return { kind: "SYNC" };
  if (kind === "CONNECT" && rest.length >= 1 && rest.length <= MAX_PUNCH_ADDRESSES) {
    return { kind: "CONNECT", addresses: rest.map((address) => { const { ip, port } = parsePeerAddress(address, "punch address"); return formatAddress(ip, port); }) };
  }
  throw P2PError.invalid("punch message", quote(line), `CONNECT <ip:port> (1 to ${MAX_PUNCH_ADDRESSES} addresses) or SYNC`);
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
