// One request to the local node: find its socket, send, decode; failures become one clear line.

import { connect } from "../../protocol/client";
import { P2PError } from "../../protocol/errors";
import { findNodeSocket } from "../find-node";

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
    const progress = onProgress ? (lines: string[]) => lines.forEach((line) => onProgress(JSON.parse(line))) : undefined;
    return (await client.request(op, args, { timeoutMs, onProgress: progress })).body;
  } finally {
    client.close();
  }
}

export function parseJsonBody<T>(body: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(body)) as T;
}
