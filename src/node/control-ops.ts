// The ops the local client sends over the node's Unix socket (defined in src/wire/control.ts): status, leave, and the ring's put/get.

import type { OpTable } from "../protocol/server";
import { CONTROL, type NodeStatus } from "../wire/control";
import { opTable, serveOp } from "../wire/op";
import { isRingId, ringId, type RingId } from "../model/id";
import type { Peer } from "../model/peer";
import type { RecordEntry } from "../model/record";
import { parseKey } from "../wire/codec";

/** What the control ops need of a node: a narrow view, so this file does not depend on node.ts (which serves these ops). */
export interface ControlledNode {
  status(): NodeStatus;
  leave(): Promise<void>;
  close(): Promise<void>;
  /** The ring's records and lookups: the node's own ring part, or an edge node's view of the ring through members. */
  readonly ring: {
    lookup(key: RingId): Promise<{ peer: Peer; hops: number }>;
    put(key: RingId, member: string, value: string, ttlMs?: number): Promise<Peer>;
    get(key: RingId): Promise<RecordEntry[]>;
  };
}

export function controlOps(node: ControlledNode): OpTable {
  return opTable(
    serveOp(CONTROL.PING, () => undefined),
    serveOp(CONTROL.STATUS, () => node.status()),
    serveOp(CONTROL.LEAVE, async () => {
      await node.leave();
      // After this reply is written: the rest of the shutdown closes this very socket.
      setImmediate(() => void node.close());
      return "left the ring";
    }),
    serveOp(CONTROL.LOOKUP, async (text) => {
      const key = keyOf(text);
      const { peer, hops } = await node.ring.lookup(key);
      return { key, successor: peer, hops };
    }),
    serveOp(CONTROL.PUT, async ({ key, member, value, ttlMs }) => ({ primary: await node.ring.put(keyOf(key), member, value, ttlMs) })),
    serveOp(CONTROL.GET, async (text) => node.ring.get(keyOf(text))),
  );
}

/** A 40-hex key is used as it is; any other text is hashed onto the ring. */
function keyOf(text: string): string {
  return isRingId(text.toLowerCase()) ? parseKey(text) : ringId(text);
}
