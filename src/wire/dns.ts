// The DNS link (node or anyone to the introducer over TCP): JOIN, LEAVE (DELETE), PEERS and PING, each op's arguments and rows in one place.

import { parsePeerId, parsePeerIp, parsePort, PEER_PORT } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { defineOp, NO_ARGS, PING, replyLines, type OpDef } from "./op";

/** One registered peer as the introducer hands it out. `peerId` is any id a peer registered with. */
export type DnsPeerRow = { peerId: string; ip: string; port: number };

/**
 * A list of peers, one a line in the original format `<n>,<peer_id>,<ip>,<port>`, n counting
 * from 1. Lines a reader cannot take as a row (another introducer's format) are kept in `skipped`.
 */
export type DnsPeerRows = { rows: DnsPeerRow[]; skipped: string[] };

/** `also`: the address is a dual-stack member's in its other family, registered under the id bound to it: PEERS lists it (edges find relays so), JOIN never hands it out (it is no ring contact). */
export type DnsJoinArgs = { peerId: string; ip: string; port: number; also?: boolean };

/** JOIN's optional fourth argument: the address is an `also` one (see DnsJoinArgs). The original 3-argument JOIN stays as it was. */
export const ALSO_FLAG = "also";

const LEAVE_SPEC = {
  minArgs: 1,
  maxArgs: 1,
  encodeArgs: (peerId: string) => ({ args: [peerId] }),
  decodeArgs: (args: readonly string[]) => parsePeerId(args[0]!),
  encodeReply: (peerId: string) => ({ lines: [`removed ${peerId}`] }),
  decodeReply: (body: Uint8Array) => (replyLines(body)[0] ?? "").replace(/^removed /, ""),
};

export const DNS = {
  PING,

  /**
   * Registers (or refreshes: the heartbeat) a peer; the reply is up to 5 other live peers, never `also` ones. The
   * port defaults to 7495. A fourth argument `also` registers a dual-stack member's address in its other family.
   */
  JOIN: defineOp<DnsJoinArgs, DnsPeerRows>({
    name: "JOIN",
    usage: "JOIN <peer_id> <ip-addr> [<port> [also]]",
    minArgs: 2,
    maxArgs: 4,
    encodeArgs: ({ peerId, ip, port, also }) => ({ args: [peerId, ip, String(port), ...(also ? [ALSO_FLAG] : [])] }),
    decodeArgs: (args) => {
      if (args[3] !== undefined && args[3] !== ALSO_FLAG) throw P2PError.invalid("JOIN's fourth argument", args[3], `'${ALSO_FLAG}' or nothing`);
      return {
        peerId: parsePeerId(args[0]!),
        ip: parsePeerIp(args[1]!),
        port: args[2] === undefined ? PEER_PORT : parsePort(args[2]),
        also: args[3] === ALSO_FLAG,
      };
    },
    encodeReply: encodeRows,
    decodeReply: decodeRows,
  }),

  /** Removes a peer (itself leaving, or one found dead); 404 when it is not registered. The reply is the id removed. */
  LEAVE: defineOp<string, string>({ name: "LEAVE", usage: "LEAVE <peer_id>", ...LEAVE_SPEC }),
  /** The original design's name for LEAVE. */
  DELETE: defineOp<string, string>({ name: "DELETE", usage: "DELETE <peer_id>", ...LEAVE_SPEC }),

  /** Every live peer. */
  PEERS: defineOp<void, DnsPeerRows>({
    name: "PEERS",
    usage: "PEERS",
    ...NO_ARGS,
    encodeReply: encodeRows,
    decodeReply: decodeRows,
  }),
} satisfies Record<string, OpDef<any, any>>;

function encodeRows({ rows }: DnsPeerRows) {
  return { lines: rows.map((row, index) => `${index + 1},${row.peerId},${row.ip},${row.port}`) };
}

function decodeRows(body: Uint8Array): DnsPeerRows {
  const rows: DnsPeerRow[] = [];
  const skipped: string[] = [];
  for (const line of replyLines(body)) {
    try {
      rows.push(parseRow(line));
    } catch {
      skipped.push(line);
    }
  }
  return { rows, skipped };
}

function parseRow(line: string): DnsPeerRow {
  const parts = line.split(",");
  if (parts.length !== 4) throw new P2PError("MALFORMED", `bad peer row '${line.slice(0, 120)}'`);
  const [, peerId, ip, port] = parts as [string, string, string, string];
  return { peerId: parsePeerId(peerId), ip: parsePeerIp(ip), port: parsePort(port) };
}
