// One request to the local node: find its socket, send, decode; failures become one clear line.

import { connect } from "../../protocol/client";
import { P2PError } from "../../protocol/errors";
import type { OpDef } from "../../wire/op";
import { findNodeSocket } from "../find-node";

/** How long a node may take to answer a PING before a client command gives up on it (README, "Errors, exit codes"). */
export const NODE_ANSWER_TIMEOUT_MS = 5_000;

/** Sends one op of the control link (src/wire/control.ts) and returns its typed reply. */
export async function askNodeOp<Args, Result>(
  target: { node?: string; socket?: string },
  op: OpDef<Args, Result>,
  args: Args,
  options: { timeoutMs?: number; onProgress?: (event: Record<string, unknown>) => void } = {},
): Promise<Result> {
  const request = op.encodeArgs(args);
  const body = await askNode(target, op.name, request.args, options.timeoutMs, options.onProgress);
  return op.decodeReply(body, "the node", args);
}

/** Sends one op to the node and returns the reply body; `onProgress` gets each 202 event as parsed JSON. */
export async function askNode(
  target: { node?: string; socket?: string },
  op: string,
  args: string[] = [],
  timeoutMs = 30_000,
  onProgress?: (event: Record<string, unknown>) => void,
): Promise<Uint8Array> {
  const path = await findNodeSocket(target);
  let client;
  try {
    client = await connect({ unix: path });
  } catch (error) {
    throw new P2PError("UNREACHABLE", `the node at ${path} does not answer (${(error as Error).message}); is it running?`);
  }
  try {
    // A node that is stopped (SIGSTOP) or hung still accepts the connection: a PING goes first, so the user
    // waits a few seconds for one clear line instead of the long op's whole deadline. The op is sent right
    // behind it, not after its answer: replies come in order, so the whole command is one round trip.
    // Any other failure of the PING shows again, with more to say, in the op's own reply.
    const progress = onProgress ? (lines: string[]) => lines.forEach((line) => onProgress(JSON.parse(line))) : undefined;
    const ping = client.request("PING", [], { timeoutMs: NODE_ANSWER_TIMEOUT_MS });
    const reply = client.request(op, args, { timeoutMs, onProgress: progress });
    // Awaited below, once the PING has settled; a PING that timed out fails it too, and that says it better.
    reply.catch(() => {});
    await ping.catch((error: P2PError) => {
      if (error.code === "TIMEOUT") throw new P2PError("UNREACHABLE", `the node at ${path} did not answer within ${NODE_ANSWER_TIMEOUT_MS / 1000} s; is it stopped (kill -STOP) or stuck?`);
    });
    return (await reply).body;
  } finally {
    client.close();
  }
}
