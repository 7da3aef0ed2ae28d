// The ring link (node to node over TCP): every op's arguments and reply, encoded and checked in one place, with the server table and the client built on them.

import { formatAddress, splitAddress } from "../protocol/address";
import { canonicalIp } from "../protocol/ip";
import { P2PError, quote } from "../protocol/errors";
import { edgeIdOf, parseRelayed } from "../protocol/relayed-address";
import type { OpTable } from "../protocol/server";
import { PUBLIC_KEY_PATTERN } from "../model/public-key";
import type { RingId } from "../model/id";
import type { RecordEntry } from "../model/record";
import type { LookupStep, Neighbours, RingHandlers, RingTransport } from "../model/ring-transport";
import type { Peer } from "../model/peer";
import { decodeJson, encodeJson, parseAddress, parseKey, parsePeerJson, parsePeerLine, peerArgs, peerFromArgs, peerLine } from "./codec";
import { defineOp, EMPTY_REPLY, NO_ARGS, opTable, replyLines, serveOp, type SendOp } from "./op";
import { checkBatch, newestThatFit, parseRecordEntries, recordBatches } from "./records";

/** Most dead addresses a lookup step may be asked to avoid. */
export const MAX_AVOID = 32;
/** Most successors a LEAVING hand-over may name. */
export const MAX_HANDOVER_SUCCESSORS = 64;
/** Successors of a LEAVING hand-over that the receiver checks (PING) and takes; the rest are ignored. */
export const MAX_CHECKED_HANDOVER_SUCCESSORS = 8;

export type LeavingArgs = { leaver: Peer; predecessor: Peer | null; successors: Peer[] };

export const RING = {
  /**
   * PING answers PONG, as on every link. `PING time` (true) asks for the answerer's clock too: PONG, then
   * `time,<ms since the epoch>`, so a node can tell how far its clock is from its peers'.
   */
  PING: defineOp<boolean, number | null>({
    name: "PING",
    usage: "PING [time]",
    minArgs: 0,
    maxArgs: 1,
    encodeArgs: (askTime) => ({ args: askTime ? ["time"] : [] }),
    decodeArgs: (args) => {
      if (args[0] === undefined) return false;
      if (args[0].toLowerCase() === "time") return true;
      throw new P2PError("MALFORMED", `PING takes nothing or 'time', not '${args[0].slice(0, 40)}'`);
    },
    encodeReply: (time) => ({ lines: time === null ? ["PONG"] : ["PONG", `time,${time}`] }),
    decodeReply: (body, from, askTime) => (askTime ? parsePeerTime(replyLines(body), from) : null),
  }),

  /** One hop of a lookup; the peer skips every address in `avoid` (known dead). */
  FIND_SUCCESSOR: defineOp<{ key: RingId; avoid: string[] }, LookupStep>({
    name: "FIND_SUCCESSOR",
    usage: "FIND_SUCCESSOR <key> [<avoid ip:port,...>]",
    minArgs: 1,
    maxArgs: 2,
    encodeArgs: ({ key, avoid }) => ({ args: avoid.length > 0 ? [key, avoid.slice(0, MAX_AVOID).join(",")] : [key] }),
    decodeArgs: (args) => ({ key: parseKey(args[0]!), avoid: parseAvoid(args[1]) }),
    encodeReply: (step) => ({ lines: [peerLine(step.done ? "successor" : "next", step.peer)] }),
    decodeReply: (body, from) => {
      const [line] = replyLines(body);
      if (!line) throw P2PError.badAnswer(from, "FIND_SUCCESSOR", "with nothing");
      const { role, peer } = parsePeerLine(line);
      return { done: role === "successor", peer };
    },
  }),

  GET_NEIGHBOURS: defineOp<void, Neighbours>({
    name: "GET_NEIGHBOURS",
    usage: "GET_NEIGHBOURS",
    ...NO_ARGS,
    encodeReply: ({ predecessor, successors }) => {
      const lines = predecessor ? [peerLine("predecessor", predecessor)] : [];
      return { lines: [...lines, ...successors.map((peer) => peerLine("successor", peer))] };
    },
    decodeReply: (body) => {
      const neighbours: Neighbours = { predecessor: null, successors: [] };
      for (const line of replyLines(body)) {
        const { role, peer } = parsePeerLine(line);
        if (role === "predecessor") neighbours.predecessor = peer;
        else neighbours.successors.push(peer);
      }
      return neighbours;
    },
  }),

  /** Chord's notify: "`candidate` thinks it is your predecessor". */
  UPDATE_PREDECESSOR: defineOp<Peer, void>({
    name: "UPDATE_PREDECESSOR",
    usage: "UPDATE_PREDECESSOR <id> <ip> <port>",
    minArgs: 3,
    maxArgs: 3,
    encodeArgs: (candidate) => ({ args: peerArgs(candidate) }),
    decodeArgs: (args) => peerFromArgs(args[0]!, args[1]!, args[2]!),
    ...EMPTY_REPLY,
  }),

  /** Merge into the peer's store; the reply is how many entries changed there. */
  PUT_RECORDS: defineOp<RecordEntry[], number>({
    name: "PUT_RECORDS",
    usage: "PUT_RECORDS <length> + JSON body",
    minArgs: 0,
    maxArgs: 0,
    body: true,
    encodeArgs: (entries) => ({ args: [], body: encodeJson(checkBatch(entries)) }),
    decodeArgs: (_args, body) => parseRecordEntries(decodeJson(body, "PUT_RECORDS body")),
    encodeReply: (changed) => ({ lines: [String(changed)] }),
    decodeReply: (body) => Number(replyLines(body)[0] ?? 0),
  }),

  /** The live members of a key the peer holds. */
  GET_RECORDS: defineOp<RingId, RecordEntry[]>({
    name: "GET_RECORDS",
    usage: "GET_RECORDS <key>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (key) => ({ args: [key] }),
    decodeArgs: (args) => parseKey(args[0]!),
    // The receiver refuses more than a message's worth, so the sender never sends more: past it, the
    // newest writes are kept (a key that large is a flood; its oldest entries matter least).
    encodeReply: (entries) => ({ body: encodeJson(newestThatFit(entries)) }),
    decodeReply: (body, from) => parseRecordEntries(decodeJson(body, `GET_RECORDS reply from ${from}`)),
  }),

  /** The node's Ed25519 public key (64 hex digits): a store learns a holder's key by asking the holder's own address. */
  KEY: defineOp<void, string>({
    name: "KEY",
    usage: "KEY",
    ...NO_ARGS,
    encodeReply: (publicKey) => ({ lines: [publicKey] }),
    decodeReply: (body, from) => {
      const key = replyLines(body)[0] ?? "";
      if (!PUBLIC_KEY_PATTERN.test(key)) throw P2PError.badAnswer(from, "KEY", `with '${quote(key)}', not 64 hex digits`);
      // Through a relay, the answer must be the key the edge id in the address is bound to: the relay cannot answer for its edge.
      const relayed = parseRelayed(from);
      if (relayed && edgeIdOf(key) !== relayed.edgeId) throw P2PError.badAnswer(from, "KEY", `with a key whose edge id is ${edgeIdOf(key)}, not ${relayed.edgeId}`);
      return key;
    },
  }),

  /** `leaver` is going; it hands over its own neighbours so the ring closes at once. */
  LEAVING: defineOp<LeavingArgs, void>({
    name: "LEAVING",
    usage: "LEAVING <id> <ip> <port> <length> + JSON body",
    minArgs: 3,
    maxArgs: 3,
    body: true,
    encodeArgs: ({ leaver, predecessor, successors }) => ({
      args: peerArgs(leaver),
      body: encodeJson({ predecessor, successors: successors.slice(0, MAX_HANDOVER_SUCCESSORS) }),
    }),
    decodeArgs: (args, body) => ({ leaver: peerFromArgs(args[0]!, args[1]!, args[2]!), ...parseHandover(decodeJson(body, "LEAVING body")) }),
    ...EMPTY_REPLY,
  }),
};

