// An edge's answers to PUNCH: one punch per link, a bounded number at once, messages only in turn.

import { expect, test } from "bun:test";
import type { Request } from "../../../src/protocol/ops";
import { MAX_CONCURRENT_PUNCHES, PunchResponder } from "../../../src/node/relay/punch-responder";

/** A responder whose relay never answers OBSERVED: its punches stay pending, as a slow one would. */
function responder(): PunchResponder {
  return new PunchResponder({ observe: () => new Promise(() => {}), ops: () => ({}), warn: () => {}, info: () => {} });
}

function request(connectionId: string, line: string): Request {
  return { op: "PUNCH", args: line.split(" "), body: new Uint8Array(), remoteAddress: "127.0.0.1", remotePort: 1, connectionId, progress: () => {}, signal: new AbortController().signal };
}

const punchOp = (edge: PunchResponder) => edge.ops()[0]!;

test("a SYNC on a link with no CONNECT before it is refused 409", async () => {
  await expect(Promise.resolve(punchOp(responder()).handle(request("a", "SYNC")))).rejects.toMatchObject({ code: "CONFLICT" });
});

test("a second CONNECT on a link whose punch is under way is refused 409", async () => {
  const edge = responder();
  void Promise.resolve(punchOp(edge).handle(request("a", "CONNECT 127.0.0.9:4000"))).catch(() => {});
  await expect(Promise.resolve(punchOp(edge).handle(request("a", "CONNECT 127.0.0.9:4001")))).rejects.toMatchObject({ code: "CONFLICT" });
});

test(`past ${MAX_CONCURRENT_PUNCHES} punches at once, the next is refused 503 and the dialler stays on the relay`, async () => {
  const edge = responder();
  for (let link = 0; link < MAX_CONCURRENT_PUNCHES; link++) void Promise.resolve(punchOp(edge).handle(request(`link-${link}`, "CONNECT 127.0.0.9:4000"))).catch(() => {});
  await expect(Promise.resolve(punchOp(edge).handle(request("one-more", "CONNECT 127.0.0.9:4000")))).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("use the relay") });
});
