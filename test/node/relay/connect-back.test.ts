// The reachable side of a connection reversal, over a fake relay link: an edge that did not dial back is not asked again for a while.

import { describe, expect, test } from "bun:test";
import { connectBackVia, REVERSAL_RETRY_AFTER_MS } from "../../../src/node/relay/connect-back";
import { P2PError } from "../../../src/protocol/errors";
import { Reversals } from "../../../src/protocol/reversal";

describe("connection reversal, the dialler's side", () => {
  test("an edge whose dial-back failed goes by circuit at once for REVERSAL_RETRY_AFTER_MS, then is asked again", async () => {
    let now = 1_000_000;
    const asked: string[] = [];
    // The relay refuses (as across address families): the reversal fails without waiting.
    const transport = {
      send: async (_address: string, _op: unknown, args: { edgeId: string }) => {
        asked.push(args.edgeId);
        throw new P2PError("CONFLICT", "edge e reached this relay over IPv6 and cannot dial an IPv4 address back; open a circuit");
      },
    };
    const reversals = new Reversals();
    try {
      const connectBack = connectBackVia(transport as never, reversals, 7495, () => true, () => now);
      const edge = { relay: "203.0.113.2:7495", edgeId: "e".repeat(40) };
      expect(await connectBack(edge)).toBeNull();
      expect(await connectBack(edge)).toBeNull();
      expect(asked).toHaveLength(1);
      // Another edge is asked as usual.
      expect(await connectBack({ ...edge, edgeId: "f".repeat(40) })).toBeNull();
      expect(asked).toHaveLength(2);
      now += REVERSAL_RETRY_AFTER_MS;
      expect(await connectBack(edge)).toBeNull();
      expect(asked).toHaveLength(3);
    } finally {
      reversals.close();
    }
  });
});
