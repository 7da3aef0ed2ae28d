// The node-to-node ops: one handler per op, each a thin decode → ring handler → encode.

import type { OpTable } from "../protocol/server";
import type { RingHandlers } from "./ring/transport";
import { decodeJson, encodeJson, parseAvoid, parseHandover, parseKey, parseRecordEntries, peerFromArgs, peerLine } from "./ring-wire";

/** The ring answers UNAVAILABLE itself while it is still joining or after it left. */
export function ringOps(ring: RingHandlers): OpTable {
  return {
    PING: { usage: "PING", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["PONG"] }) },
    FIND_SUCCESSOR: {
      usage: "FIND_SUCCESSOR <key> [<avoid ip:port,...>]",
      minArgs: 1,
      maxArgs: 2,
      handle: ({ args }) => {
        const step = ring.handleFindSuccessorStep(parseKey(args[0]!), parseAvoid(args[1]));
        return { lines: [peerLine(step.done ? "successor" : "next", step.peer)] };
      },
    },
    GET_NEIGHBOURS: {
      usage: "GET_NEIGHBOURS",
      minArgs: 0,
      maxArgs: 0,
      handle: () => {
        const { predecessor, successors } = ring.handleGetNeighbours();
        const lines = predecessor ? [peerLine("predecessor", predecessor)] : [];
        return { lines: [...lines, ...successors.map((peer) => peerLine("successor", peer))] };
      },
    },
    UPDATE_PREDECESSOR: {
      usage: "UPDATE_PREDECESSOR <id> <ip> <port>",
      minArgs: 3,
      maxArgs: 3,
      handle: ({ args }) => {
        ring.handleNotify(peerFromArgs(args[0]!, args[1]!, args[2]!));
        return {};
      },
    },
    PUT_RECORDS: {
      usage: "PUT_RECORDS <length> + JSON body",
      minArgs: 0,
      maxArgs: 0,
      body: true,
      handle: ({ body }) => ({ lines: [String(ring.handlePutRecords(parseRecordEntries(decodeJson(body, "PUT_RECORDS body"))))] }),
    },
    GET_RECORDS: {
      usage: "GET_RECORDS <key>",
      minArgs: 1,
      maxArgs: 1,
      handle: ({ args }) => ({ body: encodeJson(ring.handleGetRecords(parseKey(args[0]!))) }),
    },
    LEAVING: {
      usage: "LEAVING <id> <ip> <port> <length> + JSON body",
      minArgs: 3,
      maxArgs: 3,
      body: true,
      handle: ({ args, body }) => {
        const leaver = peerFromArgs(args[0]!, args[1]!, args[2]!);
        const { predecessor, successors } = parseHandover(decodeJson(body, "LEAVING body"));
        ring.handleLeaving(leaver, predecessor, successors);
        return {};
      },
    },
  };
}
