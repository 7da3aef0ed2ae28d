// What every link's round-trip tests share: encode as the sender does, decode as the receiver does.

import { expect } from "bun:test";
import { type OpDef, replyBody } from "../../src/wire/op";

/** Encodes `args` as a sender does and decodes them as the receiving server does. */
export function requestRoundTrip<A, R>(op: OpDef<A, R>, args: A): A {
  const wire = op.encodeArgs(args);
  expect(wire.args.length).toBeGreaterThanOrEqual(op.minArgs);
  expect(wire.args.length).toBeLessThanOrEqual(op.maxArgs);
  return op.decodeArgs(wire.args, wire.body ?? new Uint8Array());
}

/** Encodes `result` as a server does and decodes it as the caller does; `from` names the peer in errors. */
export function replyRoundTrip<A, R>(op: OpDef<A, R>, result: R, args?: A, from = "127.0.0.9:7495"): R {
  return op.decodeReply(replyBody(op.encodeReply(result)), from, args as A);
}
