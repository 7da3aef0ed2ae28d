// A download from an edge that starts through its relay, because its router blocks the way back, moves to a direct link once the way opens: real nodes in the NAT lab's namespaces.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NAMESPACE_PREFIX, destroyOwnRuns, labNamespaces, labUnavailableReason } from "../../src/testnet/natlab-netns";
import { type LatePathResult, runLatePath } from "../../src/testnet/natlab-late-path";
import { isRunning } from "../../src/testnet/pids";
import { builtBinary } from "../helpers/binary";

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`late direct path test skipped: ${unavailable}`);

const pids: number[] = [];
let result: LatePathResult | null = null;
let namespacesAfter: string[] = [];

describe.skipIf(unavailable !== null)("a relayed download and a direct path found later", () => {
  let binary = "";
  beforeAll(async () => {
    binary = await builtBinary();
  }, 120_000);

  beforeAll(async () => {
    try {
      result = await runLatePath({
        binary,
        fileBytes: 8 * 1024 * 1024,
        uploadLimitMBps: 1,
        relayedMs: 1_000,
        joinTimeoutMs: 20_000,
        timeoutMs: 40_000,
        onSpawn: (proc) => pids.push(proc.pid),
      });
    } finally {
      namespacesAfter = labNamespaces(`${NAMESPACE_PREFIX}${process.pid}_`);
      destroyOwnRuns();
    }
  }, 90_000);

  afterAll(() => {
    destroyOwnRuns();
  });

  test("the download starts through the relay, moves to the edge's own connection back once its router lets it, and completes with the shared bytes", () => {
    expect(result).toMatchObject({ failure: null, firstPath: "relayed", movedTo: "reversed" });
    expect(result!.movedAfterMs).not.toBeNull();
  });

  test("the lab kills every process it started and deletes every namespace it made", () => {
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter(isRunning)).toEqual([]);
    expect(namespacesAfter).toEqual([]);
    expect(result!.left).toEqual([]);
  });
});