/**
 * How a node checks a claim about another peer before it believes it: the named peer is asked. Without
 * it (`ringOps(ring)` alone, as in-process tests do) every claim is believed.
 */
export interface PeerChecks {
  /**
   * Whether `peer` answers PING at its address, asked because a request from `requester` (an IP) named
   * it. Throws UNAVAILABLE, sending nothing, when that would overspend the node's connection budget.
   */
  answers(peer: Peer, requester: string): Promise<boolean>;
  /** Whether `peer` is out of the ring: it answers ring ops UNAVAILABLE (it has left), or nothing at all. Throws as `answers`. */
  hasLeft(peer: Peer, requester: string): Promise<boolean>;
  /** This node's public key, the answer to KEY. */
  readonly publicKey: string;
  /** What of a PUT_RECORDS batch this node agrees to store (signed by their holders, not dated ahead); throws when it refuses it all. */
  admit(entries: RecordEntry[]): Promise<RecordEntry[]>;
}

/** The server side: each op parsed, handed to the ring, its result encoded. The ring answers UNAVAILABLE itself while joining or after leaving. */
export function ringOps(ring: RingHandlers, checks?: PeerChecks): OpTable {
  return opTable(
    serveOp(RING.PING, (askTime) => (askTime ? Date.now() : null)),
    serveOp(RING.KEY, () => {
      if (!checks) throw new P2PError("NOT_FOUND", "this node has no key");
      return checks.publicKey;
    }),
    serveOp(RING.FIND_SUCCESSOR, ({ key, avoid }) => ring.handleFindSuccessorStep(key, avoid)),
    serveOp(RING.GET_NEIGHBOURS, () => ring.handleGetNeighbours()),
    serveOp(RING.UPDATE_PREDECESSOR, async (candidate, request) => {
      // A range moves to a predecessor only if it is really there: anyone may send this op, naming anyone.
      if (checks && ring.handleGetNeighbours().predecessor?.address !== candidate.address && !(await checks.answers(candidate, request.remoteAddress))) {
        throw new P2PError("CONFLICT", `${candidate.address} does not answer PING; not taken as predecessor`);
      }
      ring.handleNotify(candidate, canonicalIp(request.remoteAddress) === splitAddress(candidate.address).ip);
    }),
    serveOp(RING.PUT_RECORDS, async (entries) => ring.handlePutRecords(checks ? await checks.admit(entries) : entries)),
    serveOp(RING.GET_RECORDS, (key) => ring.handleGetRecords(key)),
    serveOp(RING.LEAVING, async ({ leaver, predecessor, successors }, request) => {
      if (!checks) return ring.handleLeaving(leaver, predecessor, successors);
      // Only a node that has really gone may be closed over, and only onto peers that answer.
      if (!(await checks.hasLeft(leaver, request.remoteAddress))) throw new P2PError("CONFLICT", `${leaver.address} is still in the ring; LEAVING refused`);
      // Each peer handed over costs a PING: only the first few are checked (and taken); a peer the budget
      // does not let this node check now is not taken, and stabilization finds it if it is there.
      const checked = successors.slice(0, MAX_CHECKED_HANDOVER_SUCCESSORS);
      const answers = (peer: Peer) => checks.answers(peer, request.remoteAddress).catch(() => false);
      const [predecessorAnswers, ...successorsAnswer] = await Promise.all([predecessor ? answers(predecessor) : false, ...checked.map(answers)]);
      ring.handleLeaving(
        leaver,
        predecessorAnswers ? predecessor : null,
        checked.filter((_, index) => successorsAnswer[index]),
      );
    }),
  );
}

