import { describe, expect, test } from "bun:test";
import { isP2PError } from "../../../src/protocol/errors";
import { MemoryNetwork, mulberry32 } from "../../../src/node/ring/memory-transport";
import type { Neighbours, RingHandlers } from "../../../src/model/ring-transport";
import { peerAt } from "../../../src/model/peer";
import { runSimulation, DEFAULT_OPTIONS } from "../../../src/node/ring/sim/simulation";

const ROOT = `${import.meta.dir}/../../..`;

function stubHandlers(neighbours: Neighbours): RingHandlers {
  return {
    handleFindSuccessorStep: () => ({ done: true, peer: peerAt("127.0.0.1:1") }),
    handleGetNeighbours: () => neighbours,
    handleNotify: () => undefined,
    handlePutRecords: (entries) => entries.length,
    handleGetRecords: () => [],
    handleLeaving: () => undefined,
  };
}

describe("MemoryNetwork", () => {
  test("a call to a killed node rejects with P2PError UNREACHABLE", async () => {
    const network = new MemoryNetwork(1);
    const target = peerAt("127.0.0.2:4000");
    network.listen(target.address, stubHandlers({ predecessor: null, successors: [] }));
    network.kill(target.address);
    const error = await network.transportFor("127.0.0.3:4000").ping(target).catch((e: unknown) => e);
    expect(isP2PError(error, "UNREACHABLE")).toBe(true);
  });

  test("results are copies: the caller cannot change the callee's objects", async () => {
    const network = new MemoryNetwork(1);
    const neighbours: Neighbours = { predecessor: null, successors: [peerAt("127.0.0.9:4000")] };
    const target = peerAt("127.0.0.2:4000");
    network.listen(target.address, stubHandlers(neighbours));
    const answer = await network.transportFor("127.0.0.3:4000").getNeighbours(target);
    answer.successors[0]!.address = "changed";
    expect(neighbours.successors[0]!.address).toBe("127.0.0.9:4000");
  });

  test("the answer never arrives within the caller's turn", async () => {
    const network = new MemoryNetwork(1);
    const target = peerAt("127.0.0.2:4000");
    let handled = false;
    network.listen(target.address, { ...stubHandlers({ predecessor: null, successors: [] }), handleNotify: () => void (handled = true) });
    const pending = network.transportFor("127.0.0.3:4000").notify(target, peerAt("127.0.0.3:4000"));
    expect(handled).toBe(false);
    await pending;
    expect(handled).toBe(true);
  });

  test("mulberry32 repeats its sequence for the same seed", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  test("a simulation is a pure function of its seed", async () => {
    const options = { ...DEFAULT_OPTIONS, nodes: 150, fail: 0.3, records: 100, lookups: 200, seed: 8 };
    const { seconds: _a, ...first } = await runSimulation(options);
    const { seconds: _b, ...second } = await runSimulation(options);
    expect(second).toEqual(first);
  });
});

describe("scripts/sim.ts", () => {
  test("--json prints exactly one JSON object with the agreed fields", async () => {
    const proc = Bun.spawn([process.execPath, "scripts/sim.ts", "--nodes", "100", "--fail", "0.25", "--records", "50", "--lookups", "100", "--json"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const stdout = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    const report = JSON.parse(stdout.trim()) as Record<string, unknown>;
    for (const field of ["nodes", "lookups", "correct", "meanHops", "p99Hops", "failedLookups", "records", "lostRecords", "seconds", "failed", "repairRounds", "expectedLostRecords"]) {
      expect(report).toHaveProperty(field);
    }
    expect(report.nodes).toBe(100);
    expect(report.correct).toBe(100);
  });

  test("a bad flag value exits 1 naming the flag", async () => {
    const proc = Bun.spawn([process.execPath, "scripts/sim.ts", "--nodes", "many"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const stderr = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(1);
    expect(stderr).toContain("--nodes");
  });
});
