// The DNS's side of reachability: OBSERVED tells a node where its connection comes from; DIALBACK connects back to that IP, paid from the budget.

import { formatAddress } from "../protocol/address";
import { connect } from "../protocol/client";
import type { ConnectBudget } from "../protocol/connect-budget";
import { isP2PError } from "../protocol/errors";
import { hostOf } from "../protocol/ip";
import type { Request } from "../protocol/ops";
import { type DialBackResult, REACH } from "../wire/reach";
import { serveOp, type ServedOp } from "../wire/op";

/** How long a dial-back may take, connection and DIALBACK_CHECK together. */
export const DIAL_BACK_TIMEOUT_MS = 2_000;

/**
 * OBSERVED and DIALBACK for the introducer. A dial-back only ever goes to the IP the request came from (the
 * asker names a port, never an address), so nobody can point the DNS at a third host; and each one is paid
 * from `budget` (per target host and per asker), so no asker can make it knock on many ports.
 */
export function reachOps(budget: ConnectBudget, sourceOf: (request: Request) => string, networkKey?: Uint8Array): ServedOp[] {
  return [
    serveOp(REACH.OBSERVED, (_args, request) => ({ ip: sourceOf(request), port: request.remotePort })),
    serveOp(REACH.DIALBACK, ({ port, nonce }, request) => {
      const ip = sourceOf(request);
      return budget.spend(hostOf(ip), ip, () => dialBack(ip, port, nonce, networkKey));
    }),
  ];
}

async function dialBack(ip: string, port: number, nonce: string, networkKey?: Uint8Array): Promise<DialBackResult> {
  const address = formatAddress(ip, port);
  const started = Date.now();
  let client;
  try {
    client = await connect({ hostname: ip, port }, { connectTimeoutMs: DIAL_BACK_TIMEOUT_MS, networkKey });
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return { reachable: false, reason: `nothing accepts connections at ${address} (${error.message})` };
  }
  try {
    const reply = await client.send(REACH.DIALBACK_CHECK.name, [nonce], { timeoutMs: Math.max(1, DIAL_BACK_TIMEOUT_MS - (Date.now() - started)) });
    if (reply.status === 200) return { reachable: true, address };
    return { reachable: false, reason: `the node at ${address} is not the one that asked (it does not know the nonce)` };
  } catch (error) {
    if (!isP2PError(error)) throw error;
    return { reachable: false, reason: `${address} accepts connections but no p2p node answers there (${error.message})` };
  } finally {
    client.close();
  }
}
