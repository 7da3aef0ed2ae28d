// The relay link (an edge node or a dialler to a relaying ring member, TCP 7495): RESERVE, CIRCUIT, CIRCUIT_ACCEPT, BRIDGE, and the notices.

import { formatAddress, parsePeerAddress, parsePort } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { canonicalIp } from "../protocol/ip";
import { decodePunchMessage, encodePunchMessage, MAX_PUNCH_ADDRESSES } from "../protocol/punch";
import { EDGE_ID_PATTERN } from "../protocol/relayed-address";
import { PUBLIC_KEY_PATTERN } from "../model/public-key";
import { defineOp, replyLines } from "./op";

/** A circuit's token: 32 lowercase hex digits, fresh for each circuit, known only to the relay and the edge it notified. */
export const TOKEN_PATTERN = /^[0-9a-f]{32}$/;

/**
 * How long a relay waits for the edge to answer an INCOMING notice with CIRCUIT_ACCEPT. A dialler waits
 * CIRCUIT_OPEN_TIMEOUT_MS for its CIRCUIT reply (a little more: the relay's 503 should arrive first).
 */
export const CIRCUIT_ACCEPT_TIMEOUT_MS = 5_000;
export const CIRCUIT_OPEN_TIMEOUT_MS = CIRCUIT_ACCEPT_TIMEOUT_MS + 2_000;

/**
 * A notice a relay pushes down an edge's reservation, as one 202 data line: `<KIND> <arg> ...`. Known kinds:
 * `RESERVED <relayed address>` (first, once), `INCOMING <token> [<dialler ip>]` (answer: CIRCUIT_ACCEPT <token> on a new
 * connection; the IP is the one the relay sees the dialler come from, what a hole punch may send SYNs to),
 * `DIAL <ip:port> <token>` (a connection reversal: connect there and present REVERSED <token>).
 */
export type Notice = { kind: string; args: string[] };

export function encodeNotice({ kind, args }: Notice): string {
  return [kind, ...args].join(" ");
}

/** A notice line; throws MALFORMED for one that is not `<KIND> <args>` in capitals and printable words. */
export function decodeNotice(line: string): Notice {
  const [kind, ...args] = line.split(" ");
  if (!kind || !/^[A-Z_]{1,32}$/.test(kind) || args.length > 8) throw new P2PError("MALFORMED", `bad relay notice '${line.slice(0, 80)}'`);
  return { kind, args };
}

const checked = (pattern: RegExp, what: string, expected: string) => (value: string) => {
  if (!pattern.test(value)) throw P2PError.invalid(what, value, expected);
  return value;
};
const publicKey = checked(PUBLIC_KEY_PATTERN, "public key", "64 hex digits");
const edgeId = checked(EDGE_ID_PATTERN, "edge id", "40 lowercase hex digits");
const token = checked(TOKEN_PATTERN, "circuit token", "32 lowercase hex digits");

