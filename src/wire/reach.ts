// How a node learns how the world sees it: OBSERVED (on the DNS and ring links), DIALBACK (DNS link) and DIALBACK_CHECK (ring link).

import { formatAddress, parsePeerAddress, parsePort } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { defineOp, NO_ARGS, replyLines } from "./op";

/** A dial-back nonce: 32 hex digits, fresh for each check, so only the node that asked can confirm it. */
export const NONCE_PATTERN = /^[0-9a-f]{32}$/;

export type Observed = { ip: string; port: number };
/** A dial-back's outcome: the address that answered with the asker's nonce, or why none did. */
export type DialBackResult = { reachable: true; address: string } | { reachable: false; reason: string };

const nonce = (value: string) => {
  if (!NONCE_PATTERN.test(value)) throw P2PError.invalid("nonce", value, "32 lowercase hex digits");
  return value;
};

export const REACH = {
  /** The address (ip and port) the answerer sees this connection come from. */
  OBSERVED: defineOp<void, Observed>({
    name: "OBSERVED",
    usage: "OBSERVED",
    ...NO_ARGS,
    encodeReply: ({ ip, port }) => ({ lines: [formatAddress(ip, port)] }),
    decodeReply: (body, from) => parsePeerAddress(replyLines(body)[0] ?? "", `OBSERVED reply from ${from}`),
  }),

  /**
   * Asks the DNS to connect back to the asker's own IP (the one the request comes from: never another) at
   * `port` and send DIALBACK_CHECK with `nonce`. The reply says whether the node there knew the nonce.
   */
  DIALBACK: defineOp<{ port: number; nonce: string }, DialBackResult>({
    name: "DIALBACK",
    usage: "DIALBACK <port> <nonce>",
    minArgs: 2,
    maxArgs: 2,
    encodeArgs: ({ port, nonce }) => ({ args: [String(port), nonce] }),
    decodeArgs: (args) => ({ port: parsePort(args[0]!, "DIALBACK port"), nonce: nonce(args[1]!) }),
    encodeReply: (result) => ({ lines: [result.reachable ? `reachable ${result.address}` : `unreachable ${result.reason}`] }),
    decodeReply: (body, from) => {
      const line = replyLines(body)[0] ?? "";
      if (line.startsWith("reachable ")) return { reachable: true, address: line.slice("reachable ".length) };
      if (line.startsWith("unreachable ")) return { reachable: false, reason: line.slice("unreachable ".length) };
      throw new P2PError("MALFORMED", `${from} answered DIALBACK with '${line.slice(0, 80)}'`);
    },
  }),

  /** Whether this node asked for a dial-back with `nonce` (200) or not (404): the dial-back's proof that it reached the asker. */
  DIALBACK_CHECK: defineOp<string, void>({
    name: "DIALBACK_CHECK",
    usage: "DIALBACK_CHECK <nonce>",
    minArgs: 1,
    maxArgs: 1,
    encodeArgs: (value) => ({ args: [value] }),
    decodeArgs: (args) => nonce(args[0]!),
    encodeReply: () => ({ lines: ["mine"] }),
    decodeReply: () => undefined,
  }),
};
