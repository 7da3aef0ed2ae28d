// One op of one link, defined once: its name, syntax, and matching encode/decode pairs for its request and its reply.

import { decodeLines, encodeLines } from "../protocol/frame";
import type { OpSpec, OpTable, Reply, Request } from "../protocol/server";

/** A request as it goes on the wire: its arguments and, for ops that carry one, a body. */
export type WireRequest = { args: string[]; body?: Uint8Array };

export interface OpDef<Args, Result> {
  readonly name: string;
  /** The op's syntax, shown to a caller who gets its arguments wrong. */
  readonly usage: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** The op carries a body whose length is its last argument. */
  readonly body?: boolean;
  /** Sender side: typed arguments to wire arguments. Enforces the limits a receiver checks. */
  encodeArgs(args: Args): WireRequest;
  /** Receiver side: wire arguments (count already checked against min/maxArgs) to typed, checked arguments. */
  decodeArgs(args: readonly string[], body: Uint8Array): Args;
  /** Receiver side: the handler's result as a reply. */
  encodeReply(result: Result): Reply;
  /** Sender side: the reply body to a typed, checked result; `from` names the peer in errors, `args` are what was asked. */
  decodeReply(body: Uint8Array, from: string, args: Args): Result;
}

/** Names the types of an op; the definition itself is plain data and functions. */
export function defineOp<Args, Result>(def: OpDef<Args, Result>): OpDef<Args, Result> {
  return def;
}

/** How a link's client sends one op to a peer and gets its typed result back. */
export type SendOp<To> = <Args, Result>(to: To, op: OpDef<Args, Result>, args: Args) => Promise<Result>;

/** An op's server side, ready for `opTable`. */
export type ServedOp = OpSpec & { name: string };

/** The server side of one op: its handler receives the parsed arguments and returns a typed result. */
export function serveOp<Args, Result>(
  op: OpDef<Args, Result>,
  handle: (args: Args, request: Request) => Result | Promise<Result>,
): ServedOp {
  return {
    name: op.name,
    usage: op.usage,
    minArgs: op.minArgs,
    maxArgs: op.maxArgs,
    body: op.body,
    handle: (request) => {
      const result = handle(op.decodeArgs(request.args, request.body), request);
      // Synchronous handlers stay synchronous: no extra turn of the event loop per request.
      return result instanceof Promise ? result.then((value) => op.encodeReply(value)) : op.encodeReply(result);
    },
  };
}

/** An op table for `serve()` from served ops, each under its op's name. */
export function opTable(...served: ServedOp[]): OpTable {
  const table: OpTable = {};
  for (const { name, ...spec } of served) table[name] = spec;
  return table;
}

/** A reply as the bytes a client receives, for round-trip tests and in-process calls. */
export function replyBody(reply: Reply): Uint8Array {
  return reply.body ?? encodeLines(reply.lines ?? []);
}

/** The data lines of a reply body. */
export function replyLines(body: Uint8Array): string[] {
  return decodeLines(body);
}

/** Ops with no arguments. */
export const NO_ARGS = {
  minArgs: 0,
  maxArgs: 0,
  encodeArgs: (): WireRequest => ({ args: [] }),
  decodeArgs: (): void => undefined,
};

/** Replies with nothing in them (OK alone). */
export const EMPTY_REPLY = {
  encodeReply: (): Reply => ({}),
  decodeReply: (): void => undefined,
};

/** PING on every link: answering at all is the reply, PONG its content. */
export const PING = defineOp<void, void>({
  name: "PING",
  usage: "PING",
  ...NO_ARGS,
  encodeReply: () => ({ lines: ["PONG"] }),
  decodeReply: () => undefined,
});
