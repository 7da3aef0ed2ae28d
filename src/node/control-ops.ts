// The ops the local client sends over the node's Unix socket: status, leave, and the ring's put/get.

import { P2PError } from "../protocol/errors";
import type { OpTable } from "../protocol/server";
import { isRingId, ringId } from "./ring/id";
import type { ChordNode } from "./ring/chord";
import { encodeJson, parseKey } from "../wire/codec";

/** Longest record value accepted from the local client. */
const MAX_VALUE_BYTES = 16 * 1024;
/** Longest record member accepted from the local client (peers refuse longer ones in PUT_RECORDS). */
const MAX_MEMBER_LENGTH = 1024;

/** What the control ops need of a node: a narrow view, so this file does not depend on node.ts (which serves these ops). */
export interface ControlledNode {
  status(): unknown;
  leave(): Promise<void>;
  close(): Promise<void>;
  readonly ring: Pick<ChordNode, "lookup" | "put" | "get">;
}

export function controlOps(node: ControlledNode): OpTable {
  return {
    PING: { usage: "PING", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["PONG"] }) },
    STATUS: { usage: "STATUS", minArgs: 0, maxArgs: 0, handle: () => ({ body: encodeJson(node.status()) }) },
    LEAVE: {
      usage: "LEAVE",
      minArgs: 0,
      maxArgs: 0,
      handle: async () => {
        await node.leave();
        // After this reply is written: the rest of the shutdown closes this very socket.
        setImmediate(() => void node.close());
        return { lines: ["left the ring"] };
      },
    },
    LOOKUP: {
      usage: "LOOKUP <key or text>",
      minArgs: 1,
      maxArgs: 1,
      handle: async ({ args }) => {
        const key = keyOf(args[0]!);
        const { peer, hops } = await node.ring.lookup(key);
        return { body: encodeJson({ key, successor: peer, hops }) };
      },
    },
    PUT: {
      usage: "PUT <key or text> <member> <value> [<ttl-ms>]",
      minArgs: 3,
      maxArgs: 4,
      handle: async ({ args }) => {
        if (args[1]!.length > MAX_MEMBER_LENGTH) throw new P2PError("MALFORMED", `member is over ${MAX_MEMBER_LENGTH} characters`);
        if (args[2]!.length > MAX_VALUE_BYTES) throw new P2PError("MALFORMED", `value is over ${MAX_VALUE_BYTES} bytes`);
        const ttlMs = args[3] === undefined ? undefined : Number(args[3]);
        if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0)) {
          throw new P2PError("MALFORMED", `invalid ttl '${args[3]}': expected milliseconds`);
        }
        const primary = await node.ring.put(keyOf(args[0]!), args[1]!, args[2]!, ttlMs);
        return { body: encodeJson({ primary }) };
      },
    },
    GET: {
      usage: "GET <key or text>",
      minArgs: 1,
      maxArgs: 1,
      handle: async ({ args }) => ({ body: encodeJson(await node.ring.get(keyOf(args[0]!))) }),
    },
  };
}

/** A 40-hex key is used as it is; any other text is hashed onto the ring. */
function keyOf(text: string): string {
  return isRingId(text.toLowerCase()) ? parseKey(text) : ringId(text);
}
