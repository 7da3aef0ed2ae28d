// How a node estimates its clock's skew from its peers' answers, and what it tells the user: the median over peers, the tolerance, the note.

import { describe, expect, test } from "bun:test";
import { ClockWatch, PeerClocks, clockNote, formatSkew } from "../../src/node/clock-skew";
import { withClockNote } from "../../src/node/clock-ops";
import { P2PError } from "../../src/protocol/errors";
import { peerAt } from "../../src/model/peer";

describe("PeerClocks", () => {
  test("the skew is minus the median of the peers' offsets, each less the middle of its round trip: one wild peer moves it little", () => {
    const clocks = new PeerClocks(() => 10_000);
    // This node sent at 1,000 and heard back at 1,200: the peer's time is compared with 1,100.
    clocks.sample("a:1", 1_100 - 120_000, 1_000, 1_200);
    clocks.sample("b:1", 1_100 - 121_000, 1_000, 1_200);
    clocks.sample("c:1", 1_100 + 3_600_000, 1_000, 1_200);
    expect(clocks.estimate()).toEqual({ skewMs: 120_000, peers: 3, toleranceMs: 60_000 });
  });

  test("a slow answer says too little to count, and a peer counts once, by its latest answer", () => {
    const clocks = new PeerClocks(() => 10_000);
    clocks.sample("a:1", 0, 0, 6_000);
    expect(clocks.estimate()).toEqual({ skewMs: null, peers: 0, toleranceMs: 60_000 });
    clocks.sample("a:1", 5_000, 1_000, 1_000);
    clocks.sample("a:1", 1_000, 1_000, 1_000);
    expect(clocks.estimate()).toEqual({ skewMs: 0, peers: 1, toleranceMs: 60_000 });
  });
});

describe("the clock note", () => {
  test("is null within the tolerance and tells how far, which way and what to do beyond it", () => {
    expect(clockNote({ skewMs: 59_000, peers: 4, toleranceMs: 60_000 })).toBeNull();
    expect(clockNote({ skewMs: null, peers: 0, toleranceMs: 60_000 })).toBeNull();
    expect(clockNote({ skewMs: 119_400, peers: 4, toleranceMs: 60_000 })).toBe(
      "this node's clock is 2 min ahead of its peers (median of 4); fix the clock (NTP): the network tolerates 60 s",
    );
    expect(clockNote({ skewMs: -600_000, peers: 1, toleranceMs: 60_000 })).toMatch(/^this node's clock is 10 min behind its one peer that answered;/);
    expect([formatSkew(300), formatSkew(-45_000), formatSkew(89_000), formatSkew(90_000)]).toEqual(["0.3 s", "45 s", "89 s", "2 min"]);
  });
});

describe("ClockWatch", () => {
  test("a probe asks the known peers for their time; peers that fail or give none add nothing, and the node warns once", async () => {
    const now = 1_000_000;
    const warnings: string[] = [];
    const peers = [peerAt("127.0.0.2:7495"), peerAt("127.0.0.3:7495"), peerAt("127.0.0.4:7495"), peerAt("127.0.0.5:7495")];
    const answers: Record<string, () => Promise<number | null>> = {
      "127.0.0.2:7495": async () => now - 180_000,
      "127.0.0.3:7495": async () => now - 181_000,
      "127.0.0.4:7495": async () => null,
      "127.0.0.5:7495": async () => {
        throw new P2PError("TIMEOUT", "no answer");
      },
    };
    const watch = new ClockWatch(() => peers, (peer) => answers[peer.address]!(), (message) => warnings.push(message), () => now);
    expect(await watch.note()).toBe("this node's clock is 3 min ahead of its peers (median of 2); fix the clock (NTP): the network tolerates 60 s");
    await watch.probe();
    expect(watch.estimate().peers).toBe(2);
    expect(warnings).toHaveLength(1);
  });
});

describe("withClockNote", () => {
  const ops = {
    UPLOAD: { usage: "UPLOAD", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["shared"] }) },
    DOWNLOAD: { usage: "DOWNLOAD", minArgs: 0, maxArgs: 0, handle: () => Promise.reject(new P2PError("NOT_FOUND", "no file named 'a.txt'")) },
    STATUS: { usage: "STATUS", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["ok"] }) },
  };
  const request = { op: "X", args: [], body: new Uint8Array() } as never;

  test("while the clock is off a write is refused at once and a failing read says why; in step, nothing changes", async () => {
    const off = withClockNote(ops, { note: async () => "this node's clock is 2 min ahead of its peers (median of 3); fix the clock (NTP)" });
    expect(Promise.resolve(off.UPLOAD!.handle(request))).rejects.toThrow(/^nothing written: this node's clock is 2 min ahead/);
    expect(Promise.resolve(off.DOWNLOAD!.handle(request))).rejects.toThrow("no file named 'a.txt'; this node's clock is 2 min ahead of its peers (median of 3); fix the clock (NTP)");
    expect(off.STATUS).toBe(ops.STATUS);
    const inStep = withClockNote(ops, { note: async () => null });
    expect(await inStep.UPLOAD!.handle(request)).toEqual({ lines: ["shared"] });
    expect(Promise.resolve(inStep.DOWNLOAD!.handle(request))).rejects.toThrow(/^no file named 'a.txt'$/);
  });
});
