// The link and background-transfer control ops (src/wire/control-transfers.ts): each request and reply survives the wire, and a reply missing a field is one clear error.

import { describe, expect, test } from "bun:test";
import type { TransferEntry } from "../../src/wire/control";
import { type LinkReport, TRANSFER_CONTROL } from "../../src/wire/control-transfers";
import { replyBody } from "../../src/wire/op";
import { replyRoundTrip, requestRoundTrip } from "./round-trip";

const entry: TransferEntry = { id: "a".repeat(64), name: "big.iso", path: "/tmp/big.iso", size: 10, bytes: 4, rate: 0, etaSeconds: null, sources: [], state: "paused", startedAt: 1, endedAt: 2 };
const link: LinkReport = { link: `p2p:file/${"a".repeat(64)}/big.iso/10/127.0.0.2:7495/127.0.0.1:7494`, name: "big.iso", id: "a".repeat(64), size: 10, folder: false, via: ["127.0.0.2:7495"], dns: ["127.0.0.1:7494"] };

describe("LINK, START, PAUSE, RESUME and CLEAR", () => {
  test("every request and reply decodes to what was encoded", () => {
    expect(requestRoundTrip(TRANSFER_CONTROL.LINK, "big.iso@aaaa")).toBe("big.iso@aaaa");
    expect(replyRoundTrip(TRANSFER_CONTROL.LINK, link, "big.iso")).toEqual(link);
    expect(requestRoundTrip(TRANSFER_CONTROL.START, { ref: link.link, out: "/tmp/x", force: true, noShare: true })).toEqual({ ref: link.link, out: "/tmp/x", force: true, noShare: true });
    expect(replyRoundTrip(TRANSFER_CONTROL.START, entry, { ref: "big.iso", force: false })).toEqual(entry);
    expect(requestRoundTrip(TRANSFER_CONTROL.PAUSE, "big.iso")).toBe("big.iso");
    expect(replyRoundTrip(TRANSFER_CONTROL.RESUME, { ...entry, state: "queued" }, "aaaa")).toEqual({ ...entry, state: "queued" });
    expect(replyRoundTrip(TRANSFER_CONTROL.CLEAR, { cleared: 3 }, undefined)).toEqual({ cleared: 3 });
  });

  test("a reply without a field the client reads is refused with the op's name", () => {
    const { via: _, ...noVia } = link;
    const body = replyBody(TRANSFER_CONTROL.LINK.encodeReply(noVia as LinkReport));
    expect(() => TRANSFER_CONTROL.LINK.decodeReply(body, "the node", "big.iso")).toThrow(/LINK reply/);
    expect(() => TRANSFER_CONTROL.START.decodeArgs(["big.iso", "", "detach"], new Uint8Array())).toThrow(/unknown DOWNLOAD flag 'detach'/);
  });
});
