// One request to the local node: find its socket, send, decode; failures become one clear line.

import { connect } from "../../protocol/client";
import { P2PError } from "../../protocol/errors";
import { findNodeSocket } from "../find-node";

/** Sends one op to the node and returns the reply body. */
export async function askNode(target: { node?: string; socket?: string }, op: string, args: string[] = [], timeoutMs = 30_000): Promise<Uint8Array> {
  const path = await findNodeSocket(target);
  let client;
  try {
    client = await connect({ unix: path });
  } catch (error) {
    throw new P2PError("UNREACHABLE", `the node at ${path} does not answer (${(error as Error).message}); is it running?`);
  }
  try {
    return (await client.request(op, args, { timeoutMs })).body;
  } finally {
    client.close();
  }
}

export function parseJsonBody<T>(body: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(body)) as T;
}
