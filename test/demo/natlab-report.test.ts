// The NAT lab's marks and matrix, from made-up results: runs everywhere, root or not (the lab itself: natlab.test.ts).

import { describe, expect, test } from "bun:test";
import { type PairResult, modeOf, untried } from "../../src/testnet/natlab-matrix";
import { labPlan } from "../../src/testnet/natlab-plan";
import { modeCounts, renderReport } from "../../src/testnet/natlab-report";
import type { TransferEntry } from "../../src/wire/control";

const entry: TransferEntry = { id: "ab", name: "from-a1.bin", path: "/tmp/x", size: 1, bytes: 1, rate: 0, etaSeconds: null, sources: [], state: "done", startedAt: 0 };

describe("the NAT lab's report", () => {
  test("a finished download takes the mode its node reports on TRANSFERS, and counts as direct when the node reports none", () => {
    expect(modeOf({ ...entry, mode: "relayed" } as TransferEntry)).toBe("relayed");
    expect(modeOf({ ...entry, mode: "punched" } as TransferEntry)).toBe("punched");
    expect(modeOf(entry)).toBe("direct");
    expect(modeOf(null)).toBe("direct");
  });

  test("the matrix marks every ordered pair, counts each mode and gives each failure's reason", () => {
    const plan = labPlan({ routers: ["masquerade"], publicNodes: ["pub1"], hostsPerRouter: 1 });
    const direct: PairResult = { from: "a1", to: "pub1", mode: "direct", firstByteMs: 120, totalMs: 500, bytesPerSecond: 2e6, reason: "" };
    const failed = untried("pub1", "a1", "no holder of 'from-pub1.bin' is online");
    const report = { plan, fileBytes: 1024 * 1024, nodeProblems: new Map([["a1", "not in the ring after 30 s"]]), pairs: [failed, direct] };
    const text = renderReport(report);
    expect(text).toMatch(/^ {2}pub1 +- +x$/m);
    expect(text).toMatch(/^ {2}a1 +D +-$/m);
    expect(text).toContain("2 ordered pairs: 1 direct, 0 reversed, 0 punched, 0 relayed, 1 failed");
    expect(text).toMatch(/^a1 +pub1 +direct +0\.12 s +0\.50 s +2\.0 MB\/s$/m);
    expect(text).toContain("no holder of 'from-pub1.bin' is online");
    expect(text).toMatch(/a1 +A: masquerade +10\.0\.1\.2 +not in the ring after 30 s/);
    expect(modeCounts(report.pairs)).toEqual({ direct: 1, reversed: 0, punched: 0, relayed: 0, failed: 1 });
  });
});