export const RELAY = {
  /**
   * Asks for a reservation: the reply stays open as the edge's notice channel, each notice a `202` data line
   * (`RESERVED <relayed address>` first), with the server's keepalives between them. It ends with 200 when the
   * relay drops it, 409 when the edge id holds one here already, 503 with the reason when the relay is full or relays nothing.
   */
  RESERVE: defineOp<string, void>({
    name: "RESERVE",
    usage: "RESERVE <public key>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (key) => ({ args: [key] }),
    decodeArgs: (args) => publicKey(args[0]!),
    encodeReply: () => ({ lines: ["reservation ended"] }),
    decodeReply: () => undefined,
  }),

  /**
   * Opens a circuit to the edge `edge id` reserved here: after the 200 the connection is a byte pipe to the edge.
   * The reply's second line is the IP the relay sees the edge come from (what a hole punch may send SYNs to; an
   * older relay sends none: undefined). 404 for an edge unknown here, 503 over a limit.
   */
  CIRCUIT: defineOp<string, string | undefined>({
    name: "CIRCUIT",
    usage: "CIRCUIT <edge id>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (id) => ({ args: [id] }),
    decodeArgs: (args) => edgeId(args[0]!),
    encodeReply: (edgeIp) => ({ lines: edgeIp === undefined ? ["circuit open"] : ["circuit open", edgeIp] }),
    decodeReply: (body, from) => {
      const [status, edgeIp] = replyLines(body);
      if (status !== "circuit open") throw P2PError.badAnswer(from, "CIRCUIT", "without 'circuit open'");
      return edgeIp === undefined ? undefined : (canonicalIp(edgeIp) ?? undefined);
    },
  }),

  /**
   * Asks the relay to connect its edge `edge id` to `ip:port`, a p2p peer of the address family the edge has no
   * route to (an IPv6-only edge and an IPv4 ring member): after the 200 the connection is a byte pipe to that peer.
   * Only from the IP the edge's reservation came from. 404 for an edge not reserved here; 409 from another IP, or for a
   * peer of the edge's own family (it connects there itself); 503 when the peer does not answer PING, or over a limit.
   */
  BRIDGE: defineOp<{ edgeId: string; target: string }, void>({
    name: "BRIDGE",
    usage: "BRIDGE <edge id> <ip:port>",
    minArgs: 2,
    maxArgs: 2,
    encodeArgs: ({ edgeId: id, target }) => ({ args: [id, target] }),
    decodeArgs: (args) => {
      const { ip, port } = parsePeerAddress(args[1]!, "peer to bridge to");
      return { edgeId: edgeId(args[0]!), target: formatAddress(ip, port) };
    },
    encodeReply: () => ({ lines: ["bridge open"] }),
    decodeReply: (body, from) => {
      if (replyLines(body)[0] !== "bridge open") throw P2PError.badAnswer(from, "BRIDGE", "without 'bridge open'");
    },
  }),

  /**
   * Connection reversal: asks the relay to tell its edge `edge id` to dial the caller back, at the IP the relay
   * sees the caller come from and `port`, and present `token` there (`REVERSED`, src/protocol/reversal.ts).
   * 200 once the notice is pushed (the dial-back comes, or not, on its own); 404 for an edge unknown here.
   */
  CONNECT_BACK: defineOp<{ edgeId: string; port: number; token: string }, void>({
    name: "CONNECT_BACK",
    usage: "CONNECT_BACK <edge id> <port> <token>",
    minArgs: 3,
    maxArgs: 3,
    encodeArgs: ({ edgeId: id, port, token: value }) => ({ args: [id, String(port), value] }),
    decodeArgs: (args) => ({ edgeId: edgeId(args[0]!), port: parsePort(args[1]!, "port to dial back"), token: token(args[2]!) }),
    encodeReply: () => ({ lines: ["asked"] }),
    decodeReply: () => undefined,
  }),

  /**
   * Hole punching, spoken over a circuit to an edge (src/protocol/punch.ts): the dialler sends its `CONNECT <ip:port>`
   * and gets the edge's own `CONNECT <ip:port>` as the reply (the round trip it measures), then `SYNC` (reply
   * empty), on which the edge dials; the dialler dials half a round trip after sending it.
   */
  PUNCH: defineOp<string, string | null>({
    name: "PUNCH",
    usage: "PUNCH CONNECT <ip:port>... [random-ports] | PUNCH SYNC",
    minArgs: 1,
    maxArgs: 2 + MAX_PUNCH_ADDRESSES, // the addresses, then `random-ports`
    encodeArgs: (line) => ({ args: line.split(" ") }),
    decodeArgs: (args) => encodePunchMessage(decodePunchMessage(args.join(" "))),
    encodeReply: (line) => ({ lines: line === null ? [] : [line] }),
    decodeReply: (body) => {
      const line = replyLines(body)[0];
      return line === undefined ? null : encodePunchMessage(decodePunchMessage(line));
    },
  }),

  /** The edge's answer to `INCOMING <token>`, on a connection of its own: after the 200 it is the edge's end of the pipe. */
  CIRCUIT_ACCEPT: defineOp<string, void>({
    name: "CIRCUIT_ACCEPT",
    usage: "CIRCUIT_ACCEPT <token>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (value) => ({ args: [value] }),
    decodeArgs: (args) => token(args[0]!),
    encodeReply: () => ({ lines: ["accepted"] }),
    decodeReply: () => undefined,
  }),
};
