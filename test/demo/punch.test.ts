// TCP hole punching through the NAT lab's namespaces: hosts behind two port-preserving NATs, two firewalls and a symmetric NAT punch and move bytes.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NAMESPACE_PREFIX, destroyOwnRuns, labNamespaces, labUnavailableReason } from "../../src/testnet/natlab-netns";
import { type PunchPairResult, runPunchLab } from "../../src/testnet/natlab-punch";
import { isRunning } from "../../src/testnet/pids";
import { REPO_ROOT } from "../helpers/processes";

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`hole punching tests skipped: ${unavailable}`);

/** Tries per pair: a pair passes when one of them punched and moved bytes (the rate is measured by scripts/bench-punch.ts, not here). */
const TRIES = 2;

const pids: number[] = [];
let results: PunchPairResult[] = [];
let namespacesAfter: string[] = [];

const pair = (initiator: string, responder: string) => results.find((result) => result.initiator === initiator && result.responder === responder)!;

describe.skipIf(unavailable !== null)("TCP hole punching in the NAT lab", () => {
  beforeAll(async () => {
    try {
      results = await runPunchLab({
        pairs: [["a1", "e1"], ["a1", "c1"], ["c1", "f1"], ["b1", "a1"], ["c1", "b1"]],
        tries: TRIES,
        bun: process.execPath,
        root: REPO_ROOT,
        onSpawn: (proc) => pids.push(proc.pid),
      });
    } finally {
      namespacesAfter = labNamespaces(`${NAMESPACE_PREFIX}${process.pid}_`);
      destroyOwnRuns();
    }
  }, 110_000);

  afterAll(() => {
    destroyOwnRuns();
  });

  for (const [initiator, responder, what] of [
    ["a1", "e1", "two different port-preserving NATs (A and A')"],
    ["a1", "c1", "a port-preserving NAT and a firewall without NAT (A and C)"],
    ["c1", "f1", "two different firewalls without NAT (C and C')"],
    ["b1", "a1", "the symmetric NAT B (dialling) and a port-preserving NAT (A), by birthday punching,"],
    ["c1", "b1", "a firewall (C, dialling) and the symmetric NAT B, by birthday punching,"],
  ] as const) {
    test(`hosts behind ${what} punch a direct TCP connection and move bytes both ways over it`, () => {
      const result = pair(initiator, responder);
      expect(result.problem).toBeNull();
      expect(result.tries).toHaveLength(TRIES);
      const punched = result.tries.filter((entry) => entry.ok);
      expect({ initiator, responder, punched: punched.length > 0, errors: result.tries.map((entry) => entry.error ?? "") }).toMatchObject({ punched: true });
      expect(result.responderTries.filter((entry) => entry.ok).length).toBeGreaterThan(0);
    });
  }

  test("the punch lab kills every process it started and deletes every namespace it made", () => {
    expect(pids.length).toBe(1 + 2 * 5);
    expect(pids.filter(isRunning)).toEqual([]);
    expect(namespacesAfter).toEqual([]);
  });
});
