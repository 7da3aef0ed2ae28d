// Whether a p2p peer still answers at an address: the introducer's connect-back before it believes a peer is there or gone.

import { connect } from "../protocol/client";
import { isP2PError } from "../protocol/errors";

/** How long a connect-back may take, connection and PING together. */
export const LIVENESS_PROBE_TIMEOUT_MS = 2_000;

/**
 * Connects to `ip:port`, sends PING and resolves true only if the answer is PONG; false if the
 * connection is refused, fails, or nothing answers PONG within `timeoutMs`. A port that accepts
 * connections but does not speak p2p counts as no peer, so the DNS's answers never tell whether an
 * arbitrary port listens (see docs/SECURITY.md).
 */
export async function answersPing(ip: string, port: number, options: { timeoutMs?: number; networkKey?: Uint8Array } = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? LIVENESS_PROBE_TIMEOUT_MS;
  const started = Date.now();
  let client;
  try {
    client = await connect({ hostname: ip, port }, { connectTimeoutMs: timeoutMs, networkKey: options.networkKey });
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return false;
  }
  try {
    const reply = await client.send("PING", [], { timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) });
    return reply.status === 200 && new TextDecoder().decode(reply.body).startsWith("PONG");
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return false;
  } finally {
    client.close();
  }
}