/** The client side: the ring's calls over any `send` (TCP in a node). PUT_RECORDS goes in batches the receiver accepts. */
export function ringCalls(send: SendOp<Peer>): RingTransport {
  return {
    findSuccessorStep: (to, key, avoid) => send(to, RING.FIND_SUCCESSOR, { key, avoid }),
    getNeighbours: (to) => send(to, RING.GET_NEIGHBOURS, undefined),
    notify: (to, candidate) => send(to, RING.UPDATE_PREDECESSOR, candidate),
    ping: async (to) => {
      await send(to, RING.PING, false);
    },
    putRecords: async (to, entries) => {
      let changed = 0;
      for (const batch of recordBatches(entries)) changed += await send(to, RING.PUT_RECORDS, batch);
      return changed;
    },
    getRecords: (to, key) => send(to, RING.GET_RECORDS, key),
    leaving: (to, leaver, predecessor, successors) => send(to, RING.LEAVING, { leaver, predecessor, successors }),
  };
}

/** The answerer's clock from a `PING time` reply: the `time,<ms>` line after PONG. */
function parsePeerTime(lines: string[], from: string): number {
  const line = lines.find((candidate) => candidate.startsWith("time,")) ?? "";
  const time = Number(line.slice("time,".length));
  if (!Number.isSafeInteger(time) || time <= 0) throw P2PError.badAnswer(from, "PING time", "without a valid 'time,<ms>' line");
  return time;
}

/** The LEAVING body: `{"predecessor": peer or null, "successors": [peer, ...]}`, every field checked. */
export function parseHandover(value: unknown): { predecessor: Peer | null; successors: Peer[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new P2PError("MALFORMED", 'LEAVING body must be a JSON object {"predecessor": peer or null, "successors": [peer, ...]}');
  }
  const { predecessor, successors } = value as Record<string, unknown>;
  if (successors !== undefined && !Array.isArray(successors)) throw new P2PError("MALFORMED", "LEAVING successors must be an array of peers");
  if (successors && successors.length > MAX_HANDOVER_SUCCESSORS) {
    throw new P2PError("MALFORMED", `LEAVING names ${successors.length} successors, at most ${MAX_HANDOVER_SUCCESSORS}`);
  }
  return {
    predecessor: predecessor === undefined || predecessor === null ? null : parsePeerJson(predecessor),
    successors: (successors ?? []).map(parsePeerJson),
  };
}

/** The FIND_SUCCESSOR avoid list: comma-separated `ip:port`, at most MAX_AVOID. */
export function parseAvoid(value: string | undefined): string[] {
  if (value === undefined) return [];
  const items = value.split(",").filter(Boolean);
  if (items.length > MAX_AVOID) throw new P2PError("MALFORMED", `avoid lists ${items.length} addresses, at most ${MAX_AVOID}`);
  return items.map((item) => {
    const [ip, port] = parseAddress(item, "avoid address");
    return formatAddress(ip, port);
  });
}
